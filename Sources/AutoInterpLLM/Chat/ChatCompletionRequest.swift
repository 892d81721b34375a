public import Foundation

// MARK: - Request

/// The body of an OpenAI-compatible `POST {base}/chat/completions` request.
///
/// Optional fields left nil are not sent. `model` may be left nil: the client fills in the
/// model of its endpoint configuration before hashing and sending.
public struct ChatCompletionRequest: Codable, Sendable, Equatable, Hashable {
    /// One chat message.
    public struct Message: Codable, Sendable, Equatable, Hashable {
        /// `system`, `user` or `assistant`.
        public var role: String
        public var content: String

        public init(role: String, content: String) {
            self.role = role
            self.content = content
        }

        public static func system(_ content: String) -> Self { .init(role: "system", content: content) }
        public static func user(_ content: String) -> Self { .init(role: "user", content: content) }
        public static func assistant(_ content: String) -> Self { .init(role: "assistant", content: content) }
    }

    /// The `response_format` object; `.jsonObject` asks for JSON mode, `.jsonSchema(…)` for an
    /// answer constrained by a schema (structured outputs).
    public struct ResponseFormat: Codable, Sendable, Equatable, Hashable {
        /// The `json_schema` member of a `json_schema` response format.
        public struct JSONSchema: Codable, Sendable, Equatable, Hashable {
            /// A name for the schema (OpenAI wants `[A-Za-z0-9_-]`, at most 64 characters).
            public var name: String
            public var schema: JSONSchemaValue
            /// Ask the server to enforce the schema exactly (OpenAI's strict mode).
            public var strict: Bool

            public init(name: String, schema: JSONSchemaValue, strict: Bool = true) {
                self.name = name
                self.schema = schema
                self.strict = strict
            }
        }

        /// `text`, `json_object` or `json_schema`.
        public var type: String
        /// The schema of a `json_schema` format; nil (and not sent) otherwise.
        public var schema: JSONSchema?

        public init(type: String, schema: JSONSchema? = nil) {
            self.type = type
            self.schema = schema
        }

        enum CodingKeys: String, CodingKey {
            case type
            case schema = "json_schema"
        }

        /// `{"type": "json_object"}`: the model must answer with one JSON object.
        public static let jsonObject = ResponseFormat(type: "json_object")

        /// `{"type": "json_schema", "json_schema": {"name": …, "schema": …, "strict": …}}`: the
        /// answer must be JSON matching `schema`.
        public static func jsonSchema(name: String, schema: JSONSchemaValue, strict: Bool = true) -> ResponseFormat {
            ResponseFormat(type: "json_schema", schema: JSONSchema(name: name, schema: schema, strict: strict))
        }
    }

    public var model: String?
    public var messages: [Message]
    public var temperature: Double?
    public var maxTokens: Int?
    /// Number of choices to generate.
    public var n: Int?
    public var seed: Int?
    /// Ask for per-token log-probabilities of the answer.
    public var logprobs: Bool?
    /// How many alternatives per token to return with `logprobs` (OpenAI allows 0...20).
    public var topLogprobs: Int?
    public var responseFormat: ResponseFormat?

    public init(
        model: String? = nil, messages: [Message], temperature: Double? = nil, maxTokens: Int? = nil,
        n: Int? = nil, seed: Int? = nil, logprobs: Bool? = nil, topLogprobs: Int? = nil,
        responseFormat: ResponseFormat? = nil
    ) {
        self.model = model
        self.messages = messages
        self.temperature = temperature
        self.maxTokens = maxTokens
        self.n = n
        self.seed = seed
        self.logprobs = logprobs
        self.topLogprobs = topLogprobs
        self.responseFormat = responseFormat
    }

    enum CodingKeys: String, CodingKey {
        case model, messages, temperature, n, seed, logprobs
        case maxTokens = "max_tokens"
        case topLogprobs = "top_logprobs"
        case responseFormat = "response_format"
    }

    // MARK: - Canonical form

    /// The body as sent: JSON with sorted keys and unescaped slashes, so equal requests give equal bytes.
    public func canonicalBody() throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return try encoder.encode(self)
    }

    /// A rough token count for rate budgeting: a quarter of the characters of all messages.
    var estimatedPromptTokens: Int {
        max(1, messages.reduce(0) { $0 + $1.content.utf8.count + 4 } / 4)
    }
}

// MARK: - Request hash

/// The cache key of a request.
public enum LLMRequestHash {
    /// Hex SHA-256 of `endpoint`, `model` and the canonical body, separated by newlines.
    public static func compute(endpoint: String, model: String, canonicalBody: Data) -> String {
        var bytes = Array(endpoint.utf8)
        bytes.append(0x0a)
        bytes.append(contentsOf: model.utf8)
        bytes.append(0x0a)
        bytes.append(contentsOf: canonicalBody)
        return SHA256.hex(bytes)
    }
}
