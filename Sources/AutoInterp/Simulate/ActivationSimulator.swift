import Foundation

/// What a simulator returned for one record: one prediction per token, or why there is none.
public typealias SimulationOutcome = StoredSimulation.Outcome

/// Predicts a unit's activations on records from an explanation alone (tokens shown, activations
/// masked). Implementations: ``LLMSimulator``; a local pattern simulator may implement it too,
/// and its results are stored the same way.
///
/// An unusable answer is a `.failed(reason:)` outcome for the records it covered (never zeros);
/// a thrown error (e.g. `LLMError`) means the call itself failed and nothing is stored.
public protocol ActivationSimulator: Sendable {
    /// Stored in `simulations.mode` (e.g. `logprobs`, `json`).
    var mode: String { get }

    /// One outcome per record, in order; a `.predicted` outcome has one value per token.
    func simulate(explanation: String, records: [[String]]) async throws -> [SimulationOutcome]
}

/// How the LLM simulator reads predictions.
public enum SimulatorMode: String, Sendable, Codable, CaseIterable {
    /// The default: only the tokens expected to fire, as `[number, activation]` pairs (``SparseAnswer``),
    /// constrained by a JSON schema where the endpoint honours one.
    case sparse
    /// Decide from the endpoint's capabilities: logprobs when it returns enough top logprobs, else JSON.
    case auto
    /// Expected value over the top logprobs of the digit tokens at each value position.
    case logprobs
    /// One value per token in a JSON answer (every token copied back), parsed strictly.
    case json
}

extension StoredSimulation.Outcome {
    /// The predictions, nil for a failure.
    public var values: [Double]? {
        if case .predicted(let values) = self { return values }
        return nil
    }
}
