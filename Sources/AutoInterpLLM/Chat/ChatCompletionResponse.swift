public import Foundation

// MARK: - Response

/// The body of a chat-completions answer; unknown fields are ignored, most fields are optional
/// so that the many OpenAI-compatible servers all decode.
public struct ChatCompletionResponse: Codable, Sendable, Equatable {
    /// One alternative of a token, with its log-probability.
    public struct TopLogprob: Codable, Sendable, Equatable {
        public var token: String
        public var logprob: Double

        public init(token: String, logprob: Double) {
            self.token = token
            self.logprob = logprob
        }
    }

    /// One generated token with its log-probability and the most likely alternatives.
    public struct TokenLogprob: Codable, Sendable, Equatable {
        public var token: String
        public var logprob: Double
        public var topLogprobs: [TopLogprob]

        public init(token: String, logprob: Double, topLogprobs: [TopLogprob] = []) {
            self.token = token
            self.logprob = logprob
            self.topLogprobs = topLogprobs
        }

        enum CodingKeys: String, CodingKey {
            case token, logprob
            case topLogprobs = "top_logprobs"
        }

        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            token = try c.decode(String.self, forKey: .token)
            logprob = try c.decode(Double.self, forKey: .logprob)
            topLogprobs = try c.decodeIfPresent([TopLogprob].self, forKey: .topLogprobs) ?? []
        }
    }

    /// `choices[i].logprobs`.
    public struct Logprobs: Codable, Sendable, Equatable {
        public var content: [TokenLogprob]?

        public init(content: [TokenLogprob]?) { self.content = content }
    }

    /// `choices[i].message`.
    public struct Message: Codable, Sendable, Equatable {
        public var role: String?
        public var content: String?

        public init(role: String? = "assistant", content: String?) {
            self.role = role
            self.content = content
        }
    }

    /// One generated alternative.
    public struct Choice: Codable, Sendable, Equatable {
        public var index: Int?
        public var message: Message?
        public var logprobs: Logprobs?
        /// `stop`, `length`, …
        public var finishReason: String?

        public init(index: Int? = 0, message: Message?, logprobs: Logprobs? = nil, finishReason: String? = "stop") {
            self.index = index
            self.message = message
            self.logprobs = logprobs
            self.finishReason = finishReason
        }

        enum CodingKeys: String, CodingKey {
            case index, message, logprobs
            case finishReason = "finish_reason"
        }
    }

    /// Token counts the server billed.
    public struct Usage: Codable, Sendable, Equatable {
        /// `usage.prompt_tokens_details` (OpenAI, vLLM).
        public struct PromptTokensDetails: Codable, Sendable, Equatable {
            /// Prompt tokens served from the server's prefix cache.
            public var cachedTokens: Int?

            public init(cachedTokens: Int?) { self.cachedTokens = cachedTokens }

            enum CodingKeys: String, CodingKey {
                case cachedTokens = "cached_tokens"
            }
        }

        public var promptTokens: Int?
        public var completionTokens: Int?
        public var totalTokens: Int?
        public var promptTokensDetails: PromptTokensDetails?

        public init(
            promptTokens: Int?, completionTokens: Int?, totalTokens: Int? = nil, promptTokensDetails: PromptTokensDetails? = nil
        ) {
            self.promptTokens = promptTokens
            self.completionTokens = completionTokens
            self.totalTokens = totalTokens ?? promptTokens.flatMap { p in completionTokens.map { p + $0 } }
            self.promptTokensDetails = promptTokensDetails
        }

        enum CodingKeys: String, CodingKey {
            case promptTokens = "prompt_tokens"
            case completionTokens = "completion_tokens"
            case totalTokens = "total_tokens"
            case promptTokensDetails = "prompt_tokens_details"
        }
    }

    /// llama.cpp's `timings` object (only the fields read here).
    public struct Timings: Codable, Sendable, Equatable {
        /// Prompt tokens reused from the slot's cache.
        public var cacheN: Int?
        /// Prompt tokens evaluated for this request.
        public var promptN: Int?

        public init(cacheN: Int?, promptN: Int? = nil) {
            self.cacheN = cacheN
            self.promptN = promptN
        }

        enum CodingKeys: String, CodingKey {
            case cacheN = "cache_n"
            case promptN = "prompt_n"
        }
    }

    public var id: String?
    public var model: String?
    public var choices: [Choice]
    public var usage: Usage?
    /// llama.cpp's timings, when the server sends them.
    public var timings: Timings?

    public init(id: String? = nil, model: String? = nil, choices: [Choice], usage: Usage? = nil, timings: Timings? = nil) {
        self.id = id
        self.model = model
        self.choices = choices
        self.usage = usage
        self.timings = timings
    }

    /// The text of the first choice.
    public var content: String? { choices.first?.message?.content }

    /// The `finish_reason` of the first choice (`stop`, `length`, …), when the server sent one.
    public var finishReason: String? { choices.first?.finishReason }

    /// Prompt tokens the server took from its prefix cache: `usage.prompt_tokens_details.cached_tokens`
    /// (OpenAI, vLLM), else llama.cpp's `timings.cache_n`; nil when the server reports neither.
    public var cachedPromptTokens: Int? { usage?.promptTokensDetails?.cachedTokens ?? timings?.cacheN }

    /// True when every choice was cut off at the token limit (`finish_reason` `length`): such an
    /// answer is never cached. An answer with several choices (`n`) of which some finished is
    /// kept: its cut-off choices are the caller's failures, and a rerun must not ask the others again.
    public var allChoicesCutOff: Bool { !choices.isEmpty && choices.allSatisfy { $0.finishReason == "length" } }

    /// Completion tokens of all choices: `usage.completion_tokens`, except where llama.cpp's server
    /// answers several choices (`n`, told by its `timings`): it reports the first choice's tokens
    /// only (measured on its b-series builds), so each other choice is counted at the first one's
    /// tokens per character (at least one token each). A count above the first choice's characters
    /// (plus its end token) cannot be the first choice's alone: it is taken as the total, as a fixed
    /// server would send. Nil when the server reported none.
    public var completionTokensOfAllChoices: Int? {
        guard let reported = usage?.completionTokens else { return nil }
        guard choices.count > 1, timings != nil else { return reported }
        let characters = choices.map { max(1, ($0.message?.content ?? "").count) }
        guard reported <= characters[0] + 1 else { return reported }
        let perCharacter = Double(reported) / Double(characters[0])
        return characters.dropFirst().reduce(reported) { $0 + max(1, Int((Double($1) * perCharacter).rounded())) }
    }

    /// The per-token log-probabilities of the first choice, when the server returned them.
    public var tokenLogprobs: [TokenLogprob]? { choices.first?.logprobs?.content }

    /// Decodes a raw response body.
    public static func decode(_ body: Data) throws -> ChatCompletionResponse {
        try JSONDecoder().decode(ChatCompletionResponse.self, from: body)
    }
}
