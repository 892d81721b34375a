import AutoInterpLLM
import Foundation
import Logging

/// What happened to one unit in one invocation of the pipeline.
public struct UnitOutcome: Sendable, Equatable {
    public enum Status: String, Sendable, Codable {
        /// Every requested stage is stored for the unit.
        case complete
        /// The unit never fires (max activation <= 0): nothing to explain; skipped.
        case dead
        /// A stage could not finish (see `failure`); a rerun tries again.
        case failed
        /// A stage was skipped because an earlier one is missing (e.g. `--stages simulate` before any explanation).
        case waiting
        /// The run stopped before the unit finished.
        case cancelled
    }

    public var unit: UnitRef
    public var status: Status
    /// The failure kind (`explain`, `llm-call`) and reason when `status` is `failed`, or why it is `dead`/`waiting`.
    public var failureKind: String?
    public var reason: String?
    /// Whether this invocation stored anything for the unit.
    public var storedSomething: Bool
    /// Simulations and rubric verdicts that failed in this invocation.
    public var failedSimulations: Int
    public var failedRatings: Int

    public init(
        unit: UnitRef, status: Status, failureKind: String? = nil, reason: String? = nil, storedSomething: Bool = false,
        failedSimulations: Int = 0, failedRatings: Int = 0
    ) {
        self.unit = unit
        self.status = status
        self.failureKind = failureKind
        self.reason = reason
        self.storedSomething = storedSomething
        self.failedSimulations = failedSimulations
        self.failedRatings = failedRatings
    }
}

/// The stage logic for one unit, independent of how explanations, simulations and ratings are made.
///
/// For a unit it checks what the store already holds and does only what is missing:
/// - **explain**: one explanation per unit (with `samples > 1`, the best by Spearman over `all`
///   is kept, stored with its simulations and scores);
/// - **simulate**: the `score/top` and `score/random` examples without a stored simulation;
/// - **score**: Spearman and Pearson × all/top/random from the stored simulations;
/// - **rubric**: the `score/quantile` examples (bins 1...10 and non-activating bin 0) without a rating.
///
/// Each stage's rows are written in one transaction. Unusable answers are stored as failures
/// (simulations) or counted (explanations, ratings); a failed call leaves the stage for a rerun;
/// an `LLMError` that `isFatalForRun` is rethrown so the run stops.
public struct UnitPipeline: Sendable {
    public let store: RunStore
    public let explainer: any UnitExplainer
    public let simulator: any ActivationSimulator
    public let judge: any RubricJudge
    public let stages: Set<PipelineStage>
    /// Explanations sampled per unit.
    public let samples: Int
    public let logger: Logger

    public init(
        store: RunStore, explainer: any UnitExplainer, simulator: any ActivationSimulator, judge: any RubricJudge,
        stages: Set<PipelineStage> = Set(PipelineStage.allCases), samples: Int = 1, logger: Logger = Logger(label: "autointerp.run")
    ) {
        self.store = store
        self.explainer = explainer
        self.simulator = simulator
        self.judge = judge
        self.stages = stages
        self.samples = max(1, samples)
        self.logger = logger
    }

    /// Whether `unit` already has everything the requested stages produce (no call needed).
    public func isComplete(_ unit: StoredUnit) throws -> Bool {
        if unit.statistics.maxActivation <= 0 { return true }
        guard let explanation = try store.explanations(unitID: unit.id).first else { return false }
        if stages.contains(.simulate) {
            let have = try store.simulations(explanationID: explanation.id).count
            let want = try scoredExamples(unit.id).count
            if have < want { return false }
        }
        if stages.contains(.score), try store.scores(explanationID: explanation.id).count < 6 { return false }
        if stages.contains(.rubric) {
            let have = try store.rubricRatings(explanationID: explanation.id).count
            let want = try store.examples(unitID: unit.id, role: .score, subset: .quantile).count
            if have < want { return false }
        }
        return true
    }

    /// Runs the requested stages that `unit` still lacks.
    ///
    /// - Throws: `LLMError` with `isFatalForRun`, `CancellationError`, or a store error; every
    ///   other failure is reported in the ``UnitOutcome``.
    public func run(_ unit: StoredUnit) async throws -> UnitOutcome {
        let ref = unit.unit
        var report = UnitOutcome(unit: ref, status: .complete)
        if unit.statistics.maxActivation <= 0 {
            report.status = .dead
            report.reason = "never fires on a selectable token (max activation \(unit.statistics.maxActivation) <= 0)"
            return report
        }
        do {
            // MARK: Explain
            var explanation = try store.explanations(unitID: unit.id).first
            var simulatedNow = false
            if explanation == nil {
                guard stages.contains(.explain) else {
                    return UnitOutcome(unit: ref, status: .waiting, reason: "no explanation yet (add explain to --stages)")
                }
                let examples = try store.examples(unitID: unit.id, role: .explain, subset: .top)
                if samples > 1, stages.contains(.simulate) {
                    explanation = try await explainBestOfSamples(unit, examples: examples, report: &report)
                    simulatedNow = true
                } else {
                    let result = try await explainer.explain(unit: ref, examples: examples, sample: 0)
                    explanation = try store.addExplanation(
                        unitID: unit.id, explainer: explainer.name, model: explainer.model, text: result.text,
                        promptFile: result.promptFile, promptHash: result.promptHash, requestHash: result.requestHash)
                }
                report.storedSomething = true
            }
            guard let explanation else { return report }

            // MARK: Simulate
            var simulations = try store.simulations(explanationID: explanation.id)
            if stages.contains(.simulate) {
                let done = Set(simulations.map { "\($0.subset.rawValue)/\($0.recordIndex)" })
                let missing = try scoredExamples(unit.id).filter { !done.contains("\($0.subset.rawValue)/\($0.recordIndex)") }
                if !missing.isEmpty {
                    let new = try await simulate(explanation: explanation.text, missing)
                    report.failedSimulations += new.count { !$0.isOK }
                    try store.saveSimulations(explanationID: explanation.id, new)
                    simulations = try store.simulations(explanationID: explanation.id)
                    simulatedNow = true
                    report.storedSomething = true
                }
            }

            // MARK: Score
            if stages.contains(.score) {
                let wanted = try scoredExamples(unit.id).count
                let scored = try store.scores(explanationID: explanation.id).count
                if simulations.count >= wanted, scored < 6 || simulatedNow {
                    try store.saveScores(explanationID: explanation.id, SimulationScoring.scores(from: simulations))
                    report.storedSomething = true
                } else if simulations.count < wanted {
                    report.status = .waiting
                    report.reason = "simulations incomplete (add simulate to --stages)"
                }
            }

            // MARK: Rubric
            if stages.contains(.rubric) {
                let examples = try store.examples(unitID: unit.id, role: .score, subset: .quantile)
                let rated = Set(try store.rubricRatings(explanationID: explanation.id).map(\.recordIndex))
                let missing = examples.enumerated().filter { !rated.contains($0.offset) }.map { index, example in
                    RubricExample(
                        recordIndex: index, bin: example.bin ?? 0, context: example.context, tokens: example.tokens,
                        activations: example.activations)
                }
                if !missing.isEmpty {
                    let (ratings, failed) = try await rate(explanation: explanation.text, missing)
                    report.failedRatings += failed
                    if !ratings.isEmpty {
                        try store.saveRubricRatings(explanationID: explanation.id, ratings)
                        report.storedSomething = true
                    }
                    if failed > 0, report.status == .complete {
                        report.status = .failed
                        report.failureKind = "rubric"
                        report.reason = "\(failed) rubric answer(s) could not be read"
                    }
                }
            }
            return report
        } catch let failure as ExplanationFailure {
            report.status = .failed
            report.failureKind = "explain"
            report.reason = failure.reason
            return report
        } catch let error as LLMError where !error.isFatalForRun {
            report.status = .failed
            report.failureKind = "llm-call"
            report.reason = error.message
            return report
        } catch is CancellationError {
            report.status = .cancelled
            return report
        }
    }

    // MARK: - Stages

    /// The unit's scored examples as (subset, record index, example): `score/top` then `score/random`.
    private func scoredExamples(_ unitID: Int64) throws -> [(subset: ExampleSubset, recordIndex: Int, example: ExampleRecord)] {
        var result: [(subset: ExampleSubset, recordIndex: Int, example: ExampleRecord)] = []
        for subset in [ExampleSubset.top, .random] {
            for (i, example) in try store.examples(unitID: unitID, role: .score, subset: subset).enumerated() {
                result.append((subset, i, example))
            }
        }
        return result
    }

    /// Simulates `items` (per subset, both subsets at once) and pairs the outcomes with the truth.
    private func simulate(
        explanation: String, _ items: [(subset: ExampleSubset, recordIndex: Int, example: ExampleRecord)]
    ) async throws -> [StoredSimulation] {
        let simulator = simulator
        let groups = Dictionary(grouping: items, by: \.subset)
        return try await withThrowingTaskGroup(of: [StoredSimulation].self) { group in
            for (subset, group_) in groups {
                group.addTask {
                    let outcomes = try await simulator.simulate(explanation: explanation, records: group_.map(\.example.tokens))
                    return zip(group_, Self.aligned(outcomes, count: group_.count, tokens: group_.map(\.example.tokens))).map { item, outcome in
                        StoredSimulation(
                            subset: subset, recordIndex: item.recordIndex, tokens: item.example.tokens,
                            trueActivations: item.example.activations, outcome: outcome, mode: simulator.mode)
                    }
                }
            }
            var all: [StoredSimulation] = []
            for try await part in group { all += part }
            return all
        }
    }

    /// Guards against a simulator that returns the wrong number of outcomes or values: such
    /// entries become failures rather than misaligned rows.
    static func aligned(_ outcomes: [SimulationOutcome], count: Int, tokens: [[String]]) -> [SimulationOutcome] {
        (0..<count).map { i in
            guard i < outcomes.count else { return .failed(reason: "the simulator returned no outcome for this record") }
            if case .predicted(let values) = outcomes[i], values.count != tokens[i].count {
                return .failed(reason: "the simulator returned \(values.count) values for \(tokens[i].count) tokens")
            }
            return outcomes[i]
        }
    }

    /// Rates `examples` concurrently; returns the readable ratings and the count of unreadable ones.
    private func rate(explanation: String, _ examples: [RubricExample]) async throws -> ([StoredRubricRating], Int) {
        let judge = judge
        return try await withThrowingTaskGroup(of: (RubricExample, RubricVerdict).self) { group in
            for example in examples {
                group.addTask { (example, try await judge.rate(explanation: explanation, example: example)) }
            }
            var ratings: [StoredRubricRating] = []
            var failed = 0
            for try await (example, verdict) in group {
                switch verdict {
                case .rated(let rating, let reason):
                    ratings.append(StoredRubricRating(
                        recordIndex: example.recordIndex, bin: example.bin, activation: example.activation, rating: rating,
                        context: example.context, tokens: example.tokens, activations: example.activations, judgeModel: judge.model,
                        reason: reason))
                case .failed(let reason):
                    failed += 1
                    logger.info("rubric answer unreadable", metadata: ["record": "\(example.recordIndex)", "reason": "\(reason)"])
                }
            }
            return (ratings.sorted { $0.recordIndex < $1.recordIndex }, failed)
        }
    }

    /// Samples `samples` explanations, simulates and scores each, and stores the best one (by
    /// Spearman over `all`; undefined counts as worst) with its simulations and scores.
    private func explainBestOfSamples(_ unit: StoredUnit, examples: [ExampleRecord], report: inout UnitOutcome) async throws -> StoredExplanation {
        let items = try scoredExamples(unit.id)
        var best: (result: ExplanationResult, simulations: [StoredSimulation], scores: [StoredScore], value: Double)?
        var lastFailure: ExplanationFailure?
        for sample in 0..<samples {
            let result: ExplanationResult
            do {
                result = try await explainer.explain(unit: unit.unit, examples: examples, sample: sample)
            } catch let failure as ExplanationFailure {
                lastFailure = failure
                continue
            }
            let simulations = try await simulate(explanation: result.text, items)
            let scores = SimulationScoring.scores(from: simulations)
            let value = scores.first { $0.metric == .spearman && $0.subset == .all }?.value ?? -.infinity
            logger.debug("explanation sample", metadata: ["unit": "\(unit.unit)", "sample": "\(sample)", "spearman": "\(value)"])
            if best == nil || value > best!.value { best = (result, simulations, scores, value) }
        }
        guard let best else { throw lastFailure ?? ExplanationFailure("no explanation sample was usable") }
        let explanation = try store.addExplanation(
            unitID: unit.id, explainer: explainer.name, model: explainer.model, text: best.result.text,
            promptFile: best.result.promptFile, promptHash: best.result.promptHash, requestHash: best.result.requestHash)
        report.failedSimulations += best.simulations.count { !$0.isOK }
        try store.saveSimulations(explanationID: explanation.id, best.simulations)
        if stages.contains(.score) { try store.saveScores(explanationID: explanation.id, best.scores) }
        return explanation
    }
}
