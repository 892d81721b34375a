import Foundation

// MARK: - Logprob probe

/// Whether an endpoint returns top logprobs, found with one small request: the one logprob
/// capability probe, used by `llm check` (``LLMCapabilities``) and by the simulator's mode choice.
///
/// The probe asks for the digit 7 with `logprobs` and `top_logprobs` set to each count of
/// ``alternatives`` in turn (the OpenAI maximum 20, then 5), moving on only when the server
/// refuses a count with a non-fatal error.
package struct LogprobProbe: Sendable, Equatable {
    /// What the endpoint answered.
    package enum Outcome: Sendable, Equatable {
        /// An answer came back for `requested` top logprobs: `tokens` tokens carried logprobs
        /// (0 when the answer had no `choices[0].logprobs.content`), with at most `mostAlternatives` each.
        case answered(requested: Int, tokens: Int, mostAlternatives: Int)
        /// Every request failed with a non-fatal error; its message.
        case refused(String)
    }

    /// The question asked.
    package static let question = "Reply with the single digit 7 and nothing else."

    /// `top_logprobs` counts tried in order.
    package var alternatives: [Int]
    /// The model asked; nil uses the client's.
    package var model: String?
    /// `max_tokens` of the probe request.
    package var maxTokens: Int
    /// Whether the probe reads the response cache (so a resumed run decides the same way offline);
    /// nil follows the client's configuration.
    package var useCache: Bool?

    package init(alternatives: [Int] = [20, 5], model: String? = nil, maxTokens: Int = 5, useCache: Bool? = nil) {
        self.alternatives = alternatives
        self.model = model
        self.maxTokens = maxTokens
        self.useCache = useCache
    }

    /// Asks `client`.
    ///
    /// - Throws: `LLMError` when the endpoint is fatally unusable (bad key, wrong URL or model).
    package func run(_ client: LLMClient) async throws -> Outcome {
        var problem = "no logprobs returned"
        for top in alternatives {
            let request = ChatCompletionRequest(
                model: model, messages: [.user(Self.question)], temperature: 0, maxTokens: maxTokens, logprobs: true, topLogprobs: top)
            do {
                let answer = try await client.complete(request, useCache: useCache)
                let tokens = answer.response.tokenLogprobs ?? []
                return .answered(requested: top, tokens: tokens.count, mostAlternatives: tokens.map(\.topLogprobs.count).max() ?? 0)
            } catch let error as LLMError where !error.isFatalForRun {
                problem = error.description
            }
        }
        return .refused(problem)
    }
}
