import ArgumentParser
import Foundation

/// `--run NAME --results DIR`: which stored run a command reads (merge, batch status/cancel, audit).
struct RunLocationOptions: ParsableArguments {
    @Option(help: "Run name (the folder under --results).")
    var run: String

    @Option(help: "Folder holding runs.")
    var results = "results"

    /// The results folder as a URL.
    var resultsFolder: URL { URL(fileURLWithPath: results) }
}
