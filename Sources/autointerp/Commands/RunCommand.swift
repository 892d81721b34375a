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
            --stages, concurrency, limits and prices may change freely.
            """
    )

    @OptionGroup var inputs: RunInputOptions
    @OptionGroup var llm: LLMOptions

    @Option(help: "Model for the simulator (default: --model).")
    var simulatorModel: String?

    @Option(help: "Model for the rubric judge (default: --model).")
    var judgeModel: String?

    @Option(help: "Stages to run, comma-separated: explain,simulate,score,rubric.")
    var stages = "explain,simulate,score,rubric"

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
            let request = RunPipeline.Request(
                preparation: try inputs.request(), llm: try llm.endpointConfig(), simulatorModel: simulatorModel, judgeModel: judgeModel,
                simulatorMode: mode, recordsPerCall: recordsPerCall, explainerSamples: explainerSamples, stages: try PipelineStage.parse(stages),
                prompts: prompts.map { URL(fileURLWithPath: $0) }, rubric: rubric.map { URL(fileURLWithPath: $0) }, unitsInFlight: concurrency,
                showProgress: !quiet)
            var bar: ProgressBar?
            let summary: RunSummary
            do {
                summary = try await RunPipeline(logger: Logger(label: "autointerp.run")).run(request) { done, total in
                    if bar == nil { bar = ProgressBar("select", total: total, unit: "batch", enabled: !quiet) }
                    bar?.update(done)
                }
            } catch let error as LLMError {
                throw AutoInterpError.invalidInput(error.message)
            }
            bar?.finish()
            print(summary.text)
            let (store, run) = try RunLocator.open(results: URL(fileURLWithPath: inputs.results), name: inputs.name)
            let report = try ReportWriter.write(store: store, run: run)
            print("report: \(report.html.path) and \(report.markdown.lastPathComponent)")
            if let reason = summary.stoppedEarly {
                note("autointerp: error: the run stopped early: \(reason)")
                throw ExitCode.failure
            }
        }
    }
}
