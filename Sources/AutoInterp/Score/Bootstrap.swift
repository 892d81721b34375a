import Foundation

/// A two-sided confidence interval `[low, high]`; encoded in JSON as a two-element array.
public struct ConfidenceInterval: Sendable, Equatable, Codable {
    public var low: Double
    public var high: Double

    public init(low: Double, high: Double) {
        self.low = low
        self.high = high
    }

    public init(from decoder: any Decoder) throws {
        var container = try decoder.unkeyedContainer()
        low = try container.decode(Double.self)
        high = try container.decode(Double.self)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.unkeyedContainer()
        try container.encode(low)
        try container.encode(high)
    }

    /// Whether `value` lies inside the interval (bounds included).
    public func contains(_ value: Double) -> Bool { low <= value && value <= high }
}

/// A seeded percentile bootstrap over units: resample each sample with replacement
/// `resamples` times, compute the statistic on every resample, and take the `(1 − c)/2` and
/// `(1 + c)/2` quantiles of that distribution (linear between order statistics, as
/// `scipy.stats.bootstrap(..., method='percentile')` does). The same seed gives the same
/// interval; each sample of a call draws from its own stream of the seed.
///
/// Paired data (a unit and its own control, the same unit in two runs) go in as one sample of
/// pairs, so a resample keeps the pairs together; unpaired samples are resampled independently.
public struct Bootstrap: Sendable, Equatable {
    /// The seed the reports use, so that the same run gives the same intervals every time.
    public static let reportSeed: UInt64 = 0x22_B007

    public var resamples: Int
    public var confidence: Double
    public var seed: UInt64

    public init(resamples: Int = 2_000, confidence: Double = 0.95, seed: UInt64 = Bootstrap.reportSeed) {
        self.resamples = resamples
        self.confidence = confidence
        self.seed = seed
    }

    // MARK: - Core

    /// Percentile intervals of `count` statistics computed together on the same resamples of
    /// `samples`. `statistic` gets one resample per sample and returns `count` values (nil or NaN
    /// where a statistic is undefined on that resample: such resamples are left out of that
    /// statistic's distribution). `indices`, when given, are the resamples to use
    /// (`indices[sample][resample][i]`, e.g. scipy's), instead of the seeded draws.
    /// Nil for a statistic when a sample is empty or no resample defines it.
    public func intervals<T>(
        _ samples: [[T]], count: Int, indices: [[[Int]]]? = nil, _ statistic: ([[T]]) -> [Double?]
    ) -> [ConfidenceInterval?] {
        guard count > 0 else { return [] }
        let empty = [ConfidenceInterval?](repeating: nil, count: count)
        guard !samples.isEmpty, samples.allSatisfy({ !$0.isEmpty }), resamples > 0, confidence > 0, confidence < 1 else { return empty }
        let rounds = indices.map { $0.map(\.count).min() ?? 0 } ?? resamples
        if let indices {
            guard indices.count == samples.count,
                zip(indices, samples).allSatisfy({ sampleIndices, sample in
                    sampleIndices.allSatisfy { $0.count == sample.count && $0.allSatisfy { sample.indices.contains($0) } }
                })
            else { return empty }
        }
        var generators = samples.indices.map { SeededGenerator(seed: seed, stream: UInt64($0) + 1) }
        var distributions = [[Double]](repeating: [], count: count)
        for list in distributions.indices { distributions[list].reserveCapacity(rounds) }
        var resampled = samples.map { _ in [T]() }
        for round in 0..<rounds {
            for (s, sample) in samples.enumerated() {
                resampled[s].removeAll(keepingCapacity: true)
                let n = sample.count
                if let indices {
                    for i in indices[s][round] { resampled[s].append(sample[i]) }
                } else {
                    for _ in 0..<n { resampled[s].append(sample[Self.draw(below: n, using: &generators[s])]) }
                }
            }
            let values = statistic(resampled)
            for k in 0..<Swift.min(count, values.count) {
                if let value = values[k], !value.isNaN { distributions[k].append(value) }
            }
        }
        return distributions.map { percentile($0) }
    }

    /// The percentile interval of a bootstrap distribution; nil when it is empty.
    public func percentile(_ distribution: [Double]) -> ConfidenceInterval? {
        let sorted = distribution.sorted()
        let alpha = (1 - confidence) / 2
        guard let low = Self.quantile(sorted, alpha), let high = Self.quantile(sorted, 1 - alpha) else { return nil }
        return ConfidenceInterval(low: low, high: high)
    }

    /// A uniform index below `n` from one 64-bit draw (multiply-high; the bias is below n / 2⁶⁴).
    static func draw(below n: Int, using generator: inout SeededGenerator) -> Int {
        Int(UInt64(n).multipliedFullWidth(by: generator.next()).high)
    }

    // MARK: - Common cases

    /// The interval of a statistic of one sample (NaN values dropped first).
    public func interval(_ sample: [Double], _ statistic: ([Double]) -> Double?) -> ConfidenceInterval? {
        let sample = sample.filter { !$0.isNaN }
        return intervals([sample], count: 1) { [statistic($0[0])] }[0]
    }

    /// The interval of a statistic of two independent samples, e.g. the difference of medians
    /// `a − b` or P(a > b) (NaN values dropped first).
    public func interval(_ a: [Double], _ b: [Double], _ statistic: ([Double], [Double]) -> Double?) -> ConfidenceInterval? {
        let a = a.filter { !$0.isNaN }, b = b.filter { !$0.isNaN }
        return intervals([a, b], count: 1) { [statistic($0[0], $0[1])] }[0]
    }

    /// The interval of a statistic of paired values, resampled by pair (pairs with a NaN dropped first).
    public func interval(
        pairs: [(Double, Double)], _ statistic: ([(Double, Double)]) -> Double?
    ) -> ConfidenceInterval? {
        let pairs = pairs.filter { !$0.0.isNaN && !$0.1.isNaN }
        return intervals([pairs], count: 1) { [statistic($0[0])] }[0]
    }

    /// The interval of Spearman's rho of paired values, resampled by pair (pairs with a NaN dropped
    /// first): the agreement matrix's cells.
    public func spearmanInterval(pairs: [(Double, Double)]) -> ConfidenceInterval? {
        let pairs = pairs.filter { !$0.0.isNaN && !$0.1.isNaN }
        return memoized(4, pairs.map(\.0), pairs.map(\.1)) {
            [intervals([pairs], count: 1) { [Correlation.spearman($0[0].map(\.0), $0[0].map(\.1)).value] }[0]]
        }[0]
    }

    /// The interval of the median of paired differences `second − first`, resampled by pair.
    public func pairedMedianDifference(_ pairs: [(Double, Double)]) -> ConfidenceInterval? {
        interval(pairs: pairs) { Self.median($0.map { $0.1 - $0.0 }) }
    }

    /// The difference of medians `a − b` of two independent samples with its interval; nil when
    /// either sample is empty (features − neurons in the summary and the scorer tables).
    public func medianDifferenceWithInterval(_ a: [Double], _ b: [Double]) -> (value: Double, interval: ConfidenceInterval?)? {
        guard let medianA = Self.median(a), let medianB = Self.median(b) else { return nil }
        return (medianA - medianB, medianDifference(a, b))
    }

    /// The interval of the difference of medians `a − b` of two independent samples (NaN dropped;
    /// each sample is resampled in sorted order).
    public func medianDifference(_ a: [Double], _ b: [Double]) -> ConfidenceInterval? {
        let a = a.filter { !$0.isNaN }.sorted(), b = b.filter { !$0.isNaN }.sorted()
        guard !a.isEmpty, !b.isEmpty else { return nil }
        return memoized(2, a, b) { [medianDifference(sorted: a, sorted: b)] }[0]
    }

    func medianDifference(sorted a: [Double], sorted b: [Double]) -> ConfidenceInterval? {
        let medianA = resampled(a, stream: 1) { counts in Self.quantile(a, counts: counts, 0.5) }
        let medianB = resampled(b, stream: 2) { counts in Self.quantile(b, counts: counts, 0.5) }
        return percentile(zip(medianA, medianB).map { $0 - $1 })
    }

    /// The interval of P(a > b), ties counting one half (Mann-Whitney's common-language effect
    /// size; NaN dropped, each sample resampled in sorted order).
    public func probabilityGreater(_ a: [Double], _ b: [Double]) -> ConfidenceInterval? {
        let a = a.filter { !$0.isNaN }.sorted(), b = b.filter { !$0.isNaN }.sorted()
        guard !a.isEmpty, !b.isEmpty else { return nil }
        return memoized(3, a, b) { [probabilityGreater(sorted: a, sorted: b)] }[0]
    }

    func probabilityGreater(sorted a: [Double], sorted b: [Double]) -> ConfidenceInterval? {
        // For each a[i]: how many b lie strictly below it, and how many at or below it.
        var below = [Int](repeating: 0, count: a.count), upTo = [Int](repeating: 0, count: a.count)
        var lo = 0, hi = 0
        for (i, x) in a.enumerated() {
            while lo < b.count, b[lo] < x { lo += 1 }
            hi = Swift.max(hi, lo)
            while hi < b.count, b[hi] <= x { hi += 1 }
            below[i] = lo
            upTo[i] = hi
        }
        // Per resample of b, the cumulative counts; then each drawn a[i] wins over the b below it.
        let cumulative = resampledArrays(b, stream: 2) { counts in
            var running = [Int](repeating: 0, count: b.count + 1)
            for j in 0..<b.count { running[j + 1] = running[j] + counts[j] }
            return running
        }
        var round = 0
        let pairs = Double(a.count) * Double(b.count)
        let distribution = resampled(a, stream: 1) { counts -> Double? in
            let running = cumulative[round]
            round += 1
            var wins = 0.0
            for i in 0..<a.count where counts[i] > 0 {
                let lower = running[below[i]], atOrBelow = running[upTo[i]]
                wins += Double(counts[i]) * (Double(lower) + Double(atOrBelow - lower) / 2)
            }
            return wins / pairs
        }
        return percentile(distribution.compactMap { $0 })
    }

    /// The intervals the reports print for one sample, from one pass of resamples: the median,
    /// the mean, then the share strictly above each threshold. `sorted` must be sorted and free
    /// of NaN; the resamples are drawn as counts per value, so no resample is sorted.
    public func sampleIntervals(sorted: [Double], thresholds: [Double]) -> [ConfidenceInterval?] {
        guard !sorted.isEmpty else { return [ConfidenceInterval?](repeating: nil, count: 2 + thresholds.count) }
        return memoized(1, sorted, thresholds: thresholds) { computeSampleIntervals(sorted: sorted, thresholds: thresholds) }
    }

    func computeSampleIntervals(sorted: [Double], thresholds: [Double]) -> [ConfidenceInterval?] {
        let n = sorted.count
        // The first index above each threshold: a resample's share above it is the draws from there on.
        let firstAbove = thresholds.map { t in sorted.firstIndex { $0 > t } ?? n }
        var distributions = [[Double]](repeating: [], count: 2 + thresholds.count)
        _ = resampled(sorted, stream: 1) { counts -> Double? in
            distributions[0].append(Self.quantile(sorted, counts: counts, 0.5))
            var sum = 0.0
            for i in 0..<n where counts[i] > 0 { sum += Double(counts[i]) * sorted[i] }
            distributions[1].append(sum / Double(n))
            for (k, start) in firstAbove.enumerated() {
                var above = 0
                for i in start..<n { above += counts[i] }
                distributions[2 + k].append(Double(above) / Double(n))
            }
            return nil
        }
        return distributions.map { percentile($0) }
    }

    /// `body` of each resample's draw counts (how often each index of `sample` was drawn), from
    /// stream `stream` of the seed: the same draws as ``intervals(_:count:indices:_:)`` makes for
    /// sample `stream − 1`.
    private func resampled<T>(_ sample: [Double], stream: UInt64, _ body: ([Int]) -> T) -> [T] {
        resampledArrays(sample, stream: stream, body)
    }

    private func resampledArrays<T>(_ sample: [Double], stream: UInt64, _ body: ([Int]) -> T) -> [T] {
        let n = sample.count
        guard n > 0, resamples > 0 else { return [] }
        var generator = SeededGenerator(seed: seed, stream: stream)
        var counts = [Int](repeating: 0, count: n)
        var results: [T] = []
        results.reserveCapacity(resamples)
        for _ in 0..<resamples {
            counts.withUnsafeMutableBufferPointer { buffer in
                buffer.update(repeating: 0)
                for _ in 0..<n { buffer[Self.draw(below: n, using: &generator)] += 1 }
            }
            results.append(body(counts))
        }
        return results
    }

    /// The `p` quantile (R's type 7) of the resample that draws `sorted[i]` `counts[i]` times.
    static func quantile(_ sorted: [Double], counts: [Int], _ p: Double) -> Double {
        let total = counts.reduce(0, +)
        let position = p * Double(total - 1)
        let low = Int(position.rounded(.down)), high = Int(position.rounded(.up))
        var seen = 0
        var lowValue = sorted[0], highValue = sorted[0]
        for i in 0..<sorted.count where counts[i] > 0 {
            if seen <= low, low < seen + counts[i] { lowValue = sorted[i] }
            seen += counts[i]
            if high < seen {
                highValue = sorted[i]
                break
            }
        }
        return lowValue + (highValue - lowValue) * (position - Double(low))
    }

    // MARK: - Statistics

    /// The median (linear between the middle order statistics); nil when empty.
    public static func median(_ values: [Double]) -> Double? { quantile(values.sorted(), 0.5) }

    /// The `p` quantile of sorted values, linear between order statistics (R's type 7, numpy's
    /// default, the same as ``ScorerColumn/quantile(_:_:)``); nil when empty.
    public static func quantile(_ sorted: [Double], _ p: Double) -> Double? {
        guard !sorted.isEmpty else { return nil }
        let position = p * Double(sorted.count - 1)
        let low = Int(position.rounded(.down)), high = Int(position.rounded(.up))
        return sorted[low] + (sorted[high] - sorted[low]) * (position - Double(low))
    }

    public static func mean(_ values: [Double]) -> Double? {
        values.isEmpty ? nil : values.reduce(0, +) / Double(values.count)
    }

    /// Share of values strictly above `threshold`; nil when empty.
    public static func share(_ values: [Double], above threshold: Double) -> Double? {
        values.isEmpty ? nil : Double(values.count { $0 > threshold }) / Double(values.count)
    }

    /// P(a > b) over all pairs, ties counting one half (`U / (n1 n2)`); nil when either is empty.
    public static func probabilityGreater(_ a: [Double], _ b: [Double]) -> Double? {
        guard !a.isEmpty, !b.isEmpty else { return nil }
        let a = a.sorted(), b = b.sorted()
        // For each x in a: count of b below x, plus half the b equal to x (two pointers over sorted b).
        var below = 0, upTo = 0, wins = 0.0
        for x in a {
            while below < b.count, b[below] < x { below += 1 }
            if upTo < below { upTo = below }
            while upTo < b.count, b[upTo] <= x { upTo += 1 }
            wins += Double(below) + Double(upTo - below) / 2
        }
        return wins / (Double(a.count) * Double(b.count))
    }
}
