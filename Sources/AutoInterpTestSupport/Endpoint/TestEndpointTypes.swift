package import AutoInterpLLM
package import Foundation

// MARK: - What the test endpoint saw

/// One request as the test endpoint received it.
package struct ChatRequestSeen: Sendable {
    /// 1-based arrival number over the endpoint's lifetime.
    package var number: Int
    package var method: String
    package var path: String
    /// Header fields, names lowercased.
    package var headers: [String: String]
    package var body: Data
    /// The body decoded as a chat-completions request, when it is one.
    package var request: ChatCompletionRequest?

    /// The body as UTF-8 text.
    package var bodyText: String { String(decoding: body, as: UTF8.self) }

    /// The text of the last user message, or "".
    package var lastUserMessage: String {
        request?.messages.last { $0.role == "user" }?.content ?? ""
    }
}

// MARK: - Scripted answers

/// What the test endpoint answers to one request that is not faulted.
package struct TestReply: Sendable {
    package var content: String
    /// Per-token log-probabilities; nil sends none.
    package var logprobs: [ChatCompletionResponse.TokenLogprob]?
    package var promptTokens: Int
    package var completionTokens: Int
    /// `stop`, or `length` for an answer cut off at the token limit.
    package var finishReason: String
    /// Sent as `usage.prompt_tokens_details.cached_tokens` (OpenAI, vLLM); nil sends none.
    package var cachedTokens: Int?
    /// Sent as llama.cpp's `timings.cache_n`; nil sends no `timings`.
    package var timingsCacheN: Int?
    /// The contents of the choices, one each, instead of `content` `n` times: fewer than the
    /// request's `n` is a server that ignores `n` (or gives fewer). `completionTokens` is then per choice.
    package var choices: [String]?
    /// The finish reason of each of ``choices`` (missing ones: `finishReason`).
    package var choiceFinishReasons: [String] = []
    /// `usage.completion_tokens` of the first choice only, as llama.cpp's server reports an `n` answer.
    package var usageOfFirstChoiceOnly = false

    package init(
        content: String, logprobs: [ChatCompletionResponse.TokenLogprob]? = nil, promptTokens: Int = 10,
        completionTokens: Int = 5, finishReason: String = "stop", cachedTokens: Int? = nil, timingsCacheN: Int? = nil
    ) {
        self.content = content
        self.logprobs = logprobs
        self.promptTokens = promptTokens
        self.completionTokens = completionTokens
        self.finishReason = finishReason
        self.cachedTokens = cachedTokens
        self.timingsCacheN = timingsCacheN
    }

    /// The default answer: `echo: <last user message>`, or `{"echo": …}` in JSON mode, or the
    /// smallest instance of the schema for a `json_schema` response format; with
    /// `logprobs`, one entry per space-separated word and `top_logprobs` alternatives each.
    /// Prompt tokens = characters of all messages / 4, completion tokens = words.
    @Sendable package static func echo(_ seen: ChatRequestSeen) -> TestReply {
        let request = seen.request
        let said = seen.lastUserMessage
        var content = "echo: " + said
        if request?.responseFormat?.type == "json_object",
            let data = try? JSONSerialization.data(withJSONObject: ["echo": said], options: [.sortedKeys]) {
            content = String(decoding: data, as: UTF8.self)
        } else if request?.responseFormat?.type == "json_schema", let schema = request?.responseFormat?.schema?.schema {
            content = schema.sampleJSON
        }
        let words = content.split(separator: " ", omittingEmptySubsequences: false).map(String.init)
        var logprobs: [ChatCompletionResponse.TokenLogprob]?
        if request?.logprobs == true {
            let top = request?.topLogprobs ?? 0
            logprobs = words.enumerated().map { index, word in
                let lp = -0.05 * Double(index + 1)
                let alternatives = (0..<top).map { k in
                    ChatCompletionResponse.TopLogprob(token: k == 0 ? word : "alt\(k)", logprob: lp - Double(k))
                }
                return .init(token: word, logprob: lp, topLogprobs: alternatives)
            }
        }
        let promptChars = request?.messages.reduce(0) { $0 + $1.content.count } ?? seen.body.count
        return TestReply(
            content: content, logprobs: logprobs, promptTokens: max(1, promptChars / 4),
            completionTokens: words.count, finishReason: "stop")
    }
}

// MARK: - Faults

/// A failure the test endpoint produces instead of an answer.
package enum TestFault: Sendable, Equatable {
    /// HTTP 429 with an optional `Retry-After: <seconds>` header.
    case tooManyRequests(retryAfter: Int?)
    /// A bare HTTP status with a JSON error body: 500, 503, 401, 400, 404, …
    /// (401 and 400 bodies quote the `Authorization` header back, as careless servers do.)
    case status(Int)
    /// Read the request and never answer (until the client gives up or the endpoint stops).
    case hang
    /// HTTP 200 with a complete but truncated JSON body.
    case malformedBody
    /// Declare a Content-Length, send half the body, close the connection.
    case cutMidBody
    /// HTTP 200 with a body of `bytes` bytes (a chat completion with a huge content), streamed
    /// in 64 KiB pieces without holding it in memory; chunked unless `declareLength`.
    case hugeBody(bytes: Int, declareLength: Bool)
}

// MARK: - Structured outputs

/// Which `response_format` types the test endpoint accepts; the others get HTTP 400, as
/// servers without structured outputs answer.
package enum TestStructuredOutputs: Sendable, Equatable {
    /// `json_schema` and `json_object` (the echo handler answers a schema instance).
    case jsonSchema
    /// `json_object` only.
    case jsonObjectOnly
    /// Neither.
    case none
}

extension JSONSchemaValue {
    /// The smallest JSON text that conforms: first enum value or `"x"`, the minimum or 0,
    /// `false`, arrays of their least length (at least one item when allowed).
    package var sampleJSON: String {
        switch self {
        case .object(let properties, _):
            let members = properties.sorted { $0.key < $1.key }.map { "\"\($0.key)\":\($0.value.sampleJSON)" }
            return "{" + members.joined(separator: ",") + "}"
        case .array(let items, let minItems, let maxItems):
            let count = max(minItems ?? 0, min(1, maxItems ?? 1))
            return "[" + Array(repeating: items.sampleJSON, count: count).joined(separator: ",") + "]"
        case .string(let allowed, _):
            let text = allowed?.first ?? "x"
            let data = (try? JSONEncoder().encode(text)) ?? Data("\"x\"".utf8)
            return String(decoding: data, as: UTF8.self)
        case .integer(let minimum, let maximum):
            return "\(minimum ?? min(0, maximum ?? 0))"
        case .number(let minimum, let maximum):
            return "\(minimum ?? min(0, maximum ?? 0))"
        case .boolean:
            return "false"
        }
    }
}

/// Which requests get which fault, by arrival number (1-based).
package struct TestFaultPlan: Sendable {
    private let pick: @Sendable (Int) -> TestFault?

    /// A plan from any function of the request number.
    package init(_ pick: @escaping @Sendable (Int) -> TestFault?) { self.pick = pick }

    /// No faults.
    package static let none = TestFaultPlan { _ in nil }

    /// The given faults at the given request numbers.
    package static func at(_ faults: [Int: TestFault]) -> TestFaultPlan { TestFaultPlan { faults[$0] } }

    /// `fault` on each request with probability `probability`, decided by a hash of (seed, number).
    package static func random(probability: Double, _ fault: TestFault, seed: UInt64 = 1) -> TestFaultPlan {
        TestFaultPlan { number in
            var z = seed &+ UInt64(number) &* 0x9e37_79b9_7f4a_7c15
            z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
            z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
            z ^= z >> 31
            return Double(z >> 11) / Double(1 << 53) < probability ? fault : nil
        }
    }

    /// The fault for request `number`, if any.
    package func fault(forRequest number: Int) -> TestFault? { pick(number) }
}
