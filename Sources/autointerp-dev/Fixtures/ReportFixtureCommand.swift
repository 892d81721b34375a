import ArgumentParser
import AutoInterp
import AutoInterpTestSupport
import Foundation

/// `autointerp-dev fixtures report`: a synthetic run database to time `autointerp report` on
/// (formerly `autointerp report --fixture-units`).
struct ReportFixtureCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "Write a synthetic run (half features, half neurons) to <results>/<run>/autointerp.sqlite.",
        discussion: "Then time the report with `autointerp report --run NAME --results DIR`."
    )

    @Option(help: "Run name; the database is <results>/<name>/autointerp.sqlite (must not exist yet).")
    var run: String

    @Option(help: "Folder holding runs.")
    var results = "results"

    @Option(help: "Units to generate: (units + 1) / 2 features and units / 2 neurons.")
    var units: Int

    func validate() throws {
        guard units > 0 else { throw ValidationError("--units must be positive") }
    }

    func run() async throws {
        try await DevConsole.reportingErrors { try makeFixture() }
    }

    /// Writes the run: contexts of 48 tokens, 10 explanation examples, 5 top and 5 random scored examples per unit.
    private func makeFixture() throws {
        let resultsURL = URL(fileURLWithPath: results)
        let url = RunLocator.databaseURL(results: resultsURL, name: run)
        guard !FileManager.default.fileExists(atPath: url.path) else {
            throw AutoInterpError.invalidInput("\(url.path) already exists (remove it or pick another --run for a fixture)")
        }
        var options = RunFixture.Options()
        options.features = (units + 1) / 2
        options.neurons = units / 2
        options.contextLength = 48
        options.explainTop = 10
        options.scoreTop = 5
        options.scoreRandom = 5
        let start = Date()
        _ = try RunFixture.create(in: resultsURL, name: run, options: options)
        DevConsole.note("fixture: \(units) units written to \(url.path) in \(String(format: "%.1f", Date().timeIntervalSince(start))) s")
    }
}
