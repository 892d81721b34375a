import AutoInterpLLM
import Foundation
import Logging

/// Runs the stages of every unit of a run with the LLM-free baseline (``PatternExplainer`` and
/// ``PatternSimulator``), through the same ``UnitPipeline`` as LLM runs.
///
/// The pattern simulator is specific to a unit, so each unit gets its own ``UnitPipeline``
/// whose simulator holds the ``PatternSet`` re-derived from the unit's stored explanation
/// examples. Re-deriving is deterministic, so a resumed run (explanation stored, simulations
/// missing) simulates exactly the patterns its explanation describes, with nothing extra
/// stored; the protocols stay as they are (the simulator sees only the explanation and the
/// records). The rubric stage, when asked for, uses `judge` (an LLM judge).
public struct BaselineRunner: Sendable {
    public let store: RunStore
    public let explainer: PatternExplainer
    public let judge: any RubricJudge
    public let stages: Set<PipelineStage>
    public let unitsInFlight: Int
    /// Totals for the progress line (the judge's calls); nil shows none.
    public let usage: (@Sendable () -> LLMUsage)?
    public let showProgress: Bool
    public let logger: Logger

    public init(
        store: RunStore, explainer: PatternExplainer = PatternExplainer(), judge: any RubricJudge = NoJudge(),
        stages: Set<PipelineStage> = [.explain, .simulate, .score], unitsInFlight: Int = 4, usage: (@Sendable () -> LLMUsage)? = nil,
        showProgress: Bool = false, logger: Logger = Logger(label: "autointerp.run")
    ) {
        self.store = store
        self.explainer = explainer
        self.judge = judge
        self.stages = stages
        self.unitsInFlight = max(1, unitsInFlight)
        self.usage = usage
        self.showProgress = showProgress
        self.logger = logger
    }

    /// The pipeline for one unit: its simulator holds the unit's pattern set.
    public func pipeline(for unit: StoredUnit) throws -> UnitPipeline {
        let examples = try store.examples(unitID: unit.id, role: .explain, subset: .top)
        return pipeline(patterns: explainer.patterns(from: examples))
    }

    private func pipeline(patterns: PatternSet) -> UnitPipeline {
        UnitPipeline(
            store: store, explainer: explainer, simulator: PatternSimulator(patterns: patterns), judge: judge, stages: stages, samples: 1,
            logger: logger)
    }

    /// The reports of every unit of `run`, and why the run stopped early (nil when it did not):
    /// ``PipelineRunner`` with a pipeline per unit.
    public func run(_ run: RunInfo) async throws -> (reports: [UnitOutcome], stoppedEarly: String?) {
        logger.info("run \(run.name) with the baseline \(PatternExplainer.name)")
        let runner = self
        return try await PipelineRunner(
            store: store, pipelineFor: { try runner.pipeline(for: $0) }, unitsInFlight: unitsInFlight, usage: usage,
            showProgress: showProgress, logger: logger
        ).run(run)
    }
}

/// The judge of a baseline run without an LLM endpoint: the rubric stage is left out of such
/// runs, so it is never asked; if it were, every verdict fails with the fix.
public struct NoJudge: RubricJudge {
    public var model: String { "none" }

    public init() {}

    public func rate(explanation: String, example: RubricExample) async throws -> RubricVerdict {
        .failed(reason: "no LLM judge: the rubric stage needs --endpoint and --model")
    }
}
