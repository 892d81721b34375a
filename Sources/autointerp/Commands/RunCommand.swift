import ArgumentParser
import AutoInterp
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
            models, simulator mode, records per call, samples, prompt files) is refused unless --force-new. \
            --stages, concurrency, limits and prices may change freely. \
            --explainer local uses the LLM-free pattern baseline (Neuron-to-Graph style) to explain and simulate: \
            no --endpoint or --model is needed, and without them the stages are explain,simulate,score.
            """
    )

    @OptionGroup var inputs: RunInputOptions
    @OptionGroup var llm: LLMOptions

    @Option(help: "Model for the simulator (default: --model).")
    var simulatorModel: String?

    @Option(help: "Model for the rubric judge (default: --model).")
    var judgeModel: String?

    @Option(help: "Stages to run, comma-separated (default explain,simulate,score,rubric; explain,simulate,score for --explainer local without --endpoint).")
    var stages: String?

    @Option(help: "Explainer and simulator: llm, or local (the LLM-free pattern baseline; the judge still needs --endpoint).")
    var explainer = "llm"

    @Option(help: "Local baseline: most context tokens a pattern keeps before the activating token.")
    var patternContext = PatternSet.Parameters().maxContext

    @Option(help: "Local baseline: share of a pattern's matches in the explanation records that must fire at least half as strongly as the token it explains.")
    var patternConsistency = PatternSet.Parameters().consistency

    @Option(help: "Simulator mode: auto (logprobs when the endpoint returns them, else json), logprobs, json.")
    var simulatorMode = "auto"

    @Option(help: "Records per simulator call (default 5: one call for the held-out top records, two for the random ones).")
    var recordsPerCall = LLMSimulator.defaultRecordsPerCall

    @Option(help: "Explanations sampled per unit; the best by Spearman is kept.")
    var explainerSamples = 1

    @Option(help: "Folder with explainer.txt, simulator-json.txt, simulator-logprobs.txt (default ./prompts).")
    var prompts: String?

    @Option(help: "Rubric file for the judge (default <prompts>/../rubrics/specificity.txt).")
    var rubric: String?

    @Option(help: "Units worked on at once (default 2 x --max-in-flight).")
    var concurrency: Int?

    @Flag(help: "No progress bar.")
    var quiet = false

    func run() async throws {
        try await reportingErrors {
            guard let mode = SimulatorMode(rawValue: simulatorMode) else {
                throw ValidationError("--simulator-mode must be auto, logprobs or json")
            }
            guard let kind = RunPipeline.ExplainerKind(rawValue: explainer) else {
                throw AutoInterpError.invalidInput("--explainer must be llm or local")
            }
            // The local baseline needs an endpoint only for the judge.
            let noEndpoint = kind == .local && llm.endpoint == nil && llm.llmConfig == nil
            // By default all stages; the library leaves out the rubric of a local run without an
            // endpoint and says so in the summary. Asking for it explicitly is an error.
            let stageSet = try PipelineStage.parse(stages ?? "explain,simulate,score,rubric")
            if noEndpoint, stages != nil, stageSet.contains(.rubric) {
                throw AutoInterpError.invalidInput("the rubric stage needs an LLM judge: pass --endpoint and --model, or leave rubric out of --stages (e.g. --stages explain,simulate,score)")
            }
            var baseline = PatternSet.Parameters()
            baseline.maxContext = patternContext
            baseline.consistency = patternConsistency
            let request = RunPipeline.Request(
                preparation: try inputs.request(), llm: noEndpoint ? LLMEndpointConfig(baseURL: "", model: "") : try llm.endpointConfig(),
                simulatorModel: simulatorModel, judgeModel: judgeModel,
                simulatorMode: mode, recordsPerCall: recordsPerCall, explainerSamples: explainerSamples, stages: stageSet,
                prompts: prompts.map { URL(fileURLWithPath: $0) }, rubric: rubric.map { URL(fileURLWithPath: $0) }, unitsInFlight: concurrency,
                showProgress: !quiet, explainer: kind, baseline: baseline)
            let bar = ProgressBar("select", total: 1, unit: "batch", enabled: !quiet)
            let summary: RunSummary
            do {
                summary = try await RunPipeline(logger: Logger(label: "autointerp.run")).run(request) { done, total in
                    bar.update(done, total: total)
                }
            } catch let error as LLMError {
                throw AutoInterpError.invalidInput(error.message)
            }
            bar.finish()
            print(summary.text)
            let (store, run) = try RunLocator.open(results: URL(fileURLWithPath: inputs.results), name: inputs.name)
            let report = try ReportWriter.write(store: store, run: run)
            print("report: \(report.html.path) and \(report.markdown.lastPathComponent)")
            try exitWithOutcome(of: summary)
        }
    }
}
