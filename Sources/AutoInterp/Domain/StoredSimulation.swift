import Foundation

/// One row of `simulations`: the simulator's predictions for one held-out record.
///
/// Keyed by (explanation, `subset`, `recordIndex`); `recordIndex` is the record's position
/// among the unit's `score` examples of that subset (`examples.record_idx`).
public struct StoredSimulation: Sendable, Equatable {
    /// What the simulator returned for the record.
    public enum Outcome: Sendable, Equatable {
        /// One prediction per token (`status = 'ok'`, `pred_json` set).
        case predicted([Double])
        /// No usable answer (`status = 'failed'`, `pred_json` NULL, `error` the reason).
        case failed(reason: String)
    }

    public var subset: ExampleSubset
    public var recordIndex: Int
    public var tokens: [String]
    /// The unit's raw true activations on the record's tokens.
    public var trueActivations: [Float]
    public var outcome: Outcome
    /// How predictions were obtained (e.g. `logprobs` or `json`); free text, stored in `mode`.
    public var mode: String?

    public init(
        subset: ExampleSubset, recordIndex: Int, tokens: [String], trueActivations: [Float], outcome: Outcome,
        mode: String? = nil
    ) {
        self.subset = subset
        self.recordIndex = recordIndex
        self.tokens = tokens
        self.trueActivations = trueActivations
        self.outcome = outcome
        self.mode = mode
    }

    /// The predictions, nil when the simulation failed.
    public var predicted: [Double]? {
        if case .predicted(let values) = outcome { return values }
        return nil
    }

    /// True when the simulation produced predictions.
    public var isOK: Bool { predicted != nil }
}
