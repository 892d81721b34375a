import Foundation
import Logging

/// The explain stage: one explanation per unit from its `explain/top` examples.
///
/// With ``BestOf`` (more than one sample and the simulate stage requested), every sample is
/// simulated and scored and the best by Spearman over `all` (undefined counts as worst) is
/// stored together with its simulations (and its scores when the score stage is requested).
/// Done when the unit has an explanation.
public struct ExplainStage: UnitStage {
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

    public init(explainer: any UnitExplainer, bestOf: BestOf? = nil) {
        self.explainer = explainer
        self.bestOf = bestOf.flatMap { $0.samples > 1 ? $0 : nil }
    }

    public func isDone(_ progress: UnitProgress) -> Bool { progress.explanation != nil }

    public func run(_ work: UnitWork) async throws -> StageResult {
        guard work.progress.explanation == nil else { return .nothing }
        let examples = try work.store.examples(unitID: work.unit.id, role: .explain, subset: .top)
        if let bestOf { return try await explainBestOf(work, examples: examples, bestOf: bestOf) }
        let result = try await explainer.explain(unit: work.unit.unit, examples: examples, sample: 0)
        try store(result, work)
        return StageResult(stored: true)
    }

    @discardableResult
    private func store(_ result: ExplanationResult, _ work: UnitWork) throws -> StoredExplanation {
        try work.store.addExplanation(
            unitID: work.unit.id, explainer: explainer.name, model: explainer.model, text: result.text,
            promptFile: result.promptFile, promptHash: result.promptHash, requestHash: result.requestHash)
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
