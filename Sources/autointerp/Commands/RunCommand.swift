import ArgumentParser
import AutoInterp
import AutoInterpCLIOptions
import AutoInterpLLM
import Foundation
import Logging

/// `autointerp run`: select examples, then explain, simulate, score and rate every unit with an LLM.
struct RunCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Explain, simulate, score and rubric-rate units with an LLM (creates or resumes the run).",
        discussion: """
            Running the same command again resumes an interrupted run (even after kill -9): finished units are not \
            redone and cached LLM answers are not re-sent. A changed config (inputs, units, selection, endpoint, \
            models, simulator mode, records per call, samples, prompt files, --controls) is refused unless --force-new. \
            --stages, concurrency, limits and prices may change freely. \
            --explainer local uses the LLM-free pattern baseline (Neuron-to-Graph style) to explain and simulate: \
            no --endpoint or --model is needed, and without them the stages are explain,simulate,score,detection,fuzzing \
            (the baseline answers detection and fuzzing itself).
            """
    )

    @OptionGroup var inputs: RunInputOptions
    @OptionGroup var llm: LLMOptions

    @Option(help: "Model for the simulator (default: --model).")
    var simulatorModel: String?

    @Option(help: "Model for the rubric judge (default: --model).")
    var judgeModel: String?

    @Option(help: "Stages to run, comma-separated (default \(StageCatalog.builtIn.defaultNames.map(\.rawValue).joined(separator: ",")); without rubric for --explainer local without --endpoint; opt-in: \(StageCatalog.builtIn.descriptors.filter { !$0.inDefaults }.map(\.name.rawValue).joined(separator: ","))).")
    var stages: String?

    @Option(help: "Explainer and simulator: llm, or local (the LLM-free pattern baseline; the judge still needs --endpoint).")
    var explainer = ExplainerKind.llm

    @Option(help: "Local baseline: most context tokens a pattern keeps before the activating token.")
    var patternContext = PatternSet.Parameters().maxContext

    @Option(help: "Local baseline: share of a pattern's matches in the explanation records that must fire at least half as strongly as the token it explains.")
    var patternConsistency = PatternSet.Parameters().consistency

    @Option(help: "Simulator mode: sparse (default: only the tokens expected to fire), logprobs (Bills et al.'s expected value; the answer copies every token), json (every token copied back as JSON), auto (logprobs when the endpoint returns them, else json).")
    var simulatorMode = SimulatorMode.sparse

    @Option(help: "Records per simulator call (default \(LLMSimulator.defaultRecordsPerCall): one call for the held-out top records, one for the random ones; records still unparsed after a retry are asked again in halves).")
    var recordsPerCall = LLMSimulator.defaultRecordsPerCall

    @Option(help: "Examples per detection / fuzzing call of the LLM scorer (default \(LLMClassifier.defaultBatchSize)).")
    var classifyPerCall = LLMClassifier.defaultBatchSize

    @Option(
        help: """
            Explanations sampled per unit (best-of-K): each simulated on the validation half of the held-out records, the best \
            by Spearman kept and reported on the test half; the others stay as candidates. Asked in one call (n) where the \
            endpoint gives several choices.
            """)
    var explainerSamples = 1

    @Option(
        help: """
            The intruder scorer's activation-decile groups, one prompt each: a count that splits deciles 1-10 evenly, or \
            disjoint ranges (default 1-3,4-6,7-10).
            """)
    var intruderGroups: String?

    @Option(help: "Folder with explainer.txt, simulator-json.txt, simulator-logprobs.txt (default ./prompts).")
    var prompts: String?

    @Option(help: "Rubric file for the judge (default <prompts>/../rubrics/specificity.txt).")
    var rubric: String?

    @Option(
        help: """
            Units the control pass (the random-explanation floor) scores: all, none, or at most N explained units per kind, \
            a seeded sample (default \(ControlSample.defaultPerKind)).
            """)
    var controls = ControlSample.default.description

    @Option(help: "Sentence-embedding model folder for the embedding scorer (a sentence-transformers BERT folder such as all-MiniLM-L6-v2, which autointerp demo fetches); without it the embedding stage is left out.")
    var embedder: String?

    @Option(help: "Units worked on at once (default 2 x --max-in-flight).")
    var concurrency: Int?

    @Option(help: "Send the requests as batches in waves instead of in real time: openai (the files + batches API at --endpoint; waits and polls, resumable), anthropic (Message Batches at --endpoint; no logprobs), file or file:DIR (write OpenAI-batch JSONL into DIR, default results/<run>/batches, and read back <input>.output.jsonl from whatever ran it; rerun to ingest).")
    var batch: String?

    @Option(help: "With --batch: how the last attempt of a failed batch line goes: batch (default) or realtime.")
    var batchRetry = "batch"

    @Option(help: "With --batch: USD per million prompt tokens of batch lines (default: half of --price-input).")
    var priceBatchInput: NonNegativeDouble?

    @Option(help: "With --batch: USD per million completion tokens of batch lines (default: half of --price-output).")
    var priceBatchOutput: NonNegativeDouble?

    @Option(help: "With --batch: USD the run may spend; a wave whose lines (at batch prices, completions at max_tokens) would pass it is not submitted.")
    var maxCost: NonNegativeDouble?

    @Option(help: "With --batch openai or anthropic: seconds between two polls of an open batch (0-3600, default 30).")
    var batchPoll: NonNegativeDouble?

    @Flag(help: "No progress bar.")
    var quiet = false

    func run() async throws {
        try await reportingErrors {
            // The local baseline runs without an endpoint; the library decides which stages that leaves.
            let noEndpoint = explainer == .local && !llm.givesEndpoint
            let progress = ProgressBarObserver(enabled: !quiet)
            var baseline = PatternSet.Parameters()
            baseline.maxContext = patternContext
            baseline.consistency = patternConsistency
            let controls = try ControlSample(parsing: controls)
            var request = RunRequest(
                setup: try inputs.request(), endpoint: noEndpoint ? nil : try llm.endpointConfig(),
                simulatorModel: simulatorModel, judgeModel: judgeModel,
                simulatorMode: simulatorMode, recordsPerCall: recordsPerCall, explainerSamples: explainerSamples,
                stages: try stages.map { try StageCatalog.builtIn.parse($0) },
                prompts: prompts.map { URL(fileURLWithPath: $0) }, rubric: rubric.map { URL(fileURLWithPath: $0) }, unitsInFlight: concurrency,
                observer: progress, explainer: explainer, baseline: baseline, batch: try batchSettings())
            request.controls = controls
            request.classifyPerCall = classifyPerCall
            if let intruderGroups { request.intruderGroups = try IntruderGroups(parsing: intruderGroups) }
            request.embedder = embedder.map { URL(fileURLWithPath: $0) }
            let result = try await RunCoordinator(logger: Logger(label: "autointerp.run")).run(request)
            progress.finish()
            let summary = result.summary
            print(Console.render(summary.text))
            let report = try ReportWriter.write(store: result.store, run: result.run, options: result.reportOptions)
            print("report: \(report.html.path) and \(report.markdown.lastPathComponent)")
            try exitWithOutcome(of: summary)
        }
    }

    /// `--batch` and `--batch-retry` as the library's settings (nil without `--batch`).
    private func batchSettings() throws -> BatchSettings? {
        guard let batch else {
            guard batchRetry == "batch" else { throw AutoInterpError.invalidOption(.batchRetry, "applies with --batch (add --batch file)") }
            guard priceBatchInput == nil, priceBatchOutput == nil, maxCost == nil, batchPoll == nil else {
                throw AutoInterpError.invalidOption(
                    .batch, "--price-batch-input, --price-batch-output, --max-cost and --batch-poll apply to batch runs: add --batch")
            }
            return nil
        }
        guard batchRetry == "batch" || batchRetry == "realtime" else {
            throw AutoInterpError.invalidOption(.batchRetry, "'\(batchRetry)' is not batch or realtime")
        }
        var settings = BatchSettings(backend: try BatchSettings.Backend(parsing: batch), retryRealtime: batchRetry == "realtime")
        settings.priceInput = priceBatchInput?.value
        settings.priceOutput = priceBatchOutput?.value
        settings.maxCost = maxCost?.value
        if let batchPoll { settings.pollInterval = batchPoll.value }
        settings.stepHook = try BatchSettings.pauseHook(environment: ProcessInfo.processInfo.environment)
        if let page = try BatchSettings.ingestPage(environment: ProcessInfo.processInfo.environment) { settings.ingestPage = page }
        return settings
    }
}
