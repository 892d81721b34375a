import Foundation

/// One example as a classification scorer is shown it: its tokens and, for fuzzing, the token
/// positions highlighted. The true label is kept beside it, never shown.
public struct ClassificationItem: Sendable, Equatable {
    /// `examples.id` of the `classify` example.
    public var exampleID: Int64
    /// 1: the unit fires (detection) / the highlighting is the true one (fuzzing); else 0.
    public var label: Int
    public var tokens: [String]
    /// Fuzzing: the highlighted positions (sorted); nil for detection.
    public var highlighted: [Int]?

    public init(exampleID: Int64, label: Int, tokens: [String], highlighted: [Int]? = nil) {
        self.exampleID = exampleID
        self.label = label
        self.tokens = tokens
        self.highlighted = highlighted
    }

    /// The example as one line of text (`<<highlighted>>` spans for fuzzing), newlines escaped.
    public var text: String {
        let joined = highlighted.map { TokenText.join(tokens, highlighted: Set($0)) } ?? TokenText.join(tokens)
        return joined.replacingOccurrences(of: "\n", with: " ")
    }
}

/// Answers a classification scorer's question (detection: does the unit fire? fuzzing: is the
/// highlighting correct?) for examples of one explanation. Implementations: ``LLMClassifier``,
/// ``PatternClassifier``.
///
/// One outcome per item, in order; an unusable answer is `.failed` with the reason (never a
/// guessed answer); a thrown error means a call failed.
public protocol UnitClassifier: Sendable {
    func classify(explanation: String, items: [ClassificationItem]) async throws -> [StoredClassification.Outcome]
}
