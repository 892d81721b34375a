import Foundation

/// The LLM-free baseline explainer (`--explainer local`): explains a unit by the token patterns
/// of its explanation records (``PatternSet``, Neuron-to-Graph style).
///
/// The explanation text is the pattern set's readable form (``PatternSet/explanation``); the
/// structured set goes to ``PatternSimulator``, never the text. The set is a deterministic
/// function of the unit's stored explanation examples and ``parameters``, so a resumed run
/// re-derives it instead of storing it (see ``StagePlan``). Results are stored like LLM
/// ones, with `explainer` = ``name`` and `model` = `none`.
package struct PatternExplainer: UnitExplainer {
    /// Stored in `explanations.explainer` and the run config's `pipeline.explainer`.
    package static let name = "local-n2g"
    /// Stored in `explanations.model` (no model is involved).
    package static let model = "none"

    package let parameters: PatternSet.Parameters
    package var name: String { Self.name }
    package var model: String { Self.model }

    package init(parameters: PatternSet.Parameters = PatternSet.Parameters()) {
        self.parameters = parameters
    }

    /// The unit's pattern set from its explanation examples.
    package func patterns(from examples: [ExampleRecord]) -> PatternSet {
        PatternSet.extract(from: examples, parameters: parameters)
    }

    /// Explains `unit` by its patterns; every sample is the same (the method is deterministic).
    ///
    /// - Throws: ``ExplanationFailure`` when no token of the examples carries a positive activation.
    package func explain(unit: UnitRef, examples: [ExampleRecord], sample: Int) async throws -> ExplanationResult {
        guard !examples.isEmpty else { throw ExplanationFailure("\(unit) has no explanation examples") }
        let set = patterns(from: examples)
        guard !set.entries.isEmpty else {
            throw ExplanationFailure("\(unit): no token of its \(examples.count) explanation examples has a positive activation, so there is no pattern")
        }
        return ExplanationResult(text: set.explanation)
    }
}
