import ArgumentParser
import AutoInterp
import AutoInterpCLIOptions
import Foundation
import Logging

/// `autointerp audit`: which of a run's metrics drop when an explanation is made too generic or too specific.
struct AuditCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "audit",
        abstract: "Metric audit: score a broader and a narrower variant of a sample of a run's explanations with every scorer it has.",
        discussion: """
            For each sampled unit, a broader (too generic) and a narrower (too specific) variant of its explanation is \
            made (by the run's LLM with prompts/audit-broader.txt and audit-narrower.txt, or by the pattern baseline for \
            a --explainer local run), stored as audit rows of the run (never in a headline) and scored like the unit. \
            Prints, per scorer, the share of units whose score drops with each variant (95% bootstrap CI) and writes \
            results/<run>/audit.json. A run explained by an LLM needs its --endpoint and --model again.
            """
    )

    @Option(help: "Run name.")
    var run: String

    @Option(help: "Folder holding runs.")
    var results = "results"

    @Option(help: "Explained units to sample (default \(MetricAudit.defaultUnits)).")
    var units = MetricAudit.defaultUnits

    @OptionGroup var llm: LLMOptions

    @Option(help: "Folder with the run's templates and audit-broader.txt / audit-narrower.txt (default ./prompts).")
    var prompts: String?

    @Option(help: "The run's sentence-embedding model folder (its --embedder), to audit the embedding scorer too.")
    var embedder: String?

    @Flag(help: "No progress bar.")
    var quiet = false

    func run() async throws {
        try await reportingErrors {
            let progress = ProgressBarObserver(enabled: !quiet)
            var request = MetricAudit.Request(
                run: run, resultsFolder: URL(fileURLWithPath: results), units: units,
                endpoint: llm.givesEndpoint ? try llm.endpointConfig() : nil)
            request.prompts = prompts.map { URL(fileURLWithPath: $0) }
            request.embedder = embedder.map { URL(fileURLWithPath: $0) }
            request.observer = progress
            let outcome = try await MetricAudit(logger: Logger(label: "autointerp.audit")).run(request)
            progress.finish()
            print(Console.render(outcome.text))
        }
    }
}
