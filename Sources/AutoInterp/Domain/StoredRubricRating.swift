import Foundation

/// One row of `rubric_ratings`: the judge's 0-3 specificity rating of one example.
///
/// `bin` follows the examples table: ``StoredRubricRating/nonActivatingBin`` (0, never NULL) for
/// non-activating examples, else the equal-width bin 1...n of (0, max] the example falls in, so
/// `GROUP BY bin` and `WHERE bin = ?` work the same for every row. Keyed by (explanation,
/// `recordIndex`), `recordIndex` being the example's position in the rubric sample.
public struct StoredRubricRating: Sendable, Equatable {
    /// The `bin` of non-activating examples.
    public static let nonActivatingBin = 0

    public var recordIndex: Int
    /// Activation bin 1...n, or 0 for non-activating.
    public var bin: Int
    /// The example's max activation (0 for non-activating examples).
    public var activation: Float
    /// 0 unrelated … 3 cleanly identifies the highlighted text.
    public var rating: Int
    /// The dataset context (row) the example came from, if known.
    public var context: Int?
    public var tokens: [String]
    public var activations: [Float]
    /// The LLM that judged it.
    public var judgeModel: String?
    /// The judge's stated reason, if it gave one.
    public var reason: String?

    public init(
        recordIndex: Int, bin: Int, activation: Float, rating: Int, context: Int? = nil, tokens: [String] = [],
        activations: [Float] = [], judgeModel: String? = nil, reason: String? = nil
    ) {
        self.recordIndex = recordIndex
        self.bin = bin
        self.activation = activation
        self.rating = rating
        self.context = context
        self.tokens = tokens
        self.activations = activations
        self.judgeModel = judgeModel
        self.reason = reason
    }
}

/// One row of the `rubric_histogram` view: how many examples of a bin got a rating.
public struct RubricHistogramRow: Sendable, Equatable, Hashable {
    public var unitID: Int64
    public var unit: UnitRef
    public var explanationID: Int64
    /// Activation bin 1...n, or 0 for non-activating examples.
    public var bin: Int
    public var rating: Int
    public var count: Int

    public init(unitID: Int64, unit: UnitRef, explanationID: Int64, bin: Int, rating: Int, count: Int) {
        self.unitID = unitID
        self.unit = unit
        self.explanationID = explanationID
        self.bin = bin
        self.rating = rating
        self.count = count
    }
}
