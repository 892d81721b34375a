import AutoInterpLLM
import Foundation
import Testing
@testable import AutoInterp

/// An endpoint's alternative at one position (the one top-logprob type, from the LLM client).
typealias TopLogprob = ChatCompletionResponse.TopLogprob

/// Whether `a` and `b` agree within `tolerance`.
private func close(_ a: Double?, _ b: Double, _ tolerance: Double = 1e-6) -> Bool {
    guard let a else { return false }
    return abs(a - b) <= tolerance
}

/// The scoring math: quantization, logprob expectation, correlations, rank test, summaries.
struct ScoreTests {}

extension ScoreTests {
    @Suite struct QuantizationTests {
        struct Case: Sendable, CustomTestStringConvertible {
            var activations: [Double]
            var max: Double
            var expected: [Int]
            var testDescription: String { "\(activations) / \(max)" }
        }

        /// REFERENCE.md's table, plus order-of-operations cases found by search.
        static let cases: [Case] = [
            Case(activations: [-1.0, -0.5], max: -0.5, expected: [0, 0]),
            Case(activations: [0, 0, 0], max: 0, expected: [0, 0, 0]),
            Case(activations: [-2.0, 0.5, 1.0], max: 1.0, expected: [0, 5, 10]),
            Case(activations: [0.37], max: 0.45, expected: [8]),
            Case(activations: [0.099, 0.1, 0.1999, 0.95, 0.9999, 1.0, 1.5], max: 1.0,
                 expected: [0, 1, 1, 9, 9, 10, 10]),
            Case(activations: [0, 0, 0, 1, 2, 0, 0.23, 0.5, 0, 0, 0], max: 2.84,
                 expected: [0, 0, 0, 3, 7, 0, 0, 1, 0, 0, 0]),
            // REFERENCE.md lists 6 here, but 0.05676 / 0.08108 = 0.70005 (0.08108 * 0.7 = 0.056756 < 0.05676),
            // so the formula gives 7 in every evaluation order; numpy agrees.
            Case(activations: [0.05676], max: 0.08108, expected: [7]),
            // Cases where the order matters: `x / M * 10` would give 0, 6, 6 and 1.
            Case(activations: [0.007], max: 0.07, expected: [1]),
            Case(activations: [0.015], max: 0.025, expected: [5]),
            Case(activations: [0.03], max: 0.05, expected: [5]),
            Case(activations: [0.01], max: 0.1, expected: [1]),
        ]

        @Test(arguments: cases)
        func referenceTable(_ c: Case) {
            #expect(Quantization.quantize(c.activations, max: c.max) == c.expected)
        }

        @Test func specFormulaOrder() {
            // The exact formula, and that the naive order really differs on these inputs.
            #expect(Int(floor(0.007 / 0.07 * 10)) == 0)
            #expect(Int(floor(0.015 / 0.025 * 10)) == 6)
            #expect(Quantization.level(0.007, max: 0.07) == 1)
            #expect(Quantization.level(0.015, max: 0.025) == 5)
        }

        @Test func floatOverloadMatchesDouble() {
            let xs: [Float] = [-2, 0.5, 1, 0.25, 0.75]
            #expect(Quantization.quantize(xs, max: 1) == [0, 5, 10, 2, 7])
            #expect(Quantization.quantize(xs, max: 1) == Quantization.quantize(xs.map(Double.init), max: 1))
        }

        @Test func nonFiniteNeverTraps() {
            #expect(Quantization.quantize([Double.nan, .infinity, -.infinity, 0.5], max: 1) == [0, 10, 0, 5])
            #expect(Quantization.quantize([1.0, 2], max: .nan) == [0, 0])
            #expect(Quantization.quantize([1.0, 2], max: .infinity) == [0, 0])
            #expect(Quantization.quantize([1.0, 2], max: -.infinity) == [0, 0])
            #expect(Quantization.quantize([Double.greatestFiniteMagnitude], max: .leastNonzeroMagnitude) == [10])
            #expect(Quantization.quantize([Double(1e-300)], max: .greatestFiniteMagnitude) == [0])
            #expect(Quantization.quantize([Double](), max: 1) == [])
        }

        @Test func recordsUseMaxOverAllShownRecords() {
            let records: [[Float]] = [[0, 1, 0.5], [2, -1], []]
            #expect(Quantization.maximum(of: records) == 2)
            #expect(Quantization.quantize(records: records) == [[0, 5, 2], [10, 0], []])
        }

        @Test func recordsEdgeCases() {
            #expect(Quantization.quantize(records: []) == [])
            #expect(Quantization.quantize(records: [[-1, -2], [0]]) == [[0, 0], [0]])
            // NaN and inf are ignored for the maximum; +inf still quantizes to 10.
            #expect(Quantization.maximum(of: [[.nan, 1, .infinity]]) == 1)
            #expect(Quantization.quantize(records: [[.nan, 0.5, .infinity, 1]]) == [[0, 5, 10, 10]])
            #expect(Quantization.maximum(of: [[.nan]]) == 0)
        }
}
}

extension ScoreTests {
    @Suite struct LogprobExpectationTests {
        struct Case: Sendable, CustomTestStringConvertible {
            var top: [TopLogprob]
            var expected: Double?
            var testDescription: String { top.map { "\($0.token.debugDescription)" }.joined(separator: ",") }

            init(_ probabilities: [(String, Double)], _ expected: Double?) {
                top = probabilities.map { TopLogprob(token: $0.0, logprob: log($0.1)) }
                self.expected = expected
            }
        }

        /// REFERENCE.md's table, plus more non-digit tokens.
        static let cases: [Case] = [
            Case([("0", 0.5), ("1", 0.25), ("10", 0.125), ("unknown", 0.125)], 1.714286),
            Case([("0", 0.9), ("5", 0.05)], 0.263158),
            Case([("0", 0.7), ("2", 0.2), ("7", 0.1)], 1.1),
            Case([("unknown", 0.5), (" 1", 0.3), ("\n", 0.2)], nil),
            Case([("01", 0.6), ("3", 0.4)], 3.0),
            Case([("1 ", 0.3), ("11", 0.3), ("-1", 0.2), ("1.", 0.1), ("", 0.05), ("١", 0.05)], nil),
            Case([("10", 0.01)], 10.0),
            Case([], nil),
        ]

        @Test(arguments: cases)
        func referenceTable(_ c: Case) throws {
            let ev = LogprobExpectation.expectedValue(c.top)
            if let expected = c.expected {
                #expect(close(ev, expected))
            } else {
                #expect(ev == nil)
            }
        }

        @Test func tupleOverload() {
            let ev = LogprobExpectation.expectedValue([(token: "0", logprob: log(0.7)), (token: "2", logprob: log(0.2)),
                                                       (token: "7", logprob: log(0.1))])
            #expect(close(ev, 1.1))
        }

        @Test func digitTokensAreExact() {
            for value in 0...10 {
                #expect(LogprobExpectation.digitValue(String(value)) == value)
            }
            for token in [" 0", "0 ", "00", "01", "11", "+1", "1\u{301}", "¹", "１", "one", "\t3"] {
                #expect(LogprobExpectation.digitValue(token) == nil, "\(token.debugDescription)")
            }
        }

        @Test func logSumExpIsStable() throws {
            // Very negative logprobs would underflow exp() without the shift.
            let ev = try #require(LogprobExpectation.expectedValue([
                TopLogprob(token: "2", logprob: -1000), TopLogprob(token: "4", logprob: -1000 - log(3.0)),
            ]))
            #expect(abs(ev - 2.5) < 1e-12)
            let big = try #require(LogprobExpectation.expectedValue([
                TopLogprob(token: "8", logprob: -800), TopLogprob(token: "3", logprob: -1),
            ]))
            #expect(big == 3)
        }

        @Test func nonFiniteAndDuplicateEntries() {
            // -inf is probability 0; NaN and +inf are ignored.
            #expect(LogprobExpectation.expectedValue([TopLogprob(token: "5", logprob: -.infinity)]) == nil)
            #expect(LogprobExpectation.expectedValue([
                TopLogprob(token: "5", logprob: .nan), TopLogprob(token: "9", logprob: .infinity),
                TopLogprob(token: "2", logprob: -3),
            ]) == 2)
            // Duplicated digit token strings add up: "1" twice at 0.25 each vs "3" at 0.5 → 2.
            let ev = LogprobExpectation.expectedValue([
                TopLogprob(token: "1", logprob: log(0.25)), TopLogprob(token: "1", logprob: log(0.25)),
                TopLogprob(token: "3", logprob: log(0.5)),
            ])
            #expect(close(ev, 2.0, 1e-12))
        }
}
}

extension ScoreTests {
    @Suite struct CorrelationTests {
        @Test func referenceRowWithTies() {
            let t: [Double] = [0, 0, 1, 0, 2], p: [Double] = [0, 1, 2, 0, 3]
            let pearson = Correlation.pearson(t, p), spearman = Correlation.spearman(t, p)
            #expect(close(pearson.value, 0.943242))
            #expect(close(spearman.value, 0.917663))
            #expect(pearson.n == 5 && spearman.n == 5)
            #expect(pearson.undefinedReason == nil)
        }

        @Test func perfectCorrelation() {
            #expect(close(Correlation.pearson([1, 2, 3], [1, 2, 3]).value, 1, 1e-12))
            #expect(close(Correlation.spearman([1, 2, 3], [1, 2, 3]).value, 1, 1e-12))
            #expect(close(Correlation.pearson([1, 2, 3], [3, 2, 1]).value, -1, 1e-12))
            #expect(close(Correlation.spearman([1, 2, 3], [30, 20, 10]).value, -1, 1e-12))
        }

        struct UndefinedCase: Sendable, CustomTestStringConvertible {
            var actual: [Double]
            var predicted: [Double]
            var reason: String
            var n: Int
            var testDescription: String { reason }
        }

        static let undefinedCases: [UndefinedCase] = [
            .init(actual: [1, 2, 3], predicted: [0, 0, 0], reason: "predicted values are constant", n: 3),
            .init(actual: [0, 0, 0], predicted: [1, 2, 3], reason: "true values are constant", n: 3),
            .init(actual: [0.1, 0.1, 0.1], predicted: [1, 2, 3], reason: "true values are constant", n: 3),
            .init(actual: [4, 4], predicted: [2, 2], reason: "true and predicted values are constant", n: 2),
            .init(actual: [1], predicted: [1], reason: "fewer than 2 values (n = 1)", n: 1),
            .init(actual: [], predicted: [], reason: "fewer than 2 values (n = 0)", n: 0),
            .init(actual: [1, 2, 3], predicted: [1, 2],
                  reason: "true and predicted values differ in length (3 vs 2)", n: 2),
            .init(actual: [1, .nan, 3], predicted: [1, 2, 3], reason: "true values contain NaN or infinity", n: 3),
            .init(actual: [1, 2, 3], predicted: [1, .infinity, 3],
                  reason: "predicted values contain NaN or infinity", n: 3),
            .init(actual: [-.infinity, 2], predicted: [.nan, 3],
                  reason: "true and predicted values contain NaN or infinity", n: 2),
        ]

        @Test(arguments: undefinedCases)
        func undefinedWithReason(_ c: UndefinedCase) {
            for result in [Correlation.pearson(c.actual, c.predicted), Correlation.spearman(c.actual, c.predicted)] {
                #expect(result.value == nil)
                #expect(!result.isDefined)
                #expect(result.undefinedReason == c.reason)
                #expect(result.n == c.n)
            }
        }

        @Test func tinySpreadBelowResolutionIsConstantNotZero() {
            // Subnormal values: scaling keeps them correlatable; either way never a made-up 0.
            let tiny = Double.leastNonzeroMagnitude * 1000
            let r = Correlation.pearson([tiny, 0, tiny], [1, 2, 3])
            #expect(r.value == nil || close(r.value, Correlation.pearson([1, 0, 1], [1, 2, 3]).value ?? .nan))
            #expect(r.value != 0)
        }

        @Test func hugeValuesDoNotOverflow() {
            let r = Correlation.pearson([1e200, 2e200, 3e200], [1, 2, 3.5])
            #expect(close(r.value, Correlation.pearson([1, 2, 3], [1, 2, 3.5]).value ?? .nan, 1e-12))
        }

        @Test func averageRanksForTies() {
            #expect(Correlation.averageRanks([10, 20, 20, 5]) == [2, 3.5, 3.5, 1])
            #expect(Correlation.averageRanks([0, 0, 1, 0, 2]) == [2, 2, 4, 2, 5])
            #expect(Correlation.averageRanks([7, 7, 7]) == [2, 2, 2])
            #expect(Correlation.averageRanks([]) == [])
        }

        @Test func pearsonInvariantToAffinePrediction() {
            let t: [Double] = [0, 3.2, 0.1, -0.2, -0.1, 0, 0, -0.3]
            let p: [Double] = [0.2, 8.5, 0.9, 0, 0, 0.4, 0, 0]
            let base = Correlation.pearson(t, p).value ?? .nan
            #expect(close(Correlation.pearson(t, p.map { 2 * $0 + 3 }).value, base, 1e-12))
            #expect(close(Correlation.pearson(t.map { 2 * $0 + 3 }, p).value, base, 1e-12))
            // Not invariant to a non-linear increasing map.
            #expect(!close(Correlation.pearson(t, p.map { exp($0) }).value, base, 1e-3))
        }

        @Test func spearmanInvariantToIncreasingMap() {
            let t: [Double] = [0, 3.2, 0.1, -0.2, -0.1, 0, 0, -0.3]
            let p: [Double] = [0.2, 8.5, 0.9, 0, 0, 0.4, 0, 0]
            let base = Correlation.spearman(t, p).value ?? .nan
            #expect(close(base, 0.870791))
            #expect(close(Correlation.spearman(t, p.map { exp($0) }).value, base, 1e-12))
            #expect(close(Correlation.spearman(t, p.map { 2 * $0 + 3 }).value, base, 1e-12))
            #expect(close(Correlation.spearman(t.map { $0 * $0 * $0 }, p.map { atan($0) }).value, base, 1e-12))
        }
}
}

extension ScoreTests {
    @Suite struct CorrelationScorerTests {
        @Test func concatenatesBeforeCorrelating() {
            let records: [(true: [Float], pred: [Double])] = [
                ([0, 0, 5, 0], [0, 1, 9, 0]),
                ([0, 1, 0, 0], [0, 0, 0, 2]),
                ([0, 0, 0, 0], [0, 0, 1, 0]),
            ]
            let scores = CorrelationScorer.score(records: records)
            #expect(scores.n == 12)
            #expect(scores.pearson.n == 12 && scores.spearman.n == 12)
            #expect(close(scores.pearson.value, 0.940120))
            #expect(close(scores.spearman.value, 0.317406))

            // Not the mean of per-record coefficients: the third record's is undefined, the mean of the
            // other two is 0.330.
            let perRecord = records.map { Correlation.pearson($0.true.map(Double.init), $0.pred) }
            #expect(perRecord[2].undefinedReason == "true values are constant")
            let defined = perRecord.compactMap(\.value)
            let mean = defined.reduce(0, +) / Double(defined.count)
            #expect(abs(mean - 0.330) < 1e-3)
        }

        @Test func topRandomAndConcatenated() {
            let top: (true: [Float], pred: [Double]) = ([0, 3.2, 0.1, -0.2], [0.2, 8.5, 0.9, 0])
            let random: (true: [Float], pred: [Double]) = ([-0.1, 0, 0, -0.3], [0, 0.4, 0, 0])
            // Float true values: 3.2 etc. are not exact in Float, so allow 1e-6.
            #expect(close(CorrelationScorer.score(records: [top]).pearson.value, 0.998954))
            #expect(close(CorrelationScorer.score(records: [random]).pearson.value, 0.471405))
            let all = CorrelationScorer.score(records: [top, random])
            #expect(close(all.pearson.value, 0.996520))
            #expect(all.n == 8)
        }

        @Test func undefinedCases() {
            let empty = CorrelationScorer.score(records: [])
            #expect(empty.n == 0)
            #expect(empty.pearson.undefinedReason == "fewer than 2 values (n = 0)")

            let constant = CorrelationScorer.score(records: [([1, 2], [0, 0]), ([3], [0])])
            #expect(constant.pearson.value == nil && constant.spearman.value == nil)
            #expect(constant.pearson.undefinedReason == "predicted values are constant")
            #expect(constant.spearman.undefinedReason == "predicted values are constant")
            #expect(constant.n == 3)

            let mismatch = CorrelationScorer.score(records: [([1, 2], [1, 2]), ([3, 4, 5], [1, 2])])
            #expect(mismatch.pearson.value == nil && mismatch.spearman.value == nil)
            #expect(mismatch.pearson.undefinedReason == "record 1 has 3 true values but 2 predicted values")
            #expect(mismatch.n == 4)
        }
}
}

extension ScoreTests {
    @Suite struct RankTestTests {
        struct Case: Sendable, CustomTestStringConvertible {
            var x: [Double]
            var y: [Double]
            var u: Double
            var z: Double
            var p: Double
            var testDescription: String { "\(x) vs \(y)" }
        }

        /// Reference values from scipy 1.17.1:
        /// `mannwhitneyu(x, y, alternative='two-sided', method='asymptotic', use_continuity=True)`;
        /// z recomputed in numpy as `sign(U - n1 n2 / 2) * max(0, |U - n1 n2 / 2| - 0.5) / sigma_tie`.
        static let cases: [Case] = [
            .init(x: [0.61, 0.42, 0.75, 0.42, 0.9, 0.33, 0.58], y: [0.2, 0.42, 0.15, 0.31, 0.05, 0.33],
                  u: 39.5, z: 2.5892735362, p: 0.009617866157250228),
            .init(x: [1, 2, 3], y: [4, 5, 6], u: 0, z: -1.7457431219, p: 0.08085559837005224),
            .init(x: [0.1, 0.5, 0.5, 0.5, 0.9, 0.2, 0.3, 0.3], y: [0.5, 0.3, 0.8, 0.8, 0.1, 0.5],
                  u: 19.5, z: -0.5318160235, p: 0.5948534237883254),
            .init(x: [3], y: [1, 2], u: 2, z: 0.6123724357, p: 0.5402913746074199),
            .init(x: [1, 2, 3, 4], y: [2.5, 2.6], u: 4, z: 0, p: 1),
        ]

        @Test(arguments: cases)
        func matchesScipy(_ c: Case) throws {
            let r = try #require(RankTest.mannWhitneyU(c.x, c.y))
            #expect(r.u == c.u)
            #expect(abs(r.z - c.z) < 1e-9)
            #expect(abs(r.p - c.p) < 1e-9)
            #expect(r.n1 == c.x.count && r.n2 == c.y.count)
            #expect(abs(r.effectSize - c.u / Double(c.x.count * c.y.count)) < 1e-12)
        }

        @Test func symmetry() throws {
            let x: [Double] = [0.61, 0.42, 0.75, 0.42, 0.9, 0.33, 0.58]
            let y: [Double] = [0.2, 0.42, 0.15, 0.31, 0.05, 0.33]
            let a = try #require(RankTest.mannWhitneyU(x, y))
            let b = try #require(RankTest.mannWhitneyU(y, x))
            #expect(a.u + b.u == Double(x.count * y.count))
            #expect(abs(a.z + b.z) < 1e-12)
            #expect(abs(a.p - b.p) < 1e-12)
            #expect(abs(a.effectSize + b.effectSize - 1) < 1e-12)
            #expect(close(a.effectSize, 0.9404761904761905, 1e-12))
        }

        @Test func degenerateInputs() throws {
            #expect(RankTest.mannWhitneyU([], [1, 2]) == nil)
            #expect(RankTest.mannWhitneyU([1], []) == nil)
            #expect(RankTest.mannWhitneyU([.nan], [1]) == nil)
            // All tied: scipy gives p = 1 (statistic 3); variance 0 here, so p = 1 and z = 0 by definition.
            let tied = try #require(RankTest.mannWhitneyU([1, 1, 1], [1, 1]))
            #expect(tied.u == 3 && tied.z == 0 && tied.p == 1 && tied.effectSize == 0.5)
            // NaN values are dropped before ranking.
            let dropped = try #require(RankTest.mannWhitneyU([1, .nan, 2, 3], [4, 5, .nan, 6]))
            #expect(dropped.n1 == 3 && dropped.n2 == 3)
            #expect(abs(dropped.p - 0.08085559837005224) < 1e-9)
        }
}
}

extension ScoreTests {
    @Suite struct SummaryTests {
        @Test func excludesAndCountsUndefined() throws {
            let s = Summary.summarize([0.5, nil, 0.2, .nan, 0.9, 0.1], threshold: 0.3)
            #expect(s.total == 6 && s.definedCount == 4 && s.undefinedCount == 2)
            #expect(close(s.mean, 0.425, 1e-12))
            #expect(close(s.median, 0.35, 1e-12))
            #expect(s.shareAbove == 0.5)
            #expect(s.threshold == 0.3)
        }

        @Test func oddCountAndStrictThreshold() {
            let s = Summary.summarize([3, 1, 2], threshold: 2)
            #expect(s.median == 2 && s.mean == 2)
            #expect(close(s.shareAbove, 1.0 / 3, 1e-12))
        }

        @Test func nothingDefined() {
            let s = Summary.summarize([nil, nil], threshold: 0)
            #expect(s.definedCount == 0 && s.undefinedCount == 2)
            #expect(s.mean == nil && s.median == nil && s.shareAbove == nil)
            #expect(Summary.summarize([Double?](), threshold: 0).total == 0)
        }

        @Test func fromCorrelationResults() {
            let results = [
                Correlation.pearson([1, 2, 3], [1, 2, 3]),
                Correlation.pearson([1, 2, 3], [0, 0, 0]),
                Correlation.pearson([1, 2, 3], [3, 2, 1]),
            ]
            let s = Summary.summarize(results, threshold: 0)
            #expect(s.definedCount == 2 && s.undefinedCount == 1)
            #expect(close(s.mean, 0, 1e-12))
            #expect(s.shareAbove == 0.5)
        }
}

    /// SmolLM2 (like most llama.cpp models) writes 10 as the tokens "1", "0": a predicted 10 must read as 10, not 1.
    @Test func tenSplitOverTwoTokensReadsAsTen() throws {
        typealias Top = ChatCompletionResponse.TopLogprob
        let here = [Top(token: "1", logprob: log(0.8)), Top(token: "0", logprob: log(0.2))]
        let next = [Top(token: "0", logprob: log(0.9)), Top(token: "\n", logprob: log(0.1))]
        // P(10) = 0.8 · 0.9, P(1) = 0.8 · 0.1, P(0) = 0.2.
        let value = try #require(LogprobExpectation.expectedValue(here, continuation: next))
        #expect(abs(value - (0.72 * 10 + 0.08 * 1)) < 1e-12)
        // Without a continuation (or with no "0" in it) "1" is 1, as before.
        #expect(LogprobExpectation.expectedValue(here, continuation: nil) == LogprobExpectation.expectedValue(here))
        #expect(LogprobExpectation.expectedValue(here, continuation: [Top(token: "\n", logprob: 0)]) == LogprobExpectation.expectedValue(here))

        // Through the parser: an answer line `cat<TAB>10` tokenised as "cat", "\t", "1", "0", "\n".
        let answer: [ChatCompletionResponse.TokenLogprob] = [
            .init(token: "<excerpt 1>", logprob: 0), .init(token: "\n", logprob: 0), .init(token: "cat", logprob: 0), .init(token: "\t", logprob: 0),
            .init(token: "1", logprob: log(0.95), topLogprobs: [Top(token: "1", logprob: log(0.95)), Top(token: "0", logprob: log(0.05))]),
            .init(token: "0", logprob: log(0.99), topLogprobs: [Top(token: "0", logprob: log(0.99)), Top(token: "\n", logprob: log(0.01))]),
            .init(token: "\n", logprob: 0), .init(token: "</excerpt>", logprob: 0),
        ]
        let outcomes = SimulationParser.parseLogprobs(answer, records: [["cat"]])
        let values = try #require(outcomes.first?.values)
        #expect(values.count == 1 && values[0] > 9.3, "\(values)")
    }
}
