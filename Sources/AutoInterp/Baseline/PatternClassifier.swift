import Foundation

/// The LLM-free baseline's answer to the classification scorers, from one unit's
/// ``PatternSet`` (the patterns its explanation lists):
///
/// - detection: the unit fires in an example when a pattern matches in it; p(1) is the largest
///   predicted activation of the example scaled to [0, 1];
/// - fuzzing: the highlighting is correct when a pattern matches at every highlighted token;
///   p(1) is the smallest predicted activation over the highlighted tokens scaled to [0, 1].
///
/// Like ``PatternSimulator`` it only answers for the explanation that is its set's own text;
/// another explanation fails every example with the reason. Deterministic, so AUPRC is defined
/// for the baseline too.
public struct PatternClassifier: UnitClassifier {
    public let patterns: PatternSet

    public init(patterns: PatternSet) {
        self.patterns = patterns
    }

    public func classify(explanation: String, items: [ClassificationItem]) async throws -> [StoredClassification.Outcome] {
        guard explanation == patterns.explanation else {
            let reason = "the explanation is not the text of the patterns re-derived from the unit's explanation examples (made by another version or setting?); start the run anew (force new)"
            return items.map { _ in .failed(reason: reason) }
        }
        let predictions = patterns.predict(items.map(\.tokens))
        return zip(items, predictions).map { item, values in
            let scale = PatternSet.scale
            if let highlighted = item.highlighted {
                let lit = highlighted.filter { values.indices.contains($0) }.map { values[$0] }
                let weakest = lit.min() ?? 0
                return .answered(predicted: !lit.isEmpty && weakest > 0 ? 1 : 0, probability: min(1, max(0, weakest / scale)))
            }
            let strongest = values.max() ?? 0
            return .answered(predicted: strongest > 0 ? 1 : 0, probability: min(1, max(0, strongest / scale)))
        }
    }
}
