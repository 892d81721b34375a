import AutoInterpLLM
import Foundation
import Logging

/// `autointerp run`: select (or resume) a run, then explain, simulate, score and rate every unit with an LLM.
///
/// All calls go through one ``LLMClient`` whose response store is the run database, so running
/// the same command again finishes an interrupted run from the cache: completed units are not
/// redone, cached calls are not re-sent and no row is duplicated. A changed config (see
/// ``PipelineConfig``) is refused unless `forceNew`.
///
/// With ``ExplainerKind/local`` the LLM-free baseline (``PatternExplainer``,
/// ``PatternSimulator``) explains and simulates instead; no endpoint is needed unless the
/// rubric stage is run (the judge is an LLM).
public struct RunPipeline {
    /// Which explainer and simulator a run uses.
    public enum ExplainerKind: String, Sendable, Codable, CaseIterable {
        /// ``LLMExplainer`` and ``LLMSimulator``.
        case llm
        /// The LLM-free pattern baseline: ``PatternExplainer`` and ``PatternSimulator``.
        case local
    }

    /// Everything `autointerp run` takes.
    public struct Request: Sendable {
        /// Inputs, units, selection and the run name (its `pipeline` is filled in by ``RunPipeline``).
        public var preparation: RunPreparation.Request
        /// The endpoint; its model is the explainer's.
        public var llm: LLMEndpointConfig
        public var simulatorModel: String?
        public var judgeModel: String?
        public var simulatorMode: SimulatorMode
        public var recordsPerCall: Int
        public var explainerSamples: Int
        public var stages: Set<PipelineStage>
        /// The prompts folder and rubric file; nil finds the defaults (``PromptSet/locate(prompts:rubric:)``).
        public var prompts: URL?
        public var rubric: URL?
        /// Units worked on at once; nil = 2 × the client's max in flight.
        public var unitsInFlight: Int?
        public var showProgress: Bool
        /// The explainer and simulator; with `.local`, `llm` may have an empty `baseURL` (no
        /// endpoint: the rubric stage is then left out).
        public var explainer: ExplainerKind
        /// The local baseline's settings (used with `.local`, stored in the run config).
        public var baseline: PatternSet.Parameters

        public init(
            preparation: RunPreparation.Request, llm: LLMEndpointConfig, simulatorModel: String? = nil, judgeModel: String? = nil,
            simulatorMode: SimulatorMode = .auto, recordsPerCall: Int = LLMSimulator.defaultRecordsPerCall, explainerSamples: Int = 1,
            stages: Set<PipelineStage> = Set(PipelineStage.allCases), prompts: URL? = nil, rubric: URL? = nil, unitsInFlight: Int? = nil,
            showProgress: Bool = false, explainer: ExplainerKind = .llm, baseline: PatternSet.Parameters = PatternSet.Parameters()
        ) {
            self.preparation = preparation
            self.llm = llm
            self.simulatorModel = simulatorModel
            self.judgeModel = judgeModel
            self.simulatorMode = simulatorMode
            self.recordsPerCall = recordsPerCall
            self.explainerSamples = explainerSamples
            self.stages = stages
            self.prompts = prompts
            self.rubric = rubric
            self.unitsInFlight = unitsInFlight
            self.showProgress = showProgress
            self.explainer = explainer
            self.baseline = baseline
        }
    }

    public var logger: Logger

    public init(logger: Logger = Logger(label: "autointerp.run")) {
        self.logger = logger
    }

    /// Runs the pipeline and returns the summary (also written to `<results>/<name>/summary.json`).
    ///
    /// - Parameter selectProgress: called with (steps done, total) while examples are selected.
    /// - Throws: `AutoInterpError` for bad inputs or a changed config; `LLMError` when the
    ///   endpoint is unusable before any unit starts. A fatal error during the run is reported in
    ///   the summary's `stoppedEarly` instead.
    public func run(_ request: Request, selectProgress: ((Int, Int) -> Void)? = nil) async throws -> RunSummary {
        try request.validate()
        if request.explainer == .local { return try await runLocal(request, selectProgress: selectProgress) }
        let prompts = try PromptSet.locate(prompts: request.prompts, rubric: request.rubric)
        try request.llm.validate()
        let settings = PipelineConfig(
            endpoint: request.llm.endpointName, model: request.llm.model, simulatorModel: request.simulatorModel,
            judgeModel: request.judgeModel, simulatorMode: request.simulatorMode, recordsPerCall: request.recordsPerCall,
            explainerSamples: request.explainerSamples, prompts: prompts.references)
        var preparation = request.preparation
        preparation.pipeline = settings
        let prepared = try RunPreparation(logger: logger).prepare(preparation, progress: selectProgress)
        let store = prepared.store

        let client = try LLMClient(config: request.llm, store: store, logger: logger)
        var stoppedEarly: String?
        var reports: [UnitOutcome] = []
        var mode: String?
        do {
            let decision = request.stages.contains(.simulate)
                ? try await SimulatorModeProbe.resolve(request.simulatorMode, client: client, model: settings.simulatorModel)
                : SimulatorModeProbe.Decision(mode: request.simulatorMode == .logprobs ? .logprobs : .json, topLogprobs: LLMSimulator.defaultTopLogprobs, reason: "not simulating")
            mode = decision.mode.rawValue
            logger.info("simulator mode \(decision.mode.rawValue): \(decision.reason)")
            let explainer = LLMExplainer(client: client, template: prompts.explainer, model: settings.model)
            let simulator = LLMSimulator(
                client: client, template: decision.mode == .json ? prompts.simulatorJSON : prompts.simulatorLogprobs, mode: decision.mode,
                model: settings.simulatorModel, recordsPerCall: settings.recordsPerCall, topLogprobs: max(5, decision.topLogprobs))
            let judge = LLMRubricJudge(client: client, template: prompts.rubric, model: settings.judgeModel)
            let pipeline = UnitPipeline(
                store: store, explainer: explainer, simulator: simulator, judge: judge, stages: request.stages,
                samples: settings.explainerSamples, logger: logger)
            let runner = PipelineRunner(
                pipeline: pipeline, unitsInFlight: request.unitsInFlight ?? 2 * request.llm.maxInFlight, usage: { client.usage },
                showProgress: request.showProgress, logger: logger)
            (reports, stoppedEarly) = try await runner.run(prepared.run)
        } catch let error as LLMError where error.isFatalForRun {
            stoppedEarly = error.message
        }
        let summary = try RunSummary.collect(
            store: store, run: prepared.run, reports: reports, usage: client.usage, stoppedEarly: stoppedEarly, simulatorMode: mode)
        try store.setStatus(runID: prepared.run.id, stoppedEarly != nil ? "stopped" : summary.outcome == .complete ? "done" : "incomplete")
        try summary.write(to: URL(fileURLWithPath: store.path).deletingLastPathComponent().appendingPathComponent("summary.json"))
        return summary
    }

    // MARK: - Local baseline

    /// The `.local` run: select, then explain, simulate and score with the pattern baseline
    /// (``BaselineRunner``); rate with an LLM judge only when an endpoint is given.
    private func runLocal(_ request: Request, selectProgress: ((Int, Int) -> Void)?) async throws -> RunSummary {
        guard request.explainerSamples == 1 else {
            throw AutoInterpError.invalidInput("--explainer-samples applies to the LLM explainer; the local baseline is deterministic (drop the option)")
        }
        try request.baseline.validate()
        let hasEndpoint = !request.llm.baseURL.isEmpty
        var stages = request.stages
        var remarks: [String] = []
        if !hasEndpoint, stages.contains(.rubric) {
            stages.remove(.rubric)
            remarks.append("rubric stage skipped: it needs an LLM judge (pass --endpoint and --model to rate explanations)")
        }
        guard !stages.isEmpty else {
            throw AutoInterpError.invalidInput("no stage left to run: the rubric stage needs --endpoint and --model (or use --stages explain,simulate,score)")
        }
        var prompts: [String: PromptFileReference] = [:]
        var rubric: PromptTemplate?
        if hasEndpoint {
            try request.llm.validate()
            let set = try PromptSet.locate(prompts: request.prompts, rubric: request.rubric)
            rubric = set.rubric
            prompts["rubric"] = set.references["rubric"]
        }
        // Simulator mode and records per call do not apply: stored at their defaults so they never count as a change.
        let settings = PipelineConfig(
            explainer: PatternExplainer.name, endpoint: hasEndpoint ? request.llm.endpointName : "none", model: PatternExplainer.model,
            simulatorModel: PatternExplainer.model, judgeModel: hasEndpoint ? request.judgeModel ?? request.llm.model : "none",
            prompts: prompts, baseline: request.baseline)
        var preparation = request.preparation
        preparation.pipeline = settings
        let prepared = try RunPreparation(logger: logger).prepare(preparation, progress: selectProgress)
        let store = prepared.store

        let client = hasEndpoint ? try LLMClient(config: request.llm, store: store, logger: logger) : nil
        let judge: any RubricJudge = if let client, let rubric {
            LLMRubricJudge(client: client, template: rubric, model: settings.judgeModel)
        } else {
            NoJudge()
        }
        var usage: (@Sendable () -> LLMUsage)?
        if let client { usage = { client.usage } }
        let runner = BaselineRunner(
            store: store, explainer: PatternExplainer(parameters: request.baseline), judge: judge, stages: stages,
            unitsInFlight: request.unitsInFlight ?? (client == nil ? 4 : 2 * request.llm.maxInFlight), usage: usage,
            showProgress: request.showProgress, logger: logger)
        var stoppedEarly: String?
        var reports: [UnitOutcome] = []
        do {
            (reports, stoppedEarly) = try await runner.run(prepared.run)
        } catch let error as LLMError where error.isFatalForRun {
            stoppedEarly = error.message
        }
        var summary = try RunSummary.collect(
            store: store, run: prepared.run, reports: reports, usage: client?.usage, stoppedEarly: stoppedEarly,
            simulatorMode: PatternSimulator.mode)
        summary.remarks = remarks
        try store.setStatus(runID: prepared.run.id, stoppedEarly != nil ? "stopped" : summary.outcome == .complete ? "done" : "incomplete")
        try summary.write(to: URL(fileURLWithPath: store.path).deletingLastPathComponent().appendingPathComponent("summary.json"))
        return summary
    }
}
