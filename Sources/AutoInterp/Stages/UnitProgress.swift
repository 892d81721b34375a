import Foundation

/// What the run database holds for one unit, against what its stages want: the one view that
/// decides whether a stage is done, whether a unit is complete, and what the summary counts.
///
/// Loaded in one query per unit (or one per run) by ``RunStore/progress(runID:)``; a stage
/// reads it in ``UnitStage/isDone(_:)``.
public struct UnitProgress: Sendable, Equatable {
    public var unit: StoredUnit
    /// The explanation this view is for: the unit's headline one (its first own explanation), nil
    /// before the explain stage; or, in the control pass, the unit's control explanation
    /// (``StoredExplanation/isControl``, loaded by ``RunStore/progress(unitID:explanationID:)``).
    public var explanation: StoredExplanation?
    /// Held-out `score/top` + `score/random` examples: what the simulator must cover.
    public var scoredExamples: Int
    /// `score/quantile` examples: what the judge must rate.
    public var rubricExamples: Int
    /// Simulations stored for the explanation, as `subset/record_idx`.
    public var simulated: Set<String>
    /// The failed ones among them, with how many times each was tried.
    public var failedSimulationAttempts: [String: Int]
    /// Scores stored for the explanation (value nil when undefined).
    public var scores: [ScoreKey: Double?]
    /// Ratings stored for the explanation by record index.
    public var ratings: [Int: Int]
    /// Rubric examples the judge could not rate, by record index, with how many times each was asked.
    public var failedRatingAttempts: [Int: Int]
    /// `classify` examples (activating + silent + hard): what each classification scorer must answer.
    public var classifyExamples: Int
    /// The `classify/hard` examples among them (hard negatives); with any, the classification
    /// scorers also store their metrics on subset `hard`.
    public var hardNegatives = 0
    /// How many times the unit's explanation was refused (`explanation_failures.attempts`; 0 when never).
    public var refusedExplanationAttempts = 0
    /// Answers stored for the explanation (ok or failed), by scorer, as `examples.id`s.
    public var classified: [StoredClassification.Scorer: Set<Int64>]
    /// The failed ones among them, by scorer, with how many times each was asked.
    public var failedClassificationAttempts: [StoredClassification.Scorer: [Int64: Int]]
    /// Intruder prompts stored for the unit (ok or failed), by prompt index: keyed by unit, not
    /// explanation (the intruder scorer never sees one).
    public var intruderPrompts: Set<Int> = []
    /// The failed ones among them, with how many times each was asked.
    public var failedIntruderAttempts: [Int: Int] = [:]

    /// A (metric, subset) pair of the `scores` table.
    public struct ScoreKey: Hashable, Sendable {
        public var metric: StoredScore.Metric
        public var subset: StoredScore.Subset

        public init(_ metric: StoredScore.Metric, _ subset: StoredScore.Subset) {
            self.metric = metric
            self.subset = subset
        }
    }

    public init(
        unit: StoredUnit, explanation: StoredExplanation? = nil, scoredExamples: Int = 0, rubricExamples: Int = 0,
        simulated: Set<String> = [], failedSimulationAttempts: [String: Int] = [:], scores: [ScoreKey: Double?] = [:],
        ratings: [Int: Int] = [:], failedRatingAttempts: [Int: Int] = [:], classifyExamples: Int = 0,
        classified: [StoredClassification.Scorer: Set<Int64>] = [:],
        failedClassificationAttempts: [StoredClassification.Scorer: [Int64: Int]] = [:]
    ) {
        self.unit = unit
        self.explanation = explanation
        self.scoredExamples = scoredExamples
        self.rubricExamples = rubricExamples
        self.simulated = simulated
        self.failedSimulationAttempts = failedSimulationAttempts
        self.scores = scores
        self.ratings = ratings
        self.failedRatingAttempts = failedRatingAttempts
        self.classifyExamples = classifyExamples
        self.classified = classified
        self.failedClassificationAttempts = failedClassificationAttempts
    }

    /// Simulations stored as failures.
    public var failedSimulations: Int { failedSimulationAttempts.count }
    /// Rubric examples stored as failures.
    public var failedRatings: Int { failedRatingAttempts.count }
    /// Examples `scorer` answered with a failure.
    public func failedClassifications(_ scorer: StoredClassification.Scorer) -> Int {
        failedClassificationAttempts[scorer]?.count ?? 0
    }

    /// True when the unit never fires on a selectable token: there is nothing to explain.
    public var isDead: Bool { unit.statistics.maxActivation <= 0 }

    /// Whether a score is stored for (metric, subset), defined or not.
    public func hasScore(_ metric: StoredScore.Metric, _ subset: StoredScore.Subset) -> Bool {
        scores[ScoreKey(metric, subset)] != nil
    }

    /// The stored value of (metric, subset): nil when missing, `.some(nil)` when undefined.
    public func score(_ metric: StoredScore.Metric, _ subset: StoredScore.Subset) -> Double?? {
        scores[ScoreKey(metric, subset)]
    }
}
