import Foundation

/// The outcome of a two-sided Mann-Whitney U test of sample `x` against sample `y`.
public struct MannWhitneyResult: Sendable, Equatable, Codable {
    /// U of the first sample: pairs (x, y) with x > y, ties counting one half (scipy's `statistic`).
    public var u: Double
    /// Normal-approximation z with tie and continuity correction; positive when `x` tends higher.
    public var z: Double
    /// Two-sided p-value from the normal approximation, in [0, 1].
    public var p: Double
    /// Common-language effect size `u / (n1 * n2)`: the probability that a random `x` outscores a
    /// random `y`, ties counting one half.
    public var effectSize: Double
    /// Sizes of the two samples after dropping NaN.
    public var n1: Int
    public var n2: Int

    public init(u: Double, z: Double, p: Double, effectSize: Double, n1: Int, n2: Int) {
        self.u = u
        self.z = z
        self.p = p
        self.effectSize = effectSize
        self.n1 = n1
        self.n2 = n2
    }
}

/// Rank tests used to compare score distributions (e.g. SAE features vs. neurons).
public enum RankTest {
    /// Two-sided Mann-Whitney U (Wilcoxon rank-sum) test with the normal approximation.
    ///
    /// Ranks are averaged over ties; the variance uses the tie correction
    /// `n1 n2 / 12 * ((n + 1) - Σ(t³ - t) / (n (n - 1)))` and z the continuity correction of 0.5,
    /// matching `scipy.stats.mannwhitneyu(x, y, alternative="two-sided", method="asymptotic",
    /// use_continuity=True)`. NaN values are dropped (infinities rank normally). Returns nil when
    /// either sample is empty after that. When every value is tied the variance is 0 and the test
    /// has no evidence either way: z = 0 and p = 1 (the exact p-value; scipy returns NaN there).
    public static func mannWhitneyU(_ x: [Double], _ y: [Double]) -> MannWhitneyResult? {
        let xs = x.filter { !$0.isNaN }
        let ys = y.filter { !$0.isNaN }
        let n1 = xs.count, n2 = ys.count
        guard n1 > 0, n2 > 0 else { return nil }
        let n = n1 + n2
        let ranks = Correlation.averageRanks(xs + ys)
        let rankSumX = ranks[0..<n1].reduce(0, +)
        let u = rankSumX - Double(n1) * Double(n1 + 1) / 2
        let pairs = Double(n1) * Double(n2)
        let mean = pairs / 2

        // Tie term Σ(t³ - t) over groups of equal values.
        let sorted = (xs + ys).sorted()
        var tieTerm = 0.0
        var start = 0
        while start < n {
            var end = start + 1
            while end < n, sorted[end] == sorted[start] { end += 1 }
            let t = Double(end - start)
            tieTerm += t * t * t - t
            start = end
        }
        let nd = Double(n)
        let variance = pairs / 12 * ((nd + 1) - tieTerm / (nd * (nd - 1)))

        let effectSize = u / pairs
        let deviation = u - mean
        guard variance > 0, n > 1 else {
            return MannWhitneyResult(u: u, z: 0, p: 1, effectSize: effectSize, n1: n1, n2: n2)
        }
        // Continuity correction towards 0; a deviation under 0.5 gives z = 0 and p = 1.
        let corrected = Swift.max(0, abs(deviation) - 0.5)
        let magnitude = corrected / variance.squareRoot()
        let z = deviation < 0 ? -magnitude : magnitude
        let p = Swift.min(1, erfc(magnitude / 2.0.squareRoot()))
        return MannWhitneyResult(u: u, z: z, p: p, effectSize: effectSize, n1: n1, n2: n2)
    }
}
