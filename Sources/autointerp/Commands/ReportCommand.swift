import ArgumentParser
import AutoInterp
import AutoInterpCLIOptions
import Foundation

/// Options naming one run: `--run NAME` and `--results DIR`.
struct RunNameOptions: ParsableArguments {
    @Option(help: "Run name; the database is <results>/<name>/autointerp.sqlite.")
    var run: String

    @Option(help: "Folder holding runs.")
    var results = "results"

    func open() throws -> (store: RunStore, run: RunInfo) {
        try RunLocator.open(results: URL(fileURLWithPath: results), name: run)
    }
}

struct ReportCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "Write results/<run>/report.html (self-contained, inline SVG) and report.md for a run.",
        discussion: """
            A unit's score is the Spearman correlation (subset all) of its latest explanation by the report's \
            explainer (default: the explainer with the most explanations). Undefined scores are counted apart.
            """
    )

    @OptionGroup var runOptions: RunNameOptions

    @Option(help: "Explainer whose explanations are reported (default: the one with the most explanations).")
    var explainer: String?

    @Option(help: "Top examples per unit card.")
    var examples: NonNegativeInt = 5

    @Option(help: "Tokens shown per example, around its peak.")
    var window: PositiveInt = 32

    @Option(help: "Folder to write into (default: the run's folder).")
    var output: String?

    func run() async throws {
        try await reportingErrors {
            let (store, run) = try runOptions.open()
            var options = ReportOptions()
            options.explainer = explainer
            options.examplesPerUnit = examples.value
            options.exampleWindow = window.value
            let start = Date()
            let written = try ReportWriter.write(
                store: store, run: run, folder: output.map { URL(fileURLWithPath: $0) }, options: options)
            let seconds = Date().timeIntervalSince(start)
            print(
                "wrote \(written.html.path) (\(formatBytes(written.htmlBytes)), \(written.units) units) and "
                    + "\(written.markdown.lastPathComponent) in \(String(format: "%.2f", seconds)) s")
        }
    }
}
