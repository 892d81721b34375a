import Foundation

/// The score stage: Spearman and Pearson between predicted and true activations over the
/// stored simulations, for `all`, `top` and `random` (``SimulationScoring``).
///
/// Done when the six scores are stored; recomputed whenever the simulate stage stored new rows.
public struct ScoreStage: UnitStage {
    public var name: StageName { .score }
    public var needs: [StageName] { [.simulate] }
    public var stores: String { "scores: spearman, pearson × all, top, random" }

    public init() {}

    public func isDone(_ progress: UnitProgress) -> Bool {
        guard progress.explanation != nil else { return false }
        return StoredScore.Metric.allCases.allSatisfy { metric in
            StoredScore.Subset.allCases.allSatisfy { progress.hasScore(metric, $0) }
        }
    }

    public func run(_ work: UnitWork) async throws -> StageResult {
        guard let explanation = work.progress.explanation else { return .nothing }
        let simulations = try work.store.simulations(explanationID: explanation.id)
        try work.store.saveScores(explanationID: explanation.id, SimulationScoring.scores(from: simulations))
        return StageResult(stored: true)
    }
}

extension ScoreStage {
    /// The simulation scorer's report section: Spearman over every scored record.
    public static let simulation = ReportScorer(
        name: "simulation", title: "Simulation: Spearman (subset all)", metric: .spearman, subset: .all,
        thresholds: [0.3, 0.5], extras: [ReportScorer.Extra(label: "median Pearson", metric: .pearson)], chance: 0)

    /// The catalogue entry.
    public static let descriptor = StageDescriptor(
        name: .score, help: "Spearman and Pearson of simulated vs true activations", asksLLM: false, scorers: [simulation],
        make: { _ in ScoreStage() })
}
