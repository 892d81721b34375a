import AutoInterpLLM
import Foundation
import Logging

/// The explain stage: one explanation per unit from its `explain/top` examples.
///
/// With ``BestOf`` (more than one sample and the simulate stage requested), every sample is
/// simulated on the validation half of the held-out records (``HeldOutSplit``) and the best by
/// Spearman there is stored, with its simulations on the test half (and their scores when the
/// score stage is requested); the others stay as candidates with their validation scores.
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
    public var stores: String {
        "explanations: one per unit (with best-of-K, the winner's test-half simulations and scores, its validation and "
            + "first_sample scores, and the other samples as candidates with their validation scores)"
    }

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

    /// Best-of-K on a split (``HeldOutSplit``): samples K explanations, simulates each on the
    /// validation half of the held-out records only and keeps the best by Spearman there
    /// (undefined counts as worst, ties go to the earlier sample). The winner is stored as the
    /// unit's explanation with its validation scores (subset `validation`) and its simulations on
    /// the test half (their scores too with the score stage): what every report shows. The other
    /// samples are stored as candidates (`candidate:<sample>`, out of every headline) with their
    /// validation scores, and an unusable sample as a candidate failure (`explanation_candidate_failures`).
    /// After the choice, the first usable sample is simulated on the test half
    /// too: its Spearman is stored on the winner as subset `first_sample` (the gain of best-of-K).
    private func explainBestOf(_ work: UnitWork, examples: [ExampleRecord], bestOf: BestOf) async throws -> StageResult {
        let (validation, test) = HeldOutSplit.split(try work.store.heldOutRecords(unitID: work.unit.id), unit: work.unit.unit)
        let simulator = try bestOf.simulatorFor(work)
        var samples: [(sample: Int, result: ExplanationResult, scores: [StoredScore], value: Double)] = []
        var failures: [(sample: Int, failure: ExplanationFailure)] = []
        // Every sample first (one call with `n` where the endpoint gives several choices), then their simulations.
        var deferred: LLMError?
        let outcomes = try await explainer.explainSamples(unit: work.unit.unit, examples: examples, count: bestOf.samples)
        for (sample, outcome) in outcomes.enumerated() {
            let result: ExplanationResult
            switch outcome {
            case .success(let value): result = value
            case .failure(let failure):
                work.logger.info(
                    "explanation sample unusable",
                    metadata: ["unit": "\(work.unit.unit)", "sample": "\(sample)", "reason": "\(failure.reason)"])
                failures.append((sample, failure))
                continue
            }
            // Only the validation half: the choice never sees the records it is reported on.
            let simulations: [StoredSimulation]
            do {
                simulations = try await simulator.simulate(explanation: result.text, heldOut: validation)
            } catch let error as LLMError where error.isDeferred {
                deferred = deferred ?? error  // every sample's requests join the same batch wave
                continue
            }
            let scores = SimulationScoring.scores(from: simulations).filter { $0.subset == .all }.map { score in
                var score = score
                score.subset = .validation
                return score
            }
            let value = scores.first { $0.metric == .spearman }?.value ?? -.infinity
            work.logger.debug(
                "explanation sample", metadata: ["unit": "\(work.unit.unit)", "sample": "\(sample)", "validation spearman": "\(value)"])
            samples.append((sample, result, scores, value))
        }
        if let deferred { throw deferred }
        guard let winner = samples.reduce(nil, { best, next in best.map { next.value > $0.value ? next : $0 } ?? next }) else {
            throw failures.last?.failure ?? ExplanationFailure("no explanation sample was usable")
        }
        // Every call first (the winner and, for the gain of best-of-K, the first sample on the test
        // half, after the choice), then the rows, so an interrupted unit stores nothing half-done.
        var tested: [StoredSimulation] = []
        do {
            tested = try await simulator.simulate(explanation: winner.result.text, heldOut: test)
        } catch let error as LLMError where error.isDeferred {
            deferred = error
        }
        let first = samples.first
        var firstTested: [StoredSimulation]?
        if let first, first.sample != winner.sample {
            do {
                firstTested = try await simulator.simulate(explanation: first.result.text, heldOut: test)
            } catch let error as LLMError where error.isDeferred {
                deferred = deferred ?? error
            }
        }
        if let deferred { throw deferred }
        let testScores = SimulationScoring.scores(from: tested)
        let firstScores = firstTested.map { SimulationScoring.scores(from: $0) } ?? testScores

        let explanation = try store(winner.result, work)
        try work.store.saveScores(explanationID: explanation.id, winner.scores)
        try work.store.saveSimulations(explanationID: explanation.id, tested)
        if bestOf.storesScores { try work.store.saveScores(explanationID: explanation.id, testScores) }
        if var spearman = firstScores.first(where: { $0.metric == .spearman && $0.subset == .all }) {
            spearman.subset = .firstSample
            try work.store.saveScores(explanationID: explanation.id, [spearman])
        }
        let others = samples.filter { $0.sample != winner.sample }
        let candidates = try work.store.addCandidateExplanations(
            of: explanation,
            others.map {
                (sample: $0.sample, explainer: explainer.name, model: explainer.model, text: $0.result.text, requestHash: $0.result.requestHash)
            })
        try work.store.recordCandidateFailures(of: explanation, failures.map { ($0.sample, $0.failure.answer, $0.failure.reason) })
        for (candidate, item) in zip(candidates, others) {
            try work.store.saveScores(explanationID: candidate.id, item.scores)
            if item.sample == first?.sample, let firstTested {
                try work.store.saveSimulations(explanationID: candidate.id, firstTested)
                try work.store.saveScores(explanationID: candidate.id, firstScores)
            }
        }
        return StageResult(stored: true, failedSimulations: tested.count { !$0.isOK })
    }
}

extension ExplainStage {
    /// Best-of-K's report section: the first sample's Spearman on the test half, beside the
    /// winner's (subset `all`, the test half too): the gain of best-of-K over one sample.
    public static let firstSampleScorer = ReportScorer(
        name: "simulation_first_sample", title: "Simulation, first of the K explanation samples: Spearman (test half)", metric: .spearman,
        subset: .firstSample, thresholds: [0.3, 0.5], chance: 0, baseline: .all)

    /// The catalogue entry: the run's explainer; with several samples and the simulate stage
    /// requested, best-of-K through the run's simulator (and the first sample's report section).
    public static let descriptor = StageDescriptor(
        name: .explain, help: "explain each unit from its top examples", scorers: [firstSampleScorer],
        make: { context in
            let bestOf = BestOf(
                samples: context.settings.explainerSamples, simulatorFor: context.simulatorFor,
                storesScores: context.requested.contains(.score))
            return ExplainStage(explainer: context.explainer, bestOf: context.requested.contains(.simulate) ? bestOf : nil)
        })
}
