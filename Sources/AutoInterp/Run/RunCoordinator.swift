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

    public init(logger: Logger) {
        self.logger = logger
    }

    /// Runs the request and returns the summary (also written to `<results>/<name>/summary.json`)
    /// with the open store. Progress goes to ``RunRequest/observer``.
    ///
    /// - Throws: `AutoInterpError` for bad inputs or a changed config; `LLMError` when the
    ///   endpoint is unusable before any unit starts. A fatal error during the run is reported in
    ///   the summary's `stoppedEarly` instead.
    public func run(_ request: RunRequest) async throws -> RunResult {
        let plan = try StagePlan(request)
        var setup = request.setup
        setup.pipeline = plan.settings
        let observer = request.observer
        let prepared = try RunSetup(logger: logger).prepare(setup, progress: observer.map { o in { o.selecting(done: $0, total: $1) } })
        let store = prepared.store
        let client = try request.endpoint.map { try LLMClient(config: $0, store: store, logger: logger) }
        if let client, let observer { client.onCallFinished { observer.callFinished($0) } }
        var prices = client.flatMap { Self.prices($0.config) }
        if let batch = request.batch {
            if prices == nil, batch.priceInput != nil || batch.priceOutput != nil || batch.maxCost != nil {
                throw AutoInterpError.invalidOption(
                    .batch, "batch prices and \(Setting.maxCost) need the real-time prices too: pass \(Setting.priceInput) and \(Setting.priceOutput)")
            }
            prices?.batchPrompt = batch.priceInput
            prices?.batchCompletion = batch.priceOutput
        }
        try store.setPrices(runID: prepared.run.id, prices)

        var stoppedEarly: String?
        var reports: [UnitOutcome] = []
        var mode: String?
        var controls: ControlPass.Outcome?
        var idle = false
        do {
            // Every unit's progress, loaded once: for the idle check and for the scheduler.
            let units = try store.progress(runID: prepared.run.id)
            let stages = try await stages(
                plan, request: request, client: client, store: store, run: prepared.run, units: units, mode: &mode, idle: &idle)
            let unitsInFlight = request.unitsInFlight ?? client.map { 2 * $0.config.maxInFlight } ?? 4
            if request.explainer == .local { logger.info("run \(prepared.run.name) with the baseline \(PatternExplainer.name)") }
            if var batch = request.batch, let client, !idle {
                if batch.backend == .anthropic, batch.limits == .openAI { batch.limits = .anthropic }
                let waves = BatchWaves(
                    store: store, settings: batch, directory: BatchWaves.directory(for: batch, store: store),
                    endpoint: client.config.endpointName, runName: prepared.run.name, logger: logger,
                    api: batch.backend == .openAI ? OpenAIBatchAPI(config: client.config) : nil,
                    anthropic: batch.backend == .anthropic ? AnthropicBatchAPI(config: client.config) : nil)
                let pass = WavePass(
                    store: store, stages: stages, requested: plan.requested, unitsInFlight: unitsInFlight, observer: observer,
                    seed: setup.selection.seed, controls: request.setup.shard == nil && request.controls != .none,
                    sample: request.controls, logger: logger)
                (reports, controls, stoppedEarly) = try await runWaves(waves, pass: pass, client: client, run: prepared.run, units: units)
            } else {
                let runner = UnitStageRunner(store: store, stages: stages, requested: plan.requested, logger: logger)
                let scheduler = UnitScheduler(runner: runner, unitsInFlight: unitsInFlight, observer: observer, logger: logger)
                (reports, stoppedEarly) = try await scheduler.run(prepared.run, units: units)
                // The control pass: the same scoring stages on another unit's explanation.
                let controlStages = ControlPass.stages(of: stages, requested: plan.requested)
                // A shard leaves the controls to the merged run: donors are drawn over every unit.
                if stoppedEarly == nil, !controlStages.isEmpty, request.setup.shard == nil, request.controls != .none {
                    let controlRunner = UnitStageRunner(store: store, stages: stages, requested: controlStages, logger: logger)
                    let controlScheduler = UnitScheduler(
                        runner: controlRunner, unitsInFlight: unitsInFlight, observer: observer, logger: logger)
                    let pass = ControlPass(
                        store: store, scheduler: controlScheduler, seed: setup.selection.seed, sample: request.controls, logger: logger)
                    let outcome = try await pass.run(prepared.run)
                    controls = outcome
                    stoppedEarly = outcome.stoppedEarly
                }
            }
        } catch let error as LLMError where error.isFatalForRun {
            stoppedEarly = error.message
        }
        var summary = try RunSummary.collect(
            store: store, run: prepared.run, reports: reports, usage: client?.usage, stoppedEarly: stoppedEarly, simulatorMode: mode,
            controls: controls, scorers: plan.catalog.scorers)
        summary.remarks = plan.remarks
        if idle { summary.remarks.append("nothing left to ask the endpoint: every unit is complete or used its attempts (no request sent)") }
        if request.controls == .none, request.setup.shard == nil {
            summary.remarks.append("no control pass (controls none): the scorers have no random-explanation floor")
        }
        if let shard = request.setup.shard {
            summary.remarks.append("shard \(shard): no control pass here; autointerp merge \(Setting.run) \(prepared.run.name), then run without \(Setting.shard)")
        }
        try store.setStatus(runID: prepared.run.id, stoppedEarly != nil ? .stopped : summary.outcome == .complete ? .done : .incomplete)
        try summary.write(to: URL(fileURLWithPath: store.path).deletingLastPathComponent().appendingPathComponent("summary.json"))
        return RunResult(summary: summary, store: store, run: try store.run(id: prepared.run.id) ?? prepared.run, catalog: plan.catalog)
    }

    /// The stage list, built by the catalogue from the run's workers: the LLM explainer,
    /// simulator, judge and classifiers (capabilities probed once and pinned in the run state),
    /// or the pattern baseline's.
    ///
    /// A rerun with nothing left to ask (``isIdle(_:units:plan:request:store:run:)``) sends no probe:
    /// its stages are built from the pinned capabilities and `idle` is set.
    private func stages(
        _ plan: StagePlan, request: RunRequest, client: LLMClient?, store: RunStore, run: RunInfo, units: [UnitProgress],
        mode: inout String?, idle: inout Bool
    ) async throws -> [any UnitStage] {
        guard let client else { return try stages(plan, request: request, client: nil, pinned: nil, mode: &mode) }
        let stored = try store.capabilities(runID: run.id)
        let assumed = stored ?? PinnedCapabilities(
            simulatorMode: request.simulatorMode == .auto ? .json : request.simulatorMode, topLogprobs: LLMSimulator.defaultTopLogprobs,
            structuredOutput: .none)
        let remember = Self.rememberChoices(store: store, runID: run.id, logger: logger)
        let built = try stages(plan, request: request, client: client, pinned: assumed, mode: &mode, remember: remember)
        if try isIdle(built, units: units, plan: plan, request: request, store: store, run: run) {
            idle = true
            logger.info("run \(run.name): nothing left to ask the endpoint; no probe sent")
            return built
        }
        let pinned = try await pin(plan, request: request, client: client, store: store, run: run)
        return try stages(plan, request: request, client: client, pinned: pinned, mode: &mode, remember: remember)
    }

    /// Keeps a lowered explainer choice limit (`n`) in the run state, so a resumed run asks no call
    /// the endpoint cannot answer whole (a failure to write is logged: the next run learns it again).
    private static func rememberChoices(store: RunStore, runID: Int64, logger: Logger) -> @Sendable (Int) -> Void {
        { limit in
            do {
                guard var pinned = try store.capabilities(runID: runID) else { return }
                pinned.choicesPerCall = limit
                try store.pin(runID: runID, pinned)
            } catch {
                logger.warning("could not keep the explainer's choice limit in the run state", metadata: ["error": "\(error)"])
            }
        }
    }

    /// Whether every unit, and every control the run will have, has all its requested stages
    /// done (results stored, or failures that used their attempts): a rerun then sends nothing.
    private func isIdle(
        _ stages: [any UnitStage], units: [UnitProgress], plan: StagePlan, request: RunRequest, store: RunStore, run: RunInfo
    ) throws -> Bool {
        let runner = UnitStageRunner(store: store, stages: stages, requested: plan.requested, logger: logger)
        guard units.allSatisfy(runner.hasNothingToDo) else { return false }
        let controlStages = ControlPass.stages(of: stages, requested: plan.requested)
        guard !controlStages.isEmpty, request.setup.shard == nil, request.controls != .none else { return true }
        let explained = units.filter { !$0.isDead && $0.explanation != nil }.map(\.unit.unit)
        let controls = try store.controlProgress(runID: run.id)
        let controlled = Set(controls.map(\.unit.unit))
        let assignment = ControlAssignment.donors(for: explained, seed: request.setup.selection.seed, sample: request.controls)
        guard assignment.donors.keys.allSatisfy(controlled.contains)
        else { return false }
        let controlRunner = UnitStageRunner(store: store, stages: stages, requested: controlStages, logger: logger)
        return controls.allSatisfy(controlRunner.hasNothingToDo)
    }

    /// The stages built from the run's workers with `pinned` capabilities (nil without an endpoint).
    func stages(
        _ plan: StagePlan, request: RunRequest, client: LLMClient?, pinned: PinnedCapabilities?, mode: inout String?,
        remember: @escaping @Sendable (Int) -> Void = { _ in }
    ) throws -> [any UnitStage] {
        let settings = plan.settings
        var llm: StageContext.LLM?
        if let client, let prompts = plan.prompts, let pinned { llm = StageContext.LLM(client: client, prompts: prompts, capabilities: pinned) }
        let judge: any RubricJudge = if let llm {
            LLMRubricJudge(
                client: llm.client, template: llm.prompts.rubric, model: settings.judgeModel,
                structuredOutput: llm.capabilities.structuredOutput)
        } else {
            NoJudge()
        }
        guard request.explainer == .llm, let llm else {
            mode = PatternSimulator.mode
            let patterns = PatternWorkers(parameters: request.baseline)
            var context = StageContext(
                settings: settings, requested: plan.requested, explainer: patterns.explainer, simulatorFor: patterns.simulatorFor,
                judge: judge, classifierFor: patterns.classifierFor, llm: llm, isBaseline: true)
            context.embedder = plan.embedder
            return try plan.stages(context)
        }
        let capabilities = llm.capabilities
        mode = capabilities.simulatorMode.rawValue
        // Best-of-K asks for its samples in one call (`n`) as far as the endpoint gives them;
        // Anthropic's Message Batches have no `n`: one line per sample.
        let choiceLimit = request.batch?.backend == .anthropic
            ? ChoiceLimit(1) : ChoiceLimit(capabilities.choicesPerCall, onLower: remember)
        let explainer = LLMExplainer(
            client: llm.client, template: llm.prompts.explainer, model: settings.model, structuredOutput: capabilities.structuredOutput,
            choiceLimit: choiceLimit, logger: logger)
        let simulator = LLMSimulator(
            client: llm.client, template: llm.prompts.simulator(for: capabilities.simulatorMode), mode: capabilities.simulatorMode,
            model: settings.simulatorModel, recordsPerCall: settings.recordsPerCall, topLogprobs: max(5, capabilities.topLogprobs),
            structuredOutput: capabilities.structuredOutput)
        // The classification scorers ask the simulator's model, with their own prompt role;
        // logprobs (for AUPRC) when the simulator found them, else probed once, at the first call.
        let logprobs = capabilities.simulatorMode == .logprobs
            ? LogprobSupport(fixed: LogprobSupport.topLogprobs)
            : request.batch?.backend == .anthropic
                ? LogprobSupport(fixed: 0)  // the Messages API has no logprobs
                : LogprobSupport(probing: llm.client, model: settings.simulatorModel)
        let classifiers = try Dictionary(uniqueKeysWithValues: StoredClassification.Scorer.allCases.map { scorer in
            (scorer, LLMClassifier(
                client: llm.client, template: try llm.prompts.template(for: scorer.rawValue), model: settings.simulatorModel,
                batchSize: settings.examplesPerClassifyCall, structuredOutput: capabilities.structuredOutput,
                logprobs: logprobs))
        })
        var context = StageContext(
            settings: settings, requested: plan.requested, explainer: explainer, simulatorFor: { _ in simulator }, judge: judge,
            classifierFor: { scorer, _ in
                guard let classifier = classifiers[scorer] else { throw StageFailure("no LLM classifier for the scorer '\(scorer)'") }
                return classifier
            },
            llm: llm, isBaseline: false)
        context.embedder = plan.embedder
        return try plan.stages(context)
    }

    /// The simulator mode and structured-output level: probed at the run's first start and
    /// pinned in its state; a resumed run checks the endpoint still serves them, or refuses.
    func pin(
        _ plan: StagePlan, request: RunRequest, client: LLMClient?, store: RunStore, run: RunInfo
    ) async throws -> PinnedCapabilities? {
        guard let client else { return nil }
        let stored = try store.capabilities(runID: run.id)
        if request.batch?.backend == .anthropic {
            // Message Batches: no logprobs, no response_format; nothing to probe.
            let wanted = stored?.simulatorMode ?? request.simulatorMode
            guard wanted != .logprobs else {
                throw AutoInterpError.invalidOption(
                    .batch, "anthropic batches have no logprobs (the Messages API returns none): use \(Setting.simulatorMode) sparse or json")
            }
            let pinned = PinnedCapabilities(simulatorMode: wanted == .auto ? .json : wanted, topLogprobs: 0, structuredOutput: .none)
            if stored == nil { try store.pin(runID: run.id, pinned) }
            return stored ?? pinned
        }
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
        guard let stored else {
            if certain { try store.pin(runID: run.id, found) }
            return found
        }
        guard certain else { return stored }
        if stored.simulatorMode != found.simulatorMode {
            throw AutoInterpError.invalidInput(
                "run '\(run.name)' simulates in \(stored.simulatorMode.rawValue) mode, but \(client.config.endpointName) now offers \(found.simulatorMode.rawValue) (\(decision.reason)); use an endpoint that serves \(stored.simulatorMode.rawValue), or \(Setting.forceNew) to start over")
        }
        if found.structuredOutput.rank > stored.structuredOutput.rank {
            throw AutoInterpError.invalidInput(
                "run '\(run.name)' was started with \(stored.structuredOutput) answers, but \(client.config.endpointName) now offers only \(found.structuredOutput) (\(structured.reason)); use an endpoint that serves \(stored.structuredOutput), or \(Setting.forceNew) to start over")
        }
        return stored
    }

    /// The endpoint's prices as stored in the run state (nil when none was given).
    static func prices(_ config: LLMEndpointConfig) -> StoredPrices? {
        guard config.priceInputPerMillion != nil || config.priceOutputPerMillion != nil else { return nil }
        return StoredPrices(prompt: config.priceInputPerMillion ?? 0, completion: config.priceOutputPerMillion ?? 0)
    }
}

extension StructuredOutputLevel {
    /// Position among the levels, best first (json_schema 0, json_object 1, none 2).
    var rank: Int { Self.allCases.firstIndex(of: self) ?? Self.allCases.count }
}
