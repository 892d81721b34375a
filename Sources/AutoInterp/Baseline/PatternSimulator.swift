import Foundation

/// The LLM-free baseline simulator: predicts each token's activation from one unit's
/// ``PatternSet`` (the longest pattern ending at the token, 0...10; see ``PatternSet/predict(_:)``).
///
/// It holds the structured set, not the text: ``simulate(explanation:records:)`` only checks that
/// the explanation it is asked about is the set's own text (a stored explanation made from other
/// records or other parameters gives `.failed` outcomes with the reason, never wrong numbers).
/// One simulator serves one unit; ``StagePlan`` makes one per unit. Outcomes are stored
/// like LLM simulations, with mode ``mode``.
package struct PatternSimulator: ActivationSimulator {
    /// Stored in `simulations.mode`.
    package static let mode = "pattern"

    package let patterns: PatternSet
    package var mode: String { Self.mode }

    package init(patterns: PatternSet) {
        self.patterns = patterns
    }

    package func simulate(explanation: String, records: [[String]]) async throws -> [SimulationOutcome] {
        guard explanation == patterns.explanation else {
            let reason = "the explanation is not the text of the patterns re-derived from the unit's explanation examples (made by another version or setting?); start the run anew (force new)"
            return records.map { _ in .failed(reason: reason) }
        }
        return patterns.predict(records).map { .predicted($0) }
    }
}
