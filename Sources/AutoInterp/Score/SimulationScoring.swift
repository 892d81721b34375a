import Foundation

/// Scores of one explanation from its stored simulations (DESIGN.md, stage 6).
///
/// For each subset (`top`, `random`, and `all` = both concatenated) the simulations are
/// concatenated and correlated with the raw true activations (``CorrelationScorer``). A subset
/// with any failed simulation is undefined with the reason: a score over part of the records
/// would be a different number, never reported as this one. Anyone can recompute these from the
/// `simulations` table.
package enum SimulationScoring {
    /// The six scores (Spearman and Pearson × all, top, random).
    package static func scores(from simulations: [StoredSimulation]) -> [StoredScore] {
        let scored = simulations.filter { $0.subset == .top || $0.subset == .random }
        var scores: [StoredScore] = []
        for subset in StoredScore.Subset.allCases {
            // The order of the simulations table (subset, then record index), so that a
            // recomputation from the table gives the same bits.
            let records = scored.filter { subset == .all || $0.subset.rawValue == subset.rawValue }
                .sorted { ($0.subset.rawValue, $0.recordIndex) < ($1.subset.rawValue, $1.recordIndex) }
            let ok = records.compactMap { simulation in simulation.predicted.map { (true: simulation.trueActivations, pred: $0) } }
            guard !ok.isEmpty, ok.count == records.count else {
                let reason = records.isEmpty
                    ? "no \(subset.rawValue) records were simulated"
                    : ok.isEmpty
                        ? "every simulation of the \(subset.rawValue) records failed (\(records.count) failed)"
                        : "\(records.count - ok.count) of \(records.count) \(subset.rawValue) records failed to simulate (rerun to retry)"
                scores.append(StoredScore(metric: .spearman, subset: subset, undefinedBecause: reason, n: 0))
                scores.append(StoredScore(metric: .pearson, subset: subset, undefinedBecause: reason, n: 0))
                continue
            }
            let result = CorrelationScorer.score(records: ok)
            for (metric, value) in [(StoredScore.Metric.spearman, result.spearman), (.pearson, result.pearson)] {
                if let number = value.value {
                    scores.append(StoredScore(metric: metric, subset: subset, value: number, n: value.n))
                } else {
                    scores.append(StoredScore(metric: metric, subset: subset, undefinedBecause: value.undefinedReason ?? "undefined", n: value.n))
                }
            }
        }
        return scores
    }
}
