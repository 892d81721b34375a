import Foundation

/// One row of `scores`: a correlation between predicted and true activations, or why it is undefined.
public struct StoredScore: Sendable, Equatable {
    /// `scores.metric`: `spearman` and `pearson` for simulations; other stages add their own.
    public struct Metric: StringName, CaseIterable {
        public var rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }

        public static let spearman: Metric = "spearman"
        public static let pearson: Metric = "pearson"
        /// The correlation metrics of the score stage.
        public static let allCases: [Metric] = [.spearman, .pearson]

        // The classification scorers' metrics (subset `all`), see ``ClassificationMetrics``.
        public static let detectionBalancedAccuracy: Metric = "detection_balanced_accuracy"
        public static let detectionF1: Metric = "detection_f1"
        public static let detectionPrecision: Metric = "detection_precision"
        public static let detectionRecall: Metric = "detection_recall"
        public static let detectionAUPRC: Metric = "detection_auprc"
        public static let fuzzingBalancedAccuracy: Metric = "fuzzing_balanced_accuracy"
        public static let fuzzingF1: Metric = "fuzzing_f1"
        public static let fuzzingPrecision: Metric = "fuzzing_precision"
        public static let fuzzingRecall: Metric = "fuzzing_recall"
        public static let fuzzingAUPRC: Metric = "fuzzing_auprc"

        /// The five metrics of a classification scorer, named `<scorer>_<metric>`.
        public static func classification(_ scorer: StoredClassification.Scorer) -> [Metric] {
            ClassificationMetrics.names.map { Metric(rawValue: "\(scorer.rawValue)_\($0)") }
        }
    }

    /// `scores.subset`: which scored records were concatenated (`all`, `top`, `random`), or a
    /// stage's own subset name.
    public struct Subset: StringName, CaseIterable {
        public var rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }

        public static let all: Subset = "all"
        public static let top: Subset = "top"
        public static let random: Subset = "random"
        /// The classification scorers' metrics over the activating examples and the hard negatives
        /// (`classify/hard`) instead of the random silent ones (subset `all`).
        public static let hard: Subset = "hard"
        /// Best-of-K (`--explainer-samples K`): a candidate's simulation scores on the validation
        /// half of the held-out records (``HeldOutSplit``), which chose the winner.
        public static let validation: Subset = "validation"
        /// Best-of-K: on the winner, the first sample's Spearman on the test half (what one sample
        /// would have reported), for the gain of best-of-K.
        public static let firstSample: Subset = "first_sample"
        /// The subsets of the score stage.
        public static let allCases: [Subset] = [.all, .top, .random]
    }

    public var metric: Metric
    public var subset: Subset
    /// The coefficient; nil exactly when it is undefined (then `undefinedReason` says why).
    public var value: Double?
    public var undefinedReason: String?
    /// Number of (predicted, true) pairs the score was computed over.
    public var n: Int

    /// A score with a value.
    public init(metric: Metric, subset: Subset, value: Double, n: Int) {
        self.metric = metric
        self.subset = subset
        self.value = value
        self.undefinedReason = nil
        self.n = n
    }

    /// An undefined score (e.g. one side constant): stored as NULL with `reason`.
    public init(metric: Metric, subset: Subset, undefinedBecause reason: String, n: Int) {
        self.metric = metric
        self.subset = subset
        self.value = nil
        self.undefinedReason = reason
        self.n = n
    }

    /// The memberwise form; ``RunStore/saveScores(explanationID:_:)`` rejects a value and a
    /// reason together, neither, or a NaN value.
    public init(metric: Metric, subset: Subset, value: Double?, undefinedReason: String?, n: Int) {
        self.metric = metric
        self.subset = subset
        self.value = value
        self.undefinedReason = undefinedReason
        self.n = n
    }
}

/// A score together with the unit and explanation it belongs to (for run-wide reports).
public struct UnitScore: Sendable, Equatable {
    public var unitID: Int64
    public var unit: UnitRef
    public var explanationID: Int64
    public var explainer: String
    public var score: StoredScore

    public init(unitID: Int64, unit: UnitRef, explanationID: Int64, explainer: String, score: StoredScore) {
        self.unitID = unitID
        self.unit = unit
        self.explanationID = explanationID
        self.explainer = explainer
        self.score = score
    }
}
