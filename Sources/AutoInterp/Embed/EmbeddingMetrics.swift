import Foundation

extension StoredScore.Metric {
    /// The embedding scorer's AUROC: the chance that an activating context is more similar to the
    /// explanation than a silent one (ties count one half); 0.5 for an unrelated explanation.
    public static let embeddingAUROC: StoredScore.Metric = "embedding_auroc"
    /// The share of activating contexts more similar to the explanation than the median silent one.
    public static let embeddingAboveMedianSilent: StoredScore.Metric = "embedding_above_median_silent"
    /// The embedding scorer's metrics.
    public static let embedding: [StoredScore.Metric] = [.embeddingAUROC, .embeddingAboveMedianSilent]
}

/// The embedding scorer's metrics from its similarities (delphi's embedding scoring): AUROC of
/// the similarity between activating (label 1) and silent (label 0) contexts, and the share of
/// activating contexts ranked above the median silent one.
public enum EmbeddingMetrics {
    /// The two scores over `rows` for `subset`; undefined (with the reason) without both kinds of context.
    public static func scores(from rows: [StoredSimilarity], subset: StoredScore.Subset = .all) -> [StoredScore] {
        let activating = rows.filter { $0.label == 1 }.map(\.similarity)
        let silent = rows.filter { $0.label == 0 }.map(\.similarity)
        guard !activating.isEmpty, !silent.isEmpty else {
            let reason = activating.isEmpty ? "no activating context" : "no silent context"
            return StoredScore.Metric.embedding.map { StoredScore(metric: $0, subset: subset, undefinedBecause: reason, n: rows.count) }
        }
        return [
            StoredScore(metric: .embeddingAUROC, subset: subset, value: auroc(positive: activating, negative: silent), n: rows.count),
            StoredScore(
                metric: .embeddingAboveMedianSilent, subset: subset, value: shareAboveMedian(activating, of: silent), n: rows.count),
        ]
    }

    /// Similarities closer than this count as equal: an embedding is computed in Float, so
    /// differences below it are rounding (the summation order of two texts), not the model's judgement.
    public static let tieTolerance = 1e-6

    /// P(a > b) + ½ P(a = b) for a drawn from `positive` and b from `negative` (the Mann–Whitney
    /// U over the product of the counts), by ranks: O(n log n). Values within `tolerance` of the
    /// first of a run of sorted values are tied.
    public static func auroc(positive: [Double], negative: [Double], tolerance: Double = tieTolerance) -> Double {
        let all = (positive.map { ($0, true) } + negative.map { ($0, false) }).sorted { $0.0 < $1.0 }
        var rankSum = 0.0
        var i = 0
        while i < all.count {
            var j = i
            while j + 1 < all.count && all[j + 1].0 - all[i].0 <= tolerance { j += 1 }
            let midRank = Double(i + j) / 2 + 1
            for k in i...j where all[k].1 { rankSum += midRank }
            i = j + 1
        }
        let p = Double(positive.count), n = Double(negative.count)
        return (rankSum - p * (p + 1) / 2) / (p * n)
    }

    /// The share of `values` above the median of `reference` (R's type 7 quantile) by more than ``tieTolerance``.
    public static func shareAboveMedian(_ values: [Double], of reference: [Double]) -> Double {
        guard let median = ScorerColumn.quantile(reference.sorted(), 0.5), !values.isEmpty else { return 0 }
        return Double(values.count { $0 > median + tieTolerance }) / Double(values.count)
    }
}
