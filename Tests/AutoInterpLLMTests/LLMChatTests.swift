import Foundation
import Testing
@testable import AutoInterpLLM

@Suite(.ownLane("LLMChatTests")) struct LLMChatTests {
    // MARK: - SHA-256

    @Test(arguments: [
        ("", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
        ("abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
        (
            "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"
        ),
        ("The quick brown fox jumps over the lazy dog", "d7a8fbb307d7809469ca9abcb0082e4f8d5651e46d3cdb762d02d0bf37c9e592"),
    ])
    func sha256Vectors(input: String, expected: String) {
        #expect(SHA256.hex(input) == expected)
    }

    @Test func sha256OfMillionA() {
        let bytes = [UInt8](repeating: UInt8(ascii: "a"), count: 1_000_000)
        #expect(SHA256.hex(bytes) == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
    }

    @Test func sha256InPiecesEqualsOneShot() {
        let text = Array("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq, and then some more bytes".utf8)
        for cut in [0, 1, 55, 56, 63, 64, 65, text.count] {
            var hasher = SHA256.Hasher()
            hasher.update(text[..<min(cut, text.count)])
            hasher.update(text[min(cut, text.count)...])
            #expect(SHA256.hex(digest: hasher.finalize()) == SHA256.hex(text), "cut at \(cut)")
        }
        var hasher = SHA256.Hasher()
        for _ in 0..<1000 { hasher.update(repeatElement(UInt8(ascii: "a"), count: 1000)) }
        #expect(SHA256.hex(digest: hasher.finalize()) == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
    }

    // MARK: - Canonical body and hash

    @Test func canonicalBodyHasSortedKeysAndSnakeCase() throws {
        let request = ChatCompletionRequest(
            model: "m", messages: [.user("hi/there")], temperature: 0.5, maxTokens: 5, seed: 7, logprobs: true,
            topLogprobs: 3, responseFormat: .jsonObject)
        let text = String(decoding: try request.canonicalBody(), as: UTF8.self)
        #expect(text == #"{"logprobs":true,"max_tokens":5,"messages":[{"content":"hi/there","role":"user"}],"model":"m","response_format":{"type":"json_object"},"seed":7,"temperature":0.5,"top_logprobs":3}"#)
    }

    @Test func hashDependsOnEndpointModelAndBody() throws {
        let a = ChatCompletionRequest(model: "m", messages: [.user("x")], temperature: 0)
        var b = a
        b.temperature = 1
        let body = try a.canonicalBody()
        let h1 = LLMRequestHash.compute(endpoint: "http://e/v1", model: "m", canonicalBody: body)
        #expect(h1 == LLMRequestHash.compute(endpoint: "http://e/v1", model: "m", canonicalBody: try a.canonicalBody()))
        #expect(h1 != LLMRequestHash.compute(endpoint: "http://f/v1", model: "m", canonicalBody: body))
        #expect(h1 != LLMRequestHash.compute(endpoint: "http://e/v1", model: "m", canonicalBody: try b.canonicalBody()))
        #expect(h1.count == 64)
    }

    // MARK: - Response parsing

    @Test func parsesOpenAIResponseWithLogprobs() throws {
        let json = #"""
        {"id":"chatcmpl-1","object":"chat.completion","created":1,"model":"gpt-x",
         "choices":[{"index":0,"message":{"role":"assistant","content":"7"},
           "logprobs":{"content":[{"token":"7","logprob":-0.25,"bytes":[55],
             "top_logprobs":[{"token":"7","logprob":-0.25,"bytes":[55]},{"token":"8","logprob":-1.5,"bytes":[56]}]}]},
           "finish_reason":"stop"}],
         "usage":{"prompt_tokens":12,"completion_tokens":1,"total_tokens":13},"system_fingerprint":null}
        """#
        let response = try ChatCompletionResponse.decode(Data(json.utf8))
        #expect(response.content == "7")
        #expect(response.choices.first?.finishReason == "stop")
        #expect(response.usage == .init(promptTokens: 12, completionTokens: 1, totalTokens: 13))
        let tokens = try #require(response.tokenLogprobs)
        #expect(tokens.count == 1)
        #expect(tokens[0].topLogprobs.map(\.token) == ["7", "8"])
        #expect(tokens[0].topLogprobs[1].logprob == -1.5)
    }

    @Test func parsesMinimalResponseWithNulls() throws {
        let json = #"{"choices":[{"message":{"content":null},"logprobs":null,"finish_reason":null}]}"#
        let response = try ChatCompletionResponse.decode(Data(json.utf8))
        #expect(response.content == nil)
        #expect(response.tokenLogprobs == nil)
        #expect(response.usage == nil)
    }

    // MARK: - Configuration

    @Test func configDecodesWithDefaults() throws {
        let json = #"{"baseURL":"http://127.0.0.1:8000/v1/","model":"llama","requestsPerMinute":60,"retry":{"maxAttempts":2}}"#
        let config = try JSONDecoder().decode(LLMEndpointConfig.self, from: Data(json.utf8))
        #expect(config.apiKeyEnv == "OPENAI_API_KEY")
        #expect(config.maxInFlight == 16)
        #expect(config.requestsPerMinute == 60)
        #expect(config.retry.maxAttempts == 2)
        #expect(config.retry.baseBackoff == LLMEndpointConfig.RetryPolicy().baseBackoff)
        #expect(config.chatCompletionsURL == "http://127.0.0.1:8000/v1/chat/completions")
        try config.validate()
    }

    @Test func endpointNameDropsCredentials() {
        let config = LLMEndpointConfig(baseURL: "https://user:secret@example.com/v1", model: "m")
        #expect(!config.endpointName.contains("secret"))
        #expect(config.endpointName.contains("example.com/v1"))
    }

    @Test(arguments: ["ftp://x/v1", "not a url", ""])
    func invalidBaseURLIsRejected(url: String) {
        #expect(throws: LLMError.self) { try LLMEndpointConfig(baseURL: url, model: "m").validate() }
    }

    @Test func pastedKeyAsVariableNameIsRejectedWithoutEchoingIt() {
        let key = "sk-proj-PASTED0123456789"
        let config = LLMEndpointConfig(baseURL: "http://127.0.0.1:1/v1", model: "m", apiKeyEnv: key)
        let error = #expect(throws: LLMError.self) { try config.validate() }
        #expect(error?.description.contains("name of an environment variable") == true)
        #expect(error?.description.contains(key) == false)
        #expect(error?.isFatalForRun == true)
    }

    // MARK: - Limits

    @Test func retryAfterParsesSecondsAndDates() {
        #expect(LLMClient.parseRetryAfter("3") == 3)
        #expect(LLMClient.parseRetryAfter(" 1.5 ") == 1.5)
        #expect(LLMClient.parseRetryAfter("soon") == nil)
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "GMT")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss 'GMT'"
        let later = formatter.string(from: Date().addingTimeInterval(30))
        let seconds = LLMClient.parseRetryAfter(later) ?? -1
        #expect(seconds > 25 && seconds <= 30)
    }

    @Test func tokenBucketMakesCallersWait() {
        let bucket = TokenBucket(perMinute: 60)
        #expect(bucket.reserve(60) == .zero)
        let wait = bucket.reserve(2)
        #expect(wait > .milliseconds(1900) && wait <= .milliseconds(2000))
        bucket.adjust(by: 2)
        #expect(bucket.reserve(0) == .zero)
    }
}
