import Foundation

/// A correlation coefficient, or the reason it is undefined, and the number of pairs it covers.
///
/// Maps one-to-one to a row of the `scores` table: `value` is NULL exactly when `undefinedReason`
/// is set. An undefined coefficient is never reported as 0.
public struct CorrelationResult: Sendable, Equatable, Codable, CustomStringConvertible {
    /// The coefficient in [-1, 1], or nil when undefined.
    public var value: Double?
    /// Why the coefficient is undefined (e.g. "predicted values are constant"); nil when defined.
    public var undefinedReason: String?
    /// Number of (true, predicted) pairs considered.
    public var n: Int

    /// A defined coefficient over `n` pairs.
    public static func defined(_ value: Double, n: Int) -> Self {
        .init(value: value, undefinedReason: nil, n: n)
    }

    /// An undefined coefficient over `n` pairs, with the reason.
    public static func undefined(_ reason: String, n: Int) -> Self {
        .init(value: nil, undefinedReason: reason, n: n)
    }

    /// Whether the coefficient has a value.
    public var isDefined: Bool { value != nil }

    public var description: String {
        if let value { return "\(value) (n = \(n))" }
        return "undefined: \(undefinedReason ?? "unknown reason") (n = \(n))"
    }
}

/// Pearson and Spearman correlation in `Double`, undefined (with a reason) rather than made up.
///
/// A coefficient is undefined when the two sides differ in length, there are fewer than 2 pairs,
/// any value is NaN or infinite, or either side is constant (zero variance).
public enum Correlation {
    /// Reason text used when the true side is constant.
    public static let trueConstantReason = "true values are constant"
    /// Reason text used when the predicted side is constant.
    public static let predictedConstantReason = "predicted values are constant"
    /// Reason text used when both sides are constant.
    public static let bothConstantReason = "true and predicted values are constant"

    /// The Pearson product-moment correlation of `actual` (true) and `predicted`.
    public static func pearson(_ actual: [Double], _ predicted: [Double]) -> CorrelationResult {
        if let problem = validate(actual, predicted) { return problem }
        return pearsonOfValid(actual, predicted)
    }

    /// The Spearman rank correlation of `actual` (true) and `predicted`: Pearson of average ranks.
    public static func spearman(_ actual: [Double], _ predicted: [Double]) -> CorrelationResult {
        if let problem = validate(actual, predicted) { return problem }
        return pearsonOfValid(averageRanks(actual), averageRanks(predicted))
    }

    /// 1-based ranks of `xs`, tied values sharing the average of their ranks (`[10, 20, 20]` → `[1, 2.5, 2.5]`).
    ///
    /// Values are ordered by `<`; NaN has no defined place, so callers pass finite values.
    public static func averageRanks(_ xs: [Double]) -> [Double] {
        let order = xs.indices.sorted { xs[$0] < xs[$1] }
        var ranks = [Double](repeating: 0, count: xs.count)
        var start = 0
        while start < order.count {
            var end = start + 1
            while end < order.count, xs[order[end]] == xs[order[start]] { end += 1 }
            // Positions start..<end (0-based) hold ranks start+1 ... end; their mean:
            let rank = Double(start + 1 + end) / 2
            for k in start..<end { ranks[order[k]] = rank }
            start = end
        }
        return ranks
    }

    /// The undefined result for invalid input, or nil when both sides can be correlated.
    static func validate(_ actual: [Double], _ predicted: [Double]) -> CorrelationResult? {
        guard actual.count == predicted.count else {
            return .undefined(
                "true and predicted values differ in length (\(actual.count) vs \(predicted.count))",
                n: Swift.min(actual.count, predicted.count))
        }
        let n = actual.count
        guard n >= 2 else { return .undefined("fewer than 2 values (n = \(n))", n: n) }
        let actualFinite = actual.allSatisfy(\.isFinite)
        let predictedFinite = predicted.allSatisfy(\.isFinite)
        switch (actualFinite, predictedFinite) {
        case (false, false): return .undefined("true and predicted values contain NaN or infinity", n: n)
        case (false, true): return .undefined("true values contain NaN or infinity", n: n)
        case (true, false): return .undefined("predicted values contain NaN or infinity", n: n)
        case (true, true): break
        }
        // Exact comparison: a two-pass mean of a constant need not reproduce it exactly.
        let actualConstant = actual.allSatisfy { $0 == actual[0] }
        let predictedConstant = predicted.allSatisfy { $0 == predicted[0] }
        switch (actualConstant, predictedConstant) {
        case (true, true): return .undefined(bothConstantReason, n: n)
        case (true, false): return .undefined(trueConstantReason, n: n)
        case (false, true): return .undefined(predictedConstantReason, n: n)
        case (false, false): return nil
        }
    }

    /// Pearson of validated input (equal length >= 2, finite, neither side exactly constant).
    private static func pearsonOfValid(_ x: [Double], _ y: [Double]) -> CorrelationResult {
        let n = x.count
        // Scale each side into [-1, 1] first (Pearson is scale invariant) so squares cannot overflow.
        let xs = scaledToUnit(x)
        let ys = scaledToUnit(y)
        // Two-pass: means first, then centred sums.
        let mx = xs.reduce(0, +) / Double(n)
        let my = ys.reduce(0, +) / Double(n)
        var sxy = 0.0, sxx = 0.0, syy = 0.0
        for i in 0..<n {
            let dx = xs[i] - mx
            let dy = ys[i] - my
            sxy += dx * dy
            sxx += dx * dx
            syy += dy * dy
        }
        // Spreads far below Double's resolution can still vanish; report them as constant.
        switch (sxx > 0, syy > 0) {
        case (false, false): return .undefined(bothConstantReason, n: n)
        case (false, true): return .undefined(trueConstantReason, n: n)
        case (true, false): return .undefined(predictedConstantReason, n: n)
        case (true, true): break
        }
        let r = sxy / (sxx.squareRoot() * syy.squareRoot())
        return .defined(Swift.min(1, Swift.max(-1, r)), n: n)
    }

    /// `xs` divided by its largest magnitude (unchanged when that is 0).
    private static func scaledToUnit(_ xs: [Double]) -> [Double] {
        let scale = xs.reduce(0) { Swift.max($0, abs($1)) }
        guard scale > 0 else { return xs }
        return xs.map { $0 / scale }
    }
}

/// Pearson and Spearman of one explanation's scored records, with the number of pairs.
public struct CorrelationScores: Sendable, Equatable, Codable {
    public var pearson: CorrelationResult
    public var spearman: CorrelationResult
    /// Number of (true, predicted) pairs over all records concatenated.
    public var n: Int

    public init(pearson: CorrelationResult, spearman: CorrelationResult, n: Int) {
        self.pearson = pearson
        self.spearman = spearman
        self.n = n
    }
}

/// Scores simulated records against true activations, as in Bills et al. 2023.
///
/// All records are concatenated into one sequence of pairs before correlating; per-record
/// coefficients are never averaged.
public enum CorrelationScorer {
    /// Pearson and Spearman over all `records` concatenated (true raw activations vs. predictions).
    ///
    /// A record whose true and predicted lengths differ makes both coefficients undefined with a
    /// reason naming the first such record (0-based), since concatenating would misalign every
    /// later pair; `n` is then the sum over records of the shorter side.
    public static func score(records: [(true: [Float], pred: [Double])]) -> CorrelationScores {
        if let bad = records.firstIndex(where: { $0.true.count != $0.pred.count }) {
            let record = records[bad]
            let reason = "record \(bad) has \(record.true.count) true values but "
                + "\(record.pred.count) predicted values"
            let n = records.reduce(0) { $0 + Swift.min($1.true.count, $1.pred.count) }
            return CorrelationScores(pearson: .undefined(reason, n: n), spearman: .undefined(reason, n: n), n: n)
        }
        var actual: [Double] = []
        var predicted: [Double] = []
        for record in records {
            actual.append(contentsOf: record.true.lazy.map(Double.init))
            predicted.append(contentsOf: record.pred)
        }
        return CorrelationScores(
            pearson: Correlation.pearson(actual, predicted),
            spearman: Correlation.spearman(actual, predicted),
            n: actual.count)
    }
}
