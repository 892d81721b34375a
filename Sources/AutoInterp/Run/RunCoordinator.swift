import AutoInterpLLM
import Foundation
public import Logging

/// `autointerp run`: create (or resume) a run, then run every unit's stages, then summarise.
///
/// One path for every run: the ``StagePlan`` decides the stages and the endpoint policy,
/// ``RunSetup`` selects and stores the units, ``UnitScheduler`` runs each unit's stages
/// (``UnitStageRunner``), and ``RunSummary`` counts what the store holds. All LLM calls go
/// through one ``LLMClient`` whose response store is the run database, so running the same
/// command again finishes an interrupted run: completed units are not redone, cached calls are
/// not re-sent and no row is duplicated. A changed config is refused unless `forceNew`.
public struct RunCoordinator {
    public var logger: Logger

    public init(logger: Logger = Logger(label: "autointerp.run")) {
        self.logger = logger
    }

    /// Runs the request and returns the summary (also written to `<results>/<name>/summary.json`)
    /// with the open store.
    ///
    /// - Parameter selectProgress: called with (steps done, total) while examples are selected.
    /// - Throws: `AutoInterpError` for bad inputs or a changed config; `LLMError` when the
    ///   endpoint is unusable before any unit starts. A fatal error during the run is reported in
    ///   the summary's `stoppedEarly` instead.
    public func run(_ request: RunRequest, selectProgress: ((Int, Int) -> Void)? = nil) async throws -> RunResult {
        let plan = try StagePlan(request)
        var setup = request.setup
        setup.pipeline = plan.settings
        let prepared = try RunSetup(logger: logger).prepare(setup, progress: selectProgress)
        let store = prepared.store
        let client = try request.endpoint.map { try LLMClient(config: $0, store: store, logger: logger) }

        var stoppedEarly: String?
        var reports: [UnitOutcome] = []
        var mode: String?
        var controls: ControlPass.Outcome?
        do {
            let stages = try await stages(plan, request: request, client: client, store: store, run: prepared.run, mode: &mode)
            let runner = UnitStageRunner(store: store, stages: stages, requested: plan.requested, logger: logger)
            let defaultInFlight = client.map { 2 * $0.config.maxInFlight } ?? 4
            var usage: (@Sendable () -> LLMUsage)?
            var observe: (@Sendable (@escaping @Sendable (LLMUsage) -> Void) -> Void)?
            if let client {
                usage = { client.usage }
                observe = { client.onCallFinished($0) }
            }
            let scheduler = UnitScheduler(
                runner: runner, unitsInFlight: request.unitsInFlight ?? defaultInFlight, usage: usage, observeCalls: observe,
                showProgress: request.showProgress, logger: logger)
            if request.explainer == .local { logger.info("run \(prepared.run.name) with the baseline \(PatternExplainer.name)") }
            (reports, stoppedEarly) = try await scheduler.run(prepared.run)
            // The control pass: the same scoring stages on another unit's explanation.
            let controlStages = ControlPass.stages(of: stages, requested: plan.requested)
            // A shard leaves the controls to the merged run: donors are drawn over every unit.
            if stoppedEarly == nil, !controlStages.isEmpty, request.setup.shard == nil {
                let controlRunner = UnitStageRunner(store: store, stages: stages, requested: controlStages, logger: logger)
                let controlScheduler = UnitScheduler(
                    runner: controlRunner, unitsInFlight: request.unitsInFlight ?? defaultInFlight, usage: usage,
                    observeCalls: observe, showProgress: request.showProgress, logger: logger)
                let pass = ControlPass(store: store, scheduler: controlScheduler, seed: setup.selection.seed, logger: logger)
                let outcome = try await pass.run(prepared.run)
                controls = outcome
                stoppedEarly = outcome.stoppedEarly
            }
        } catch let error as LLMError where error.isFatalForRun {
            stoppedEarly = error.message
        }
        var summary = try RunSummary.collect(
            store: store, run: prepared.run, reports: reports, usage: client?.usage, stoppedEarly: stoppedEarly, simulatorMode: mode,
            controls: controls)
        summary.remarks = plan.remarks
        if let shard = request.setup.shard {
            summary.remarks.append("shard \(shard): no control pass here; autointerp merge --run \(prepared.run.name), then run without --shard")
        }
        try store.setStatus(runID: prepared.run.id, stoppedEarly != nil ? "stopped" : summary.outcome == .complete ? "done" : "incomplete")
        try summary.write(to: URL(fileURLWithPath: store.path).deletingLastPathComponent().appendingPathComponent("summary.json"))
        return RunResult(summary: summary, store: store, run: try store.run(id: prepared.run.id) ?? prepared.run)
    }

    /// The stage list: LLM explainer, simulator and judge (capabilities probed once and pinned
    /// in the run config), or the pattern baseline.
    private func stages(
        _ plan: StagePlan, request: RunRequest, client: LLMClient?, store: RunStore, run: RunInfo, mode: inout String?
    ) async throws -> [any UnitStage] {
        let settings = plan.settings
        let pinned = try await pin(plan, request: request, client: client, store: store, run: run)
        let judge: any RubricJudge = if let client, let prompts = plan.prompts {
            LLMRubricJudge(
                client: client, template: prompts.rubric, model: settings.judgeModel,
                structuredOutput: pinned?.structuredOutput ?? .jsonObject)
        } else {
            NoJudge()
        }
        guard request.explainer == .llm, let client, let prompts = plan.prompts, let pinned else {
            mode = PatternSimulator.mode
            return plan.stages(
                explainer: PatternExplainer(parameters: request.baseline), simulator: nil, judge: judge, extra: request.extraStages)
        }
        mode = pinned.simulatorMode.rawValue
        let explainer = LLMExplainer(
            client: client, template: prompts.explainer, model: settings.model, structuredOutput: pinned.structuredOutput)
        let simulator = LLMSimulator(
            client: client, template: prompts.simulator(for: pinned.simulatorMode), mode: pinned.simulatorMode,
            model: settings.simulatorModel, recordsPerCall: settings.recordsPerCall, topLogprobs: max(5, pinned.topLogprobs),
            structuredOutput: pinned.structuredOutput)
        // The detection and fuzzing scorers ask the simulator's model; logprobs (for AUPRC) when
        // the simulator found them, else probed once, when the first classification call is made.
        let logprobs = pinned.simulatorMode == .logprobs
            ? LogprobSupport(fixed: LogprobSupport.topLogprobs)
            : LogprobSupport(probing: client, model: settings.simulatorModel)
        let classifier: @Sendable (StoredClassification.Scorer) -> any UnitClassifier = { scorer in
            LLMClassifier(
                client: client, template: scorer == .fuzzing ? prompts.fuzzing : prompts.detection, model: settings.simulatorModel,
                structuredOutput: pinned.structuredOutput, logprobs: logprobs)
        }
        return plan.stages(explainer: explainer, simulator: simulator, judge: judge, classifier: classifier, extra: request.extraStages)
    }

    /// The simulator mode and structured-output level: probed at the run's first start and
    /// stored in its config; a resumed run checks the endpoint still serves them, or refuses.
    private func pin(
        _ plan: StagePlan, request: RunRequest, client: LLMClient?, store: RunStore, run: RunInfo
    ) async throws -> PinnedCapabilities? {
        guard let client else { return nil }
        var config = try RunConfig.decode(run.configJSON)
        let stored = config.pipeline?.pinned
        let simulating = request.explainer == .llm && plan.requested.contains(.simulate)
        let wantedMode = stored?.simulatorMode ?? request.simulatorMode
        let decision = simulating || wantedMode == .logprobs
            ? try await SimulatorModeProbe.resolve(wantedMode, client: client, model: plan.settings.simulatorModel)
            : SimulatorModeProbe.Decision(
                mode: wantedMode == .auto ? .json : wantedMode, topLogprobs: LLMSimulator.defaultTopLogprobs, reason: "not simulating")
        let structured = try await StructuredOutputProbe.probe(client)
        logger.info("simulator mode \(decision.mode.rawValue): \(decision.reason); structured outputs \(structured)")
        let found = PinnedCapabilities(simulatorMode: decision.mode, topLogprobs: decision.topLogprobs, structuredOutput: structured.level)
        // Only a probe that got its answers is a finding; after a failure that may pass (timeout,
        // dropped connection, 5xx) the run goes on with what it found, or what it pinned before,
        // and probes again next time.
        let certain = decision.certain && structured.certain
        if !certain { logger.warning("endpoint capabilities not pinned: a probe failed (\(structured.reason)); probing again on the next run") }
        if let stored {
            guard certain else { return stored }
            if stored.simulatorMode != found.simulatorMode {
                throw AutoInterpError.invalidInput(
                    "run '\(run.name)' simulates in \(stored.simulatorMode.rawValue) mode, but \(client.config.endpointName) now offers \(found.simulatorMode.rawValue) (\(decision.reason)); use an endpoint that serves \(stored.simulatorMode.rawValue), or --force-new to start over")
            }
            let order = StructuredOutputLevel.allCases  // jsonSchema, jsonObject, none: best first
            if order.firstIndex(of: found.structuredOutput)! > order.firstIndex(of: stored.structuredOutput)! {
                throw AutoInterpError.invalidInput(
                    "run '\(run.name)' was started with \(stored.structuredOutput) answers, but \(client.config.endpointName) now offers only \(found.structuredOutput) (\(structured.reason)); use an endpoint that serves \(stored.structuredOutput), or --force-new to start over")
            }
            if config.prices != Self.prices(client.config) {
                config.prices = Self.prices(client.config)
                try store.updateConfig(runID: run.id, configJSON: try config.canonicalJSON())
            }
            return stored
        }
        config.prices = Self.prices(client.config)
        if certain { config.pipeline?.pinned = found }
        try store.updateConfig(runID: run.id, configJSON: try config.canonicalJSON())
        return found
    }

    /// The endpoint's prices as stored in the run config (nil when none was given).
    static func prices(_ config: LLMEndpointConfig) -> StoredPrices? {
        guard config.priceInputPerMillion != nil || config.priceOutputPerMillion != nil else { return nil }
        return StoredPrices(prompt: config.priceInputPerMillion ?? 0, completion: config.priceOutputPerMillion ?? 0)
    }
}
