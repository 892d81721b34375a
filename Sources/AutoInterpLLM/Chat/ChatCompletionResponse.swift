import Foundation

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
        public var promptTokens: Int?
        public var completionTokens: Int?
        public var totalTokens: Int?

        public init(promptTokens: Int?, completionTokens: Int?, totalTokens: Int? = nil) {
            self.promptTokens = promptTokens
            self.completionTokens = completionTokens
            self.totalTokens = totalTokens ?? promptTokens.flatMap { p in completionTokens.map { p + $0 } }
        }

        enum CodingKeys: String, CodingKey {
            case promptTokens = "prompt_tokens"
            case completionTokens = "completion_tokens"
            case totalTokens = "total_tokens"
        }
    }

    public var id: String?
    public var model: String?
    public var choices: [Choice]
    public var usage: Usage?

    public init(id: String? = nil, model: String? = nil, choices: [Choice], usage: Usage? = nil) {
        self.id = id
        self.model = model
        self.choices = choices
        self.usage = usage
    }

    /// The text of the first choice.
    public var content: String? { choices.first?.message?.content }

    /// The per-token log-probabilities of the first choice, when the server returned them.
    public var tokenLogprobs: [TokenLogprob]? { choices.first?.logprobs?.content }

    /// Decodes a raw response body.
    public static func decode(_ body: Data) throws -> ChatCompletionResponse {
        try JSONDecoder().decode(ChatCompletionResponse.self, from: body)
    }
}
