import AutoInterpLLM
import Foundation
import Testing

@testable import AutoInterp

/// The detection/fuzzing metrics against hand-worked tables, their undefined cases, the answer
/// parser and the p(1) reading from logprobs.
struct ClassificationMetricsTests {
    typealias Row = ClassificationMetrics.Row

    static func rows(_ table: [(label: Int, predicted: Int?, p: Double?)]) -> [Row] {
        table.map { Row(label: $0.label, predicted: $0.predicted, probability: $0.p) }
    }

    /// 6 positives, 6 negatives: TP 4, FN 2, TN 5, FP 1.
    @Test func confusionTableMetrics() throws {
        let table: [(Int, Int?, Double?)] = [
            (1, 1, nil), (1, 1, nil), (1, 1, nil), (1, 1, nil), (1, 0, nil), (1, 0, nil),
            (0, 0, nil), (0, 0, nil), (0, 0, nil), (0, 0, nil), (0, 0, nil), (0, 1, nil),
        ]
        let result = ClassificationMetrics.compute(Self.rows(table.map { ($0.0, $0.1, $0.2) }))
        // Recall 4/6, specificity 5/6: balanced accuracy (4/6 + 5/6) / 2 = 0.75.
        #expect(abs(try #require(result.balancedAccuracy.value) - 0.75) < 1e-12)
        #expect(abs(try #require(result.recall.value) - 4.0 / 6) < 1e-12)
        #expect(abs(try #require(result.precision.value) - 0.8) < 1e-12)
        // F1 = 2 · 0.8 · (2/3) / (0.8 + 2/3) = 8/11.
        #expect(abs(try #require(result.f1.value) - 8.0 / 11) < 1e-12)
        #expect(result.auprc.value == nil && result.auprc.undefinedReason == ClassificationMetrics.noConfidences)
        #expect(result.all.allSatisfy { $0.n == 12 })
    }

    /// Average precision with tied confidences, worked by hand (4 positives):
    /// 0.9: R .25, P 1 → .25; 0.8 (1 pos, 1 neg): R .5, P 2/3 → 1/6; 0.6: R stays;
    /// 0.5 (1 pos, 2 neg): R .75, P 3/7 → 3/28; 0.3: R stays; 0.2: R 1, P 4/9 → 1/9; 0.1: R stays.
    @Test func averagePrecisionGroupsTies() throws {
        let table: [(Int, Int?, Double?)] = [
            (1, 1, 0.9), (1, 1, 0.8), (0, 1, 0.8), (0, 1, 0.6), (1, 0, 0.5), (0, 0, 0.5), (0, 0, 0.5), (0, 0, 0.3),
            (1, 0, 0.2), (0, 0, 0.1),
        ]
        let result = ClassificationMetrics.compute(Self.rows(table.map { ($0.0, $0.1, $0.2) }))
        let expected = 0.25 + 1.0 / 6 + 3.0 / 28 + 1.0 / 9
        #expect(abs(try #require(result.auprc.value) - expected) < 1e-12)
        // Reordering the rows changes nothing (ties are grouped, not broken by order).
        let shuffled = ClassificationMetrics.compute(Self.rows(table.reversed().map { ($0.0, $0.1, $0.2) }))
        #expect(shuffled.auprc == result.auprc)
        // All rows tied: AP is the share of positives.
        let flat = ClassificationMetrics.compute(Self.rows(table.map { ($0.0, $0.1, 0.5) }))
        #expect(abs(try #require(flat.auprc.value) - 0.4) < 1e-12)
    }

    @Test func undefinedCasesSayWhy() throws {
        // Too few answered rows: the failed ones do not count.
        var table: [(Int, Int?, Double?)] = (0..<9).map { ($0 % 2, $0 % 2, 0.5) } + [(1, nil, nil), (0, nil, nil)]
        var result = ClassificationMetrics.compute(Self.rows(table))
        #expect(result.all.allSatisfy { $0.value == nil && $0.undefinedReason?.contains("only 9 answered example(s) (2 failed)") == true })
        // No positives / no negatives.
        result = ClassificationMetrics.compute(Self.rows((0..<12).map { _ in (0, 0, 0.1) }))
        #expect(result.all.allSatisfy { $0.value == nil && $0.undefinedReason?.contains("no positive examples") == true })
        result = ClassificationMetrics.compute(Self.rows((0..<12).map { _ in (1, 1, 0.9) }))
        #expect(result.all.allSatisfy { $0.value == nil && $0.undefinedReason?.contains("no negative examples") == true })
        // Nothing predicted positive: precision and F1 undefined, the rest defined.
        table = (0..<12).map { ($0 % 2, 0, 0.2) }
        result = ClassificationMetrics.compute(Self.rows(table))
        #expect(result.precision.value == nil && result.precision.undefinedReason == "nothing was predicted positive")
        #expect(result.f1.value == nil && result.f1.undefinedReason != nil)
        #expect(result.balancedAccuracy.value == 0.5 && result.recall.value == 0)
        // Every confidence equal (0.2): AP is the share of positives, defined.
        #expect(result.auprc.value == 0.5)
        // Some answers without a confidence: AUPRC undefined, saying how many.
        table[3].2 = nil
        result = ClassificationMetrics.compute(Self.rows(table))
        #expect(result.auprc.value == nil && result.auprc.undefinedReason == "1 of 12 answers have no confidence")
        // Precision 0 and recall 0 with predicted positives: F1 is 0, defined.
        table = (0..<12).map { ($0 % 2, 1 - $0 % 2, nil) }
        result = ClassificationMetrics.compute(Self.rows(table))
        #expect(result.f1.value == 0 && result.precision.value == 0 && result.balancedAccuracy.value == 0)
    }

    @Test func scoresAreNamedPerScorer() {
        let rows = (0..<12).map { i in
            StoredClassification(exampleID: Int64(i), label: i % 2, outcome: .answered(predicted: i % 2, probability: i % 2 == 1 ? 0.9 : 0.1))
        }
        let scores = ClassificationMetrics.scores(.fuzzing, from: rows)
        #expect(scores.map(\.metric.rawValue) == ["fuzzing_balanced_accuracy", "fuzzing_f1", "fuzzing_precision", "fuzzing_recall", "fuzzing_auprc"])
        #expect(scores.allSatisfy { $0.subset == .all && $0.value == 1 && $0.n == 12 })
        #expect(StoredScore.Metric.classification(.detection) == [
            .detectionBalancedAccuracy, .detectionF1, .detectionPrecision, .detectionRecall, .detectionAUPRC,
        ])
    }

    @Test func answersAreReadStrictly() throws {
        #expect(try ClassificationAnswer.parse("{\"answers\": [0, 1, 1]}", count: 3).get() == [0, 1, 1])
        #expect(try ClassificationAnswer.parse("```json\n[1, 0]\n```", count: 2).get() == [1, 0])
        #expect(try ClassificationAnswer.parse("{\"answers\": [\"1\", true]}", count: 2).get() == [1, 1])
        func reason(_ text: String, _ count: Int) -> String {
            if case .failure(let failure) = ClassificationAnswer.parse(text, count: count) { return failure.reason }
            return "parsed"
        }
        #expect(reason("yes, no, yes", 3).contains("not valid JSON"))
        #expect(reason("{\"answers\": [0, 1]}", 3) == "the scorer gave 2 answers for 3 examples")
        #expect(reason("{\"answers\": [0, 2, 1]}", 3) == "answer 2 of the scorer's answer is not 0 or 1")
        #expect(reason("{\"labels\": [0]}", 1).contains("no \"answers\" list"))
        #expect(reason("  ", 1) == "the scorer answered with empty text")
    }

    @Test func probabilityOfOneFromTopLogprobs() throws {
        typealias T = ChatCompletionResponse.TokenLogprob
        typealias A = ChatCompletionResponse.TopLogprob
        let tokens: [T] = [
            T(token: "{\"", logprob: 0), T(token: "answers", logprob: 0), T(token: "\":", logprob: 0), T(token: " [", logprob: 0),
            T(token: "1", logprob: log(0.7), topLogprobs: [A(token: "1", logprob: log(0.7)), A(token: "0", logprob: log(0.2)), A(token: "x", logprob: log(0.1))]),
            T(token: ",", logprob: 0),
            T(token: " 0", logprob: log(0.6), topLogprobs: [A(token: " 0", logprob: log(0.6)), A(token: " 1", logprob: log(0.3))]),
            T(token: "]}", logprob: 0),
        ]
        let p = try #require(ClassificationAnswer.probabilities(tokens, count: 2))
        #expect(abs(p[0] - 0.7 / 0.9) < 1e-12 && abs(p[1] - 0.3 / 0.9) < 1e-12)
        // A count that does not match the digit tokens gives no confidences, never shifted ones.
        #expect(ClassificationAnswer.probabilities(tokens, count: 3) == nil)
        #expect(ClassificationAnswer.probabilities(nil, count: 2) == nil)
        // `[1` carries the first answer.
        let packed: [T] = [T(token: "[1", logprob: 0, topLogprobs: [A(token: "[1", logprob: log(0.5)), A(token: "[0", logprob: log(0.5))])]
        #expect(ClassificationAnswer.probabilities(packed, count: 1) == [0.5])
    }

    @Test func highlightedSpansFollowWords() {
        #expect(TokenText.join(["the", "cat", "sat"], highlighted: [1]) == "the <<cat>> sat")
        #expect(TokenText.join(["the", "cat", "sat"], highlighted: [1, 2]) == "the <<cat>> <<sat>>")
        #expect(TokenText.join(["play", "##ing", "now"], highlighted: [0, 1]) == "<<playing>> now")
        #expect(TokenText.join(["play", "##ing", "now"], highlighted: [1]) == "play<<ing>> now")
        #expect(TokenText.join(["a", "b"], marked: 1) == "a [[b]]")
    }
}
