import AutoInterpLLM
import Foundation
import Logging

/// The explain stage: one explanation per unit from its `explain/top` examples.
///
/// With ``BestOf`` (more than one sample and the simulate stage requested), every sample is
/// simulated and scored and the best by Spearman over `all` (undefined counts as worst) is
/// stored together with its simulations (and its scores when the score stage is requested).
/// Done when the unit has an explanation that today's checks accept.
///
/// A refused explanation (``ExplanationFailure``: not a description, an echo, …, or the same
/// answer as ``ExplanationTally/maxRepeats`` other units) is kept in `explanation_failures` with
/// the refused answer and asked again on the next run, up to ``maxAttempts`` times. An explanation
/// an older run stored that the checks now refuse (``ExplanationCheck/storedProblem(_:)``, e.g.
/// `null`) is taken back (``RunStore/retireExplanation(_:reason:)``) and asked again, never
/// scored. When the first answers of a run are all the same, the run stops (``ExplanationTally``).
/// The baseline's pattern explanations are token lists by construction and are not screened.
public struct ExplainStage: UnitStage {
    /// How many refusals a unit's explanation gets before the unit is no longer asked.
    public static let maxAttempts = 3

    /// Sampling several explanations and keeping the best.
    public struct BestOf: Sendable {
        public var samples: Int
        /// The simulator for a unit (as the simulate stage's).
        public var simulatorFor: @Sendable (UnitWork) throws -> any ActivationSimulator
        /// Whether the winner's scores are stored too (the score stage is requested).
        public var storesScores: Bool

        public init(samples: Int, simulatorFor: @escaping @Sendable (UnitWork) throws -> any ActivationSimulator, storesScores: Bool) {
            self.samples = samples
            self.simulatorFor = simulatorFor
            self.storesScores = storesScores
        }
    }

    public var name: StageName { .explain }
    public var needs: [StageName] { [] }
    /// A control's explanation is taken from another unit, never written.
    public var scoresControls: Bool { false }
    public var stores: String { "explanations: one per unit (with best-of-n, the winner's simulations and scores too)" }

    public let explainer: any UnitExplainer
    public let bestOf: BestOf?
    /// Whether answers are screened (not for the pattern baseline, whose patterns are tokens).
    private let screens: Bool
    private let tally = ExplanationTally()

    public init(explainer: any UnitExplainer, bestOf: BestOf? = nil) {
        self.explainer = explainer
        self.bestOf = bestOf.flatMap { $0.samples > 1 ? $0 : nil }
        self.screens = explainer.name != PatternExplainer.name
    }

    /// Done with a usable explanation, or when the explainer's answers were refused
    /// ``maxAttempts`` times (then ``gap(_:)`` says so and nothing is asked again).
    public func isDone(_ progress: UnitProgress) -> Bool {
        guard let explanation = progress.explanation else { return progress.refusedExplanationAttempts >= Self.maxAttempts }
        return !screens || explanation.isControl || explanation.isAudit || ExplanationCheck.storedProblem(explanation.text) == nil
    }

    public func gap(_ progress: UnitProgress) -> String? {
        guard progress.explanation == nil, progress.refusedExplanationAttempts >= Self.maxAttempts else { return nil }
        return "explanation refused \(progress.refusedExplanationAttempts) times, not asked again (see explanation_failures)"
    }

    public func run(_ work: UnitWork) async throws -> StageResult {
        if let stored = work.progress.explanation {
            guard screens, !stored.isControl, !stored.isAudit, let problem = ExplanationCheck.storedProblem(stored.text) else {
                return .nothing
            }
            try work.store.retireExplanation(stored, reason: "stored by an earlier run, refused now: \(problem)")
            work.logger.warning("explanation refused and asked again", metadata: ["unit": "\(work.unit.unit)", "reason": "\(problem)"])
        }
        if let refused = try work.store.explanationFailure(unitID: work.unit.id), refused.attempts >= Self.maxAttempts {
            throw ExplanationFailure(
                "explanation refused \(refused.attempts) times, not asked again (last: \(refused.reason); see explanation_failures)")
        }
        let examples = try work.store.examples(unitID: work.unit.id, role: .explain, subset: .top)
        do {
            if let bestOf { return try await explainBestOf(work, examples: examples, bestOf: bestOf) }
            let result = try await explainer.explain(unit: work.unit.unit, examples: examples, sample: 0)
            try store(result, work)
            return StageResult(stored: true)
        } catch let failure as ExplanationFailure {
            try work.store.recordExplanationFailure(unitID: work.unit.id, answer: failure.answer, reason: failure.reason)
            throw failure
        }
    }

    /// Stores `result` unless it is the same answer as too many other units' (then refused,
    /// its cached call dropped so a rerun asks again), or the run's answers are all alike (then the run stops).
    @discardableResult
    private func store(_ result: ExplanationResult, _ work: UnitWork) throws -> StoredExplanation {
        if screens {
            try tally.seedIfNeeded {
                (try work.store.explanations(runID: work.unit.runID).map(\.text), try work.store.units(runID: work.unit.runID).count)
            }
            let verdict = tally.register(result.text)
            if verdict != .keep, let hash = result.requestHash { try work.store.removeResponse(forHash: hash) }
            switch verdict {
            case .keep: break
            case .suspect(let others):
                throw ExplanationFailure(
                    "suspect: the same explanation as \(others) other units of this run (at most \(others) may share one)",
                    answer: result.text)
            case .stop(let answers):
                let reason = "the first \(answers) explanations of this run are all \"\(SimulationParser.preview(result.text))\""
                try work.store.recordExplanationFailure(unitID: work.unit.id, answer: result.text, reason: reason)
                throw LLMError.unusableAnswers(
                    endpoint: explainer.endpoint ?? explainer.name,
                    "\(reason): the endpoint answers every unit alike (an echo or a stuck server); check it, then rerun")
            }
        }
        do {
            return try work.store.addExplanation(
                unitID: work.unit.id, explainer: explainer.name, model: explainer.model, text: result.text,
                promptFile: result.promptFile, promptHash: result.promptHash, requestHash: result.requestHash)
        } catch {
            if screens { tally.forget(result.text) }
            throw error
        }
    }

    /// Samples, simulates and scores each explanation; stores the best with its simulations and scores.
    private func explainBestOf(_ work: UnitWork, examples: [ExampleRecord], bestOf: BestOf) async throws -> StageResult {
        let records = try work.store.heldOutRecords(unitID: work.unit.id)
        let simulator = try bestOf.simulatorFor(work)
        var best: (result: ExplanationResult, simulations: [StoredSimulation], scores: [StoredScore], value: Double)?
        var lastFailure: ExplanationFailure?
        for sample in 0..<bestOf.samples {
            let result: ExplanationResult
            do {
                result = try await explainer.explain(unit: work.unit.unit, examples: examples, sample: sample)
            } catch let failure as ExplanationFailure {
                lastFailure = failure
                continue
            }
            let simulations = try await simulator.simulate(explanation: result.text, heldOut: records)
            let scores = SimulationScoring.scores(from: simulations)
            let value = scores.first { $0.metric == .spearman && $0.subset == .all }?.value ?? -.infinity
            work.logger.debug("explanation sample", metadata: ["unit": "\(work.unit.unit)", "sample": "\(sample)", "spearman": "\(value)"])
            if best == nil || value > best!.value { best = (result, simulations, scores, value) }
        }
        guard let best else { throw lastFailure ?? ExplanationFailure("no explanation sample was usable") }
        let explanation = try store(best.result, work)
        try work.store.saveSimulations(explanationID: explanation.id, best.simulations)
        if bestOf.storesScores { try work.store.saveScores(explanationID: explanation.id, best.scores) }
        return StageResult(stored: true, failedSimulations: best.simulations.count { !$0.isOK })
    }
}

extension ExplainStage {
    /// The catalogue entry: the run's explainer; with several samples and the simulate stage
    /// requested, best-of-n through the run's simulator.
    public static let descriptor = StageDescriptor(
        name: .explain, help: "explain each unit from its top examples",
        make: { context in
            let bestOf = BestOf(
                samples: context.settings.explainerSamples, simulatorFor: context.simulatorFor,
                storesScores: context.requested.contains(.score))
            return ExplainStage(explainer: context.explainer, bestOf: context.requested.contains(.simulate) ? bestOf : nil)
        })
}
