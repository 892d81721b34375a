package import AutoInterpLLM
import Foundation

/// The simulator's prediction at one value position from the top logprobs of the digit tokens.
///
/// Only the exact strings `"0"`, `"1"`, …, `"10"` count as digits; `" 1"`, `"01"`, `"1."`, `"\n"`
/// and everything else is ignored. The probabilities of the digit tokens present are renormalised
/// to sum to 1 and the expected digit is returned. With no usable digit token there is no
/// prediction (nil), which callers record as such, never as 0.
///
/// Edge cases, all total: a digit token listed more than once has its probabilities added; an entry
/// whose logprob is NaN or `+inf` is ignored; `-inf` is probability 0, so if every digit entry is
/// `-inf` (or ignored) there is no prediction.
package enum LogprobExpectation {
    /// The digit tokens, index = value.
    package static let digitTokens: [String] = (0...10).map { String($0) }

    private static let digitValues: [String: Int] = Dictionary(
        uniqueKeysWithValues: digitTokens.enumerated().map { ($1, $0) })

    /// The value of `token` when it is exactly one of `"0"` … `"10"`, else nil.
    package static func digitValue(_ token: String) -> Int? {
        // Compare scalars too: `String ==` uses canonical equivalence, we want the exact bytes.
        guard let value = digitValues[token], token.utf8.elementsEqual(digitTokens[value].utf8) else {
            return nil
        }
        return value
    }

    /// The expected digit over `topLogprobs` (an endpoint's alternatives at one position), renormalised
    /// over exact digit tokens; nil when none is present.
    package static func expectedValue(_ topLogprobs: [ChatCompletionResponse.TopLogprob]) -> Double? {
        var values: [Double] = []
        var logprobs: [Double] = []
        for entry in topLogprobs {
            guard let value = digitValue(entry.token) else { continue }
            // NaN and +inf carry no usable probability; -inf is probability 0.
            guard !entry.logprob.isNaN, entry.logprob < .infinity, entry.logprob > -.infinity else { continue }
            values.append(Double(value))
            logprobs.append(entry.logprob)
        }
        guard let top = logprobs.max() else { return nil }
        // Log-sum-exp: weights relative to the largest logprob, so the largest weight is exactly 1.
        var weightSum = 0.0
        var weightedSum = 0.0
        for (value, logprob) in zip(values, logprobs) {
            let weight = exp(logprob - top)
            weightSum += weight
            weightedSum += weight * value
        }
        return weightedSum / weightSum
    }

    /// The expected value at a position whose number may span two tokens, as when a tokenizer
    /// splits `10` into `1`, `0` (SmolLM2, Llama and most models llama.cpp serves).
    ///
    /// `continuation` is the next answer position's top logprobs, given when the token chosen at
    /// this position is `1`: then the probability mass of `1` is split into "10" (the probability
    /// of `0` next) and "1" (the rest). Without it, `1` counts as 1, as before.
    package static func expectedValue(
        _ topLogprobs: [ChatCompletionResponse.TopLogprob], continuation: [ChatCompletionResponse.TopLogprob]?
    ) -> Double? {
        guard let continuation, let base = expectedValue(topLogprobs) else { return expectedValue(topLogprobs) }
        let zero = continuation.filter { digitValue($0.token) == 0 && $0.logprob.isFinite }.map { exp($0.logprob) }.reduce(0, +)
        guard zero > 0 else { return base }
        // Share of the digit mass held by "1" (as renormalised in the plain expectation).
        let digits = topLogprobs.compactMap { entry -> (Int, Double)? in
            guard let value = digitValue(entry.token), entry.logprob.isFinite else { return nil }
            return (value, entry.logprob)
        }
        guard let top = digits.map(\.1).max() else { return base }
        let total = digits.reduce(0.0) { $0 + exp($1.1 - top) }
        let one = digits.filter { $0.0 == 1 }.reduce(0.0) { $0 + exp($1.1 - top) } / total
        // E = Σ p(d)·d with "1" standing for 1 with prob (1 - q) and for 10 with prob q.
        return base + one * min(1, zero) * 9
    }

    /// The expected digit over `(token, logprob)` pairs; same rules as the `TopLogprob` overload.
    package static func expectedValue(_ topLogprobs: [(token: String, logprob: Double)]) -> Double? {
        expectedValue(topLogprobs.map { ChatCompletionResponse.TopLogprob(token: $0.token, logprob: $0.logprob) })
    }
}
