import AutoInterpLLM
import Foundation

/// One explanation an explainer produced, with what the run records about how it was made.
public struct ExplanationResult: Sendable, Equatable {
    /// The cleaned explanation (``ExplanationCleaner``).
    public var text: String
    /// The prompt template file and its hash, when a template was used.
    public var promptFile: String?
    public var promptHash: String?
    /// The `llm_calls.request_hash` of the call that produced it, when an LLM did.
    public var requestHash: String?

    public init(text: String, promptFile: String? = nil, promptHash: String? = nil, requestHash: String? = nil) {
        self.text = text
        self.promptFile = promptFile
        self.promptHash = promptHash
        self.requestHash = requestHash
    }
}

/// Why an explainer produced nothing usable for a unit (the stage records it as a failure of kind `explain`).
public struct ExplanationFailure: Error, Sendable, Equatable, CustomStringConvertible {
    public var reason: String
    /// The refused answer, when there was one (kept in `explanation_failures.answer` for the reader).
    public var answer: String?

    public init(_ reason: String, answer: String? = nil) {
        self.reason = reason
        self.answer = answer
    }

    public var description: String { reason }
}

/// Explains one unit from its explanation examples. Implementations: ``LLMExplainer``; a local
/// pattern explainer may implement it too, and its results are stored the same way.
///
/// Conforming types throw ``ExplanationFailure`` for an unusable answer (the unit is counted as
/// failed and can be retried), and anything else (e.g. `LLMError`) for a failed call.
public protocol UnitExplainer: Sendable {
    /// Stored in `explanations.explainer` (e.g. `llm`).
    var name: String { get }
    /// Stored in `explanations.model`.
    var model: String { get }
    /// The endpoint asked (named in the line that stops a run whose answers are all alike); nil for a local explainer.
    var endpoint: String? { get }

    /// Explains `unit` from `examples` (its `explain` examples, raw activations).
    ///
    /// - Parameter sample: which of several samples this is (0 for the first); implementations
    ///   make samples differ (e.g. by seed) and must give the same answer for the same sample.
    func explain(unit: UnitRef, examples: [ExampleRecord], sample: Int) async throws -> ExplanationResult

    /// Samples `0..<count` of `unit` (best-of-K), in order: each a result or the failure of that
    /// sample. The default asks ``explain(unit:examples:sample:)`` once per sample; the LLM
    /// explainer asks for several choices in one call (`n`) where the endpoint gives them.
    /// Throws what is not a sample's own failure (a failed call, a request deferred to a batch).
    func explainSamples(
        unit: UnitRef, examples: [ExampleRecord], count: Int
    ) async throws -> [Result<ExplanationResult, ExplanationFailure>]
}

extension UnitExplainer {
    public var endpoint: String? { nil }

    public func explainSamples(
        unit: UnitRef, examples: [ExampleRecord], count: Int
    ) async throws -> [Result<ExplanationResult, ExplanationFailure>] {
        try await explainEach(unit: unit, examples: examples, samples: 0..<count)
    }

    /// `samples`, one ``explain(unit:examples:sample:)`` each. A request deferred to a batch
    /// (collect mode) does not stop the others: every sample's request joins the same wave, and
    /// the deferral is thrown after the last.
    package func explainEach(
        unit: UnitRef, examples: [ExampleRecord], samples: Range<Int>
    ) async throws -> [Result<ExplanationResult, ExplanationFailure>] {
        var outcomes: [Result<ExplanationResult, ExplanationFailure>] = []
        var deferred: LLMError?
        for sample in samples {
            do {
                outcomes.append(.success(try await explain(unit: unit, examples: examples, sample: sample)))
            } catch let failure as ExplanationFailure {
                outcomes.append(.failure(failure))
            } catch let error as LLMError where error.isDeferred {
                deferred = deferred ?? error
            }
        }
        if let deferred { throw deferred }
        return outcomes
    }

    /// The first sample.
    public func explain(unit: UnitRef, examples: [ExampleRecord]) async throws -> ExplanationResult {
        try await explain(unit: unit, examples: examples, sample: 0)
    }
}
