import Foundation

/// Mean, median and share above a threshold of a list of scores, some of them undefined.
public struct ScoreSummary: Sendable, Equatable, Codable {
    /// Number of values given, defined or not.
    public var total: Int
    /// Number of defined values (the ones the statistics cover).
    public var definedCount: Int
    /// Number of undefined values (nil or NaN), excluded from the statistics but counted.
    public var undefinedCount: Int
    /// Mean of the defined values; nil when there are none.
    public var mean: Double?
    /// Median of the defined values (mean of the middle two for an even count); nil when there are none.
    public var median: Double?
    /// The threshold used for `shareAbove`.
    public var threshold: Double
    /// Share of the defined values strictly greater than `threshold`; nil when there are none.
    public var shareAbove: Double?

    public init(
        total: Int, definedCount: Int, undefinedCount: Int, mean: Double?, median: Double?,
        threshold: Double, shareAbove: Double?
    ) {
        self.total = total
        self.definedCount = definedCount
        self.undefinedCount = undefinedCount
        self.mean = mean
        self.median = median
        self.threshold = threshold
        self.shareAbove = shareAbove
    }
}

/// Summaries of score lists for reports.
public enum Summary {
    /// Summarises `values`: nil and NaN count as undefined and are excluded from mean, median and share.
    ///
    /// Infinite values are kept as defined (scores are finite in practice; the mean then follows IEEE rules).
    public static func summarize(_ values: [Double?], threshold: Double) -> ScoreSummary {
        let defined = values.compactMap { value -> Double? in
            guard let value, !value.isNaN else { return nil }
            return value
        }.sorted()
        let count = defined.count
        var mean: Double?
        var median: Double?
        var shareAbove: Double?
        if count > 0 {
            mean = defined.reduce(0, +) / Double(count)
            median = count % 2 == 1
                ? defined[count / 2]
                : defined[count / 2 - 1] / 2 + defined[count / 2] / 2
            shareAbove = Double(defined.count { $0 > threshold }) / Double(count)
        }
        return ScoreSummary(
            total: values.count, definedCount: count, undefinedCount: values.count - count,
            mean: mean, median: median, threshold: threshold, shareAbove: shareAbove)
    }

    /// Summarises correlation results, using their values (undefined results count as undefined).
    public static func summarize(_ results: [CorrelationResult], threshold: Double) -> ScoreSummary {
        summarize(results.map(\.value), threshold: threshold)
    }
}
