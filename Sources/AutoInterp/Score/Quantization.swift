import Foundation

/// Integer activation levels 0...10 shown to the explainer, as in Bills et al. 2023.
///
/// The level of an activation `x` against a maximum `M` is exactly
/// `min(10, floor((10 * max(0, x)) / M))`, evaluated in `Double` in that order
/// (`(10 * x) / M`, not `x / M * 10`: the two can floor differently).
///
/// The functions are total and never trap:
/// - `M <= 0`, NaN or infinite: every level is 0 (there is nothing to scale against);
/// - `x` NaN or `-inf`: level 0 (treated as "not active"; loaders reject NaN earlier);
/// - `x` `+inf` (or so large that `10 * x` overflows): level 10.
package enum Quantization {
    /// The highest level.
    package static let maxLevel = 10

    /// The level of one activation `x` against the maximum `m`.
    package static func level(_ x: Double, max m: Double) -> Int {
        guard m.isFinite, m > 0 else { return 0 }
        // NaN and anything <= 0 (including -inf) are level 0.
        guard x > 0 else { return 0 }
        let scaled = (10 * x) / m
        // `!(scaled < 10)` also catches +inf; floor of a value in [0, 10) fits an Int.
        guard scaled < Double(maxLevel) else { return maxLevel }
        return Int(scaled.rounded(.down))
    }

    /// The levels of `xs` against the maximum `m`.
    package static func quantize(_ xs: [Double], max m: Double) -> [Int] {
        xs.map { level($0, max: m) }
    }

    /// The levels of `xs` (converted exactly to `Double`) against the maximum `m`.
    package static func quantize(_ xs: [Float], max m: Double) -> [Int] {
        xs.map { level(Double($0), max: m) }
    }

    /// The maximum used for a set of shown records: the largest finite activation over all of them.
    ///
    /// Non-finite values are ignored; with no finite value at all the maximum is 0 (so every level is 0).
    package static func maximum(of records: [[Float]]) -> Double {
        var m = -Double.infinity
        for record in records {
            for x in record where x.isFinite {
                m = Swift.max(m, Double(x))
            }
        }
        return m.isFinite ? m : 0
    }

    /// The levels of every record, with `M` the maximum over all the records given (``maximum(of:)``).
    package static func quantize(records: [[Float]]) -> [[Int]] {
        let m = maximum(of: records)
        return records.map { quantize($0, max: m) }
    }
}
