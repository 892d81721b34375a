import Foundation

/// One example the judge rates: a context with its most active token marked.
public struct RubricExample: Sendable, Equatable {
    /// `examples.record_idx` of the unit's `score/quantile` example.
    public var recordIndex: Int
    /// 0 for a non-activating example, else the activation bin 1...10.
    public var bin: Int
    public var context: Int
    public var tokens: [String]
    public var activations: [Float]

    public init(recordIndex: Int, bin: Int, context: Int, tokens: [String], activations: [Float]) {
        self.recordIndex = recordIndex
        self.bin = bin
        self.context = context
        self.tokens = tokens
        self.activations = activations
    }

    /// The index of the most active token (the first of equal maxima), marked for the judge.
    public var markedIndex: Int {
        var best = 0
        for (i, x) in activations.enumerated() where x > activations[best] { best = i }
        return best
    }

    /// The example's max activation, 0 for a non-activating example.
    public var activation: Float { bin == StoredRubricRating.nonActivatingBin ? 0 : max(0, activations.max() ?? 0) }
}

/// The judge's verdict on one example: a 0-3 rating with its reason, or why there is none.
public enum RubricVerdict: Sendable, Equatable {
    case rated(Int, reason: String?)
    case failed(reason: String)
}

/// Rates how specifically an explanation picks out the marked token (the 0-3 specificity
/// rubric). Implementations: ``LLMRubricJudge``.
///
/// An unusable answer is `.failed` (not stored, counted); a thrown error means the call failed.
public protocol RubricJudge: Sendable {
    /// Stored in `rubric_ratings.judge_model`.
    var model: String { get }

    func rate(explanation: String, example: RubricExample) async throws -> RubricVerdict

    /// Rates several examples of one explanation; one verdict per example, in order. The
    /// default rates them one at a time, concurrently; an LLM judge batches them into few calls.
    func rate(explanation: String, examples: [RubricExample]) async throws -> [RubricVerdict]
}

extension RubricJudge {
    public func rate(explanation: String, examples: [RubricExample]) async throws -> [RubricVerdict] {
        try await withThrowingTaskGroup(of: (Int, RubricVerdict).self) { group in
            for (i, example) in examples.enumerated() {
                group.addTask { (i, try await rate(explanation: explanation, example: example)) }
            }
            var verdicts = [RubricVerdict](repeating: .failed(reason: "not rated"), count: examples.count)
            for try await (i, verdict) in group { verdicts[i] = verdict }
            return verdicts
        }
    }
}
