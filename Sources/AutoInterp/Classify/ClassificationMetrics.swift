import Foundation

/// The metrics of a classification scorer (detection, fuzzing) from its answers: balanced
/// accuracy, F1, precision, recall and AUPRC, each a value or the reason it is undefined.
///
/// Pure functions over (label, predicted, probability) rows. Only answered rows count (failed
/// ones have no prediction). Every metric is undefined with fewer than ``minimumValid`` answered
/// rows or when the rows do not hold both classes; precision is undefined when nothing was
/// predicted positive (and then F1); AUPRC needs a confidence on every answered row.
public enum ClassificationMetrics {
    /// The metric names, as suffixes of `<scorer>_` in `scores.metric`.
    public static let names = ["balanced_accuracy", "f1", "precision", "recall", "auprc"]
    /// Fewest answered rows a metric is computed from.
    public static let minimumValid = 10
    /// The reason AUPRC is undefined when no answer carries a confidence.
    public static let noConfidences = "no confidences (endpoint gives no logprobs)"

    /// One answer: the true label (0/1), the answer (nil when failed) and p(1) (nil without confidences).
    public struct Row: Sendable, Equatable {
        public var label: Int
        public var predicted: Int?
        public var probability: Double?

        public init(label: Int, predicted: Int?, probability: Double? = nil) {
            self.label = label
            self.predicted = predicted
            self.probability = probability
        }
    }

    /// A metric's value, or why it has none, and the rows it was computed over.
    public struct Value: Sendable, Equatable {
        public var value: Double?
        public var undefinedReason: String?
        public var n: Int

        static func defined(_ value: Double, n: Int) -> Value { Value(value: value, undefinedReason: nil, n: n) }
        static func undefined(_ reason: String, n: Int) -> Value { Value(value: nil, undefinedReason: reason, n: n) }
    }

    /// The five metrics, keyed by ``names``.
    public struct Result: Sendable, Equatable {
        public var balancedAccuracy: Value
        public var f1: Value
        public var precision: Value
        public var recall: Value
        public var auprc: Value

        /// In the order of ``ClassificationMetrics/names``.
        public var all: [Value] { [balancedAccuracy, f1, precision, recall, auprc] }
    }

    /// Computes every metric from `rows`.
    public static func compute(_ rows: [Row], minimumValid: Int = minimumValid) -> Result {
        let valid = rows.filter { $0.predicted != nil }
        let n = valid.count
        let positives = valid.count { $0.label == 1 }
        let negatives = n - positives
        func everywhere(_ reason: String) -> Result {
            let value = Value.undefined(reason, n: n)
            return Result(balancedAccuracy: value, f1: value, precision: value, recall: value, auprc: value)
        }
        let failed = rows.count - n
        if n < minimumValid {
            return everywhere("only \(n) answered example(s)\(failed > 0 ? " (\(failed) failed)" : ""); at least \(minimumValid) needed")
        }
        if positives == 0 { return everywhere("no positive examples among the \(n) answered") }
        if negatives == 0 { return everywhere("no negative examples among the \(n) answered") }
        let tp = valid.count { $0.label == 1 && $0.predicted == 1 }
        let fp = valid.count { $0.label == 0 && $0.predicted == 1 }
        let tn = valid.count { $0.label == 0 && $0.predicted != 1 }
        let recall = Double(tp) / Double(positives)
        let specificity = Double(tn) / Double(negatives)
        let balanced = Value.defined((recall + specificity) / 2, n: n)
        let precision: Value
        let f1: Value
        if tp + fp == 0 {
            precision = .undefined("nothing was predicted positive", n: n)
            f1 = .undefined("nothing was predicted positive (precision undefined)", n: n)
        } else {
            let p = Double(tp) / Double(tp + fp)
            precision = .defined(p, n: n)
            f1 = .defined(p + recall == 0 ? 0 : 2 * p * recall / (p + recall), n: n)
        }
        return Result(
            balancedAccuracy: balanced, f1: f1, precision: precision, recall: .defined(recall, n: n), auprc: auprc(valid))
    }

    /// Average precision (scikit-learn's `average_precision_score`) over answered rows: Σ (Rₖ −
    /// Rₖ₋₁)·Pₖ over the distinct confidence thresholds, highest first, rows of equal confidence
    /// entering together. Undefined unless every answered row has a finite confidence.
    static func auprc(_ valid: [Row]) -> Value {
        let n = valid.count
        let scored = valid.compactMap { row in row.probability.map { (label: row.label, p: $0) } }
        if scored.isEmpty { return .undefined(noConfidences, n: n) }
        if scored.count < n {
            return .undefined("\(n - scored.count) of \(n) answers have no confidence", n: n)
        }
        if scored.contains(where: { !$0.p.isFinite }) { return .undefined("a confidence is not a finite number", n: n) }
        let positives = scored.count { $0.label == 1 }
        guard positives > 0 else { return .undefined("no positive examples", n: n) }
        let sorted = scored.sorted { $0.p > $1.p }
        var tp = 0, seen = 0, previousRecall = 0.0, sum = 0.0
        var i = 0
        while i < sorted.count {
            let threshold = sorted[i].p
            while i < sorted.count, sorted[i].p == threshold {
                seen += 1
                if sorted[i].label == 1 { tp += 1 }
                i += 1
            }
            let recall = Double(tp) / Double(positives)
            sum += (recall - previousRecall) * Double(tp) / Double(seen)
            previousRecall = recall
        }
        return .defined(sum, n: n)
    }

    /// The `scores` rows of `scorer` (metric `<scorer>_<name>`, subset `subset`) from its stored answers.
    public static func scores(
        _ scorer: StoredClassification.Scorer, from rows: [StoredClassification], subset: StoredScore.Subset = .all
    ) -> [StoredScore] {
        let result = compute(rows.map { Row(label: $0.label, predicted: $0.predicted, probability: $0.probability) })
        return zip(StoredScore.Metric.classification(scorer), result.all).map { metric, value in
            StoredScore(metric: metric, subset: subset, value: value.value, undefinedReason: value.undefinedReason, n: value.n)
        }
    }

    /// Both subsets' rows from every stored answer of a unit: `all` over the activating and the
    /// random silent examples (the answers on hard negatives left out), and, when the unit has
    /// hard negatives, `hard` over the activating examples and the hard negatives (the random
    /// silent ones left out). `subsets` maps an example id to its `classify` subset.
    public static func scores(
        _ scorer: StoredClassification.Scorer, from rows: [StoredClassification], subsets: [Int64: ExampleSubset]
    ) -> [StoredScore] {
        let all = scores(scorer, from: rows.filter { subsets[$0.exampleID] != .hard })
        guard subsets.values.contains(.hard) else { return all }
        return all + scores(scorer, from: rows.filter { subsets[$0.exampleID] != .silent }, subset: .hard)
    }
}
