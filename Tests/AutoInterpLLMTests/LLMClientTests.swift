import AutoInterpLLM
import AutoInterpTestSupport
import Foundation
import InMemoryLogging
import Logging
import Synchronization
import Testing

// MARK: - Fixtures

/// A client against a fresh test endpoint with fast timeouts and 10 ms backoff.
private struct Fixture {
    static let keyEnv = "AUTOINTERP_TEST_KEY"
    static let sentinel = "sk-SENTINEL-5f4e3d2c1b0a"

    let endpoint: TestEndpoint
    let store = InMemoryResponseStore()
    let logs: InMemoryLogHandler
    let client: LLMClient

    init(
        latency: Duration = .zero, faults: TestFaultPlan = .none, key: String? = Fixture.sentinel,
        handler: @escaping @Sendable (ChatRequestSeen) -> TestReply = TestReply.echo,
        configure: (inout LLMEndpointConfig) -> Void = { _ in }
    ) throws {
        endpoint = try TestEndpoint(latency: latency, faults: faults, handler: handler)
        var config = LLMEndpointConfig(
            baseURL: endpoint.baseURL, model: "test-model", apiKeyEnv: Self.keyEnv, connectTimeout: 2, requestTimeout: 5,
            maxInFlight: 16,
            retry: .init(maxAttempts: 4, maxTotalTime: 20, baseBackoff: 0.01, maxBackoff: 0.05, jitter: 0.2))
        configure(&config)
        var handler = InMemoryLogHandler()
        handler.logLevel = .trace
        logs = handler
        var logger = Logger(label: "test.llm") { _ in handler }
        logger.logLevel = .trace
        client = try LLMClient(
            config: config, store: store, logger: logger,
            environment: { name in name == Self.keyEnv ? key : nil })
    }

    func ask(_ text: String, _ modify: (inout ChatCompletionRequest) -> Void = { _ in }) async throws -> LLMCompletion {
        var request = ChatCompletionRequest(messages: [.user(text)], temperature: 0, maxTokens: 16)
        modify(&request)
        return try await client.complete(request)
    }
}

extension InMemoryLogHandler {
    /// Every line logged so far, as `level message metadata`.
    var all: [String] { entries.map { "\($0.level) \($0.message) \($0.metadata)" } }
}

private func seconds(_ d: Duration) -> Double { Double(d.components.seconds) + Double(d.components.attoseconds) * 1e-18 }

// MARK: - Tests

/// Timing-sensitive: one at a time with the other client suites.
extension ClientSuites {
struct LLMClientTests {
    @Test func answersAndLogsOneCall() async throws {
        let f = try Fixture()
        defer { f.endpoint.stop() }
        let answer = try await f.ask("hello")
        #expect(answer.content == "echo: hello")
        #expect(!answer.cached)
        #expect(answer.attempts == 1)
        #expect(f.endpoint.requestCount == 1)
        let seen = try #require(f.endpoint.seenRequests.first)
        #expect(seen.path == "/v1/chat/completions")
        #expect(seen.request?.model == "test-model")
        #expect(seen.headers["authorization"] == "Bearer \(Fixture.sentinel)")
        let call = try #require(f.store.calls.first)
        #expect(call.statusCode == 200)
        #expect(call.attempts == 1)
        #expect(!call.cached)
        #expect(call.requestHash == answer.requestHash)
        #expect(call.promptTokens != nil && call.completionTokens != nil)
    }

    @Test(arguments: [
        TestFault.tooManyRequests(retryAfter: nil), .status(500), .status(502), .status(503), .status(504),
        .malformedBody, .cutMidBody,
    ])
    func transientFaultRecovers(fault: TestFault) async throws {
        let f = try Fixture(faults: .at([1: fault, 2: fault]))
        defer { f.endpoint.stop() }
        let answer = try await f.ask("retry me")
        #expect(answer.content == "echo: retry me")
        #expect(answer.attempts == 3)
        #expect(f.endpoint.requestCount == 3)
        #expect(f.client.usage.retries == 2)
        #expect(f.store.calls.count == 1)
        #expect(f.store.calls.first?.attempts == 3)
        #expect(f.store.calls.first?.error == nil)
        #expect(f.logs.all.contains { $0.contains("retrying") })
    }

    @Test func retryAfterIsHonoured() async throws {
        let f = try Fixture(faults: .at([1: .tooManyRequests(retryAfter: 1)]))
        defer { f.endpoint.stop() }
        let start = ContinuousClock.now
        let answer = try await f.ask("wait for it")
        let elapsed = seconds(ContinuousClock.now - start)
        #expect(answer.attempts == 2)
        #expect(elapsed >= 1.0)
        #expect(elapsed < 30, "bounded well above 1 s so a loaded CI machine cannot fail it")
    }

    @Test func hangTimesOutAndIsRetried() async throws {
        let f = try Fixture(faults: .at([1: .hang]), configure: { $0.requestTimeout = 0.3 })
        defer { f.endpoint.stop() }
        let start = ContinuousClock.now
        let answer = try await f.ask("are you there")
        let elapsed = seconds(ContinuousClock.now - start)
        #expect(answer.attempts == 2)
        #expect(elapsed >= 0.3)
        #expect(elapsed < 30, "the hang itself never ends; only the timeout can stop it")
        #expect(f.logs.all.contains { $0.contains("retrying") && $0.contains("imeout") })
    }

    @Test func hangWithoutRetryReportsTimeout() async throws {
        let f = try Fixture(faults: .random(probability: 1, .hang), configure: {
            $0.requestTimeout = 0.3
            $0.retry.maxAttempts = 1
        })
        defer { f.endpoint.stop() }
        let start = ContinuousClock.now
        let error = await #expect(throws: LLMError.self) { try await f.ask("hello?") }
        let elapsed = seconds(ContinuousClock.now - start)
        #expect(error?.isTimeout == true)
        #expect(error?.isFatalForRun == false)
        #expect(error?.description.contains(f.endpoint.baseURL) == true)
        #expect(elapsed >= 0.3 && elapsed < 30)
        #expect(f.store.calls.first?.error?.contains("timed out") == true)
        #expect(f.store.calls.first?.statusCode == nil)
    }

    @Test func retriesAreBoundedByAttempts() async throws {
        let f = try Fixture(faults: .random(probability: 1, .status(503)), configure: { $0.retry.maxAttempts = 3 })
        defer { f.endpoint.stop() }
        let error = await #expect(throws: LLMError.self) { try await f.ask("never") }
        #expect(error?.isTransient == true)
        #expect(error?.attempts == 3)
        #expect(error?.statusCode == 503)
        #expect(f.endpoint.requestCount == 3)
        #expect(f.client.usage.failedCalls == 1)
        #expect(f.store.calls.first?.statusCode == 503)
    }

    @Test func retriesAreBoundedByTotalTime() async throws {
        let f = try Fixture(faults: .random(probability: 1, .tooManyRequests(retryAfter: 5)), configure: { $0.retry.maxTotalTime = 2 })
        defer { f.endpoint.stop() }
        let start = ContinuousClock.now
        let error = await #expect(throws: LLMError.self) { try await f.ask("too slow") }
        #expect(error?.isRateLimited == true)
        #expect(seconds(ContinuousClock.now - start) < 4, "it must not sleep the 5 s Retry-After past the 2 s budget")
        #expect(f.endpoint.requestCount == 1)
    }

    @Test func unauthorizedFailsFastAndLatches() async throws {
        let f = try Fixture(faults: .random(probability: 1, .status(401)))
        defer { f.endpoint.stop() }
        let error = try #require(await #expect(throws: LLMError.self) { try await f.ask("let me in") })
        #expect(error.isFatalForRun)
        #expect(error.isAuthenticationFailure)
        #expect(error.description.contains(Fixture.keyEnv))
        #expect(error.description.contains(f.endpoint.baseURL))
        #expect(f.endpoint.requestCount == 1)
        #expect(f.client.isHalted)

        let again = try #require(await #expect(throws: LLMError.self) { try await f.ask("please") })
        #expect(again.isFatalForRun)
        #expect(again.description.contains(Fixture.keyEnv))
        #expect(f.endpoint.requestCount == 1)
        #expect(f.store.calls.count == 2)
        #expect(f.store.calls.allSatisfy { $0.error != nil })
    }

    @Test func missingKeyIsNamedInTheHint() async throws {
        let f = try Fixture(faults: .random(probability: 1, .status(401)), key: nil)
        defer { f.endpoint.stop() }
        let error = try #require(await #expect(throws: LLMError.self) { try await f.ask("hi") })
        #expect(error.description.contains("\(Fixture.keyEnv) (it is not set)"))
        #expect(f.endpoint.seenRequests.first?.headers["authorization"] == nil)
    }

    @Test(arguments: [400, 404, 422])
    func clientErrorsAreNotRetried(status: Int) async throws {
        let f = try Fixture(faults: .random(probability: 1, .status(status)))
        defer { f.endpoint.stop() }
        let error = try #require(await #expect(throws: LLMError.self) { try await f.ask("bad") })
        #expect(f.endpoint.requestCount == 1)
        #expect(error.statusCode == status)
        #expect(!error.isTransient)
        #expect(!f.client.isHalted)
        if status == 404 {
            #expect(error.isFatalForRun)
            #expect(error.description.contains("base URL") && error.description.contains("test-model"))
        } else {
            #expect(!error.isFatalForRun)
        }
    }

    @Test func inFlightCapIsNeverExceeded() async throws {
        let f = try Fixture(latency: .milliseconds(20), configure: { $0.maxInFlight = 4 })
        defer { f.endpoint.stop() }
        try await withThrowingTaskGroup(of: Void.self) { group in
            for i in 0..<40 { group.addTask { _ = try await f.ask("call \(i)") } }
            try await group.waitForAll()
        }
        #expect(f.endpoint.requestCount == 40)
        #expect(f.endpoint.peakConcurrency <= 4)
        #expect(f.endpoint.peakConcurrency >= 2)
        #expect(f.endpoint.connectionCount <= 8)
    }

    @Test func keepAliveReusesOneConnection() async throws {
        let f = try Fixture()
        defer { f.endpoint.stop() }
        for i in 0..<5 { _ = try await f.ask("sequential \(i)") }
        #expect(f.endpoint.requestCount == 5)
        #expect(f.endpoint.connectionCount == 1)
    }

    @Test func secondIdenticalRunMakesNoNetworkRequests() async throws {
        let f = try Fixture(latency: .milliseconds(5))
        defer { f.endpoint.stop() }
        for _ in 0..<2 {
            try await withThrowingTaskGroup(of: Void.self) { group in
                for i in 0..<10 { group.addTask { _ = try await f.ask("unit \(i)") } }
                try await group.waitForAll()
            }
        }
        #expect(f.endpoint.requestCount == 10)
        let calls = f.store.calls
        #expect(calls.count == 20)
        #expect(calls.filter(\.cached).count == 10)
        #expect(calls.filter(\.cached).allSatisfy { $0.attempts == 0 && $0.error == nil })
        #expect(Set(calls.map(\.requestHash)).count == 10)
        #expect(f.client.usage.cachedCalls == 10)
        #expect(f.client.usage.calls == 20)
        let cached = try await f.ask("unit 3")
        #expect(cached.cached)
        #expect(cached.content == "echo: unit 3")
    }

    @Test func identicalCallsInFlightShareOneRequest() async throws {
        let f = try Fixture(latency: .milliseconds(50))
        defer { f.endpoint.stop() }
        let answers = try await withThrowingTaskGroup(of: LLMCompletion.self) { group in
            for _ in 0..<6 { group.addTask { try await f.ask("same question") } }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        #expect(f.endpoint.requestCount == 1)
        #expect(answers.allSatisfy { $0.content == "echo: same question" })
        #expect(answers.filter(\.cached).count == 5)
        #expect(f.store.calls.count == 6)
        #expect(f.client.usage.cachedCalls == 5)
    }

    @Test func identicalCallsInFlightShareAFailure() async throws {
        let f = try Fixture(latency: .milliseconds(50), faults: .random(probability: 1, .status(400)))
        defer { f.endpoint.stop() }
        let failures = await withTaskGroup(of: Bool.self) { group in
            for _ in 0..<4 { group.addTask { (try? await f.ask("bad question")) == nil } }
            return await group.reduce(0) { $0 + ($1 ? 1 : 0) }
        }
        #expect(failures == 4)
        #expect(f.endpoint.requestCount == 1)
        #expect(f.store.calls.count == 4)
        #expect(f.client.usage.failedCalls == 4)
    }

    @Test func noCacheBypassesReadsButStillWrites() async throws {
        let f = try Fixture(configure: { $0.useCache = false })
        defer { f.endpoint.stop() }
        _ = try await f.ask("same")
        _ = try await f.ask("same")
        #expect(f.endpoint.requestCount == 2)
        #expect(f.store.responses.count == 1)
        #expect(f.store.calls.allSatisfy { !$0.cached })
        let request = ChatCompletionRequest(messages: [.user("same")], temperature: 0, maxTokens: 16)
        let fromCache = try await f.client.complete(request, useCache: true)
        #expect(fromCache.cached)
        #expect(f.endpoint.requestCount == 2)
    }

    @Test func logprobsAreParsed() async throws {
        let f = try Fixture()
        defer { f.endpoint.stop() }
        let answer = try await f.ask("one two three") {
            $0.logprobs = true
            $0.topLogprobs = 3
        }
        let body = f.endpoint.seenRequests.first?.bodyText ?? ""
        #expect(body.contains(#""logprobs":true"#) && body.contains(#""top_logprobs":3"#))
        let tokens = try #require(answer.response.tokenLogprobs)
        #expect(tokens.map(\.token) == ["echo:", "one", "two", "three"])
        #expect(tokens.allSatisfy { $0.topLogprobs.count == 3 })
        #expect(tokens[1].topLogprobs[0].token == "one")
        #expect(abs(tokens[1].logprob - -0.10) < 1e-9)
    }

    @Test func jsonModeIsSent() async throws {
        let f = try Fixture()
        defer { f.endpoint.stop() }
        let answer = try await f.ask("json please") { $0.responseFormat = .jsonObject }
        let body = try #require(f.endpoint.seenRequests.first?.bodyText)
        #expect(body.contains(#""response_format":{"type":"json_object"}"#))
        let object = try JSONSerialization.jsonObject(with: Data((answer.content ?? "").utf8)) as? [String: Any]
        #expect(object?["echo"] as? String == "json please")
    }

    @Test func scriptedHandlerAndMultipleChoices() async throws {
        let f = try Fixture(handler: { seen in TestReply(content: "#\(seen.number)", promptTokens: 3, completionTokens: 2) })
        defer { f.endpoint.stop() }
        let answer = try await f.ask("x") { $0.n = 2 }
        #expect(answer.response.choices.count == 2)
        #expect(answer.content == "#1")
        #expect(answer.response.usage?.completionTokens == 4)
    }

    @Test func usageAndCostAddUp() async throws {
        let f = try Fixture(handler: { seen in TestReply(content: "ok", promptTokens: 100, completionTokens: 10) }, configure: {
            $0.priceInputPerMillion = 2
            $0.priceOutputPerMillion = 8
        })
        defer { f.endpoint.stop() }
        for i in 0..<5 { _ = try await f.ask("q\(i)") }
        _ = try await f.ask("q0")  // cached: free
        let usage = f.client.usage
        #expect(usage.calls == 6)
        #expect(usage.cachedCalls == 1)
        #expect(usage.failedCalls == 0)
        #expect(usage.promptTokens == 500)
        #expect(usage.completionTokens == 50)
        #expect(usage.attempts == 5)
        let cost = try #require(usage.cost)
        #expect(abs(cost - (500 * 2 + 50 * 8) / 1e6) < 1e-12)
        #expect(usage.description.contains("6 calls"))
    }

    @Test func keyNeverReachesStoreLogsOrErrors() async throws {
        // 400 and 401 bodies quote the Authorization header back; the key must still not leak.
        let f = try Fixture(faults: .at([2: .status(400), 3: .status(500), 4: .hang, 6: .status(401)]), configure: {
            $0.requestTimeout = 0.3
        })
        defer { f.endpoint.stop() }
        var errors: [String] = []
        for i in 0..<5 {
            do { _ = try await f.ask("k\(i)") } catch { errors.append("\(error)"); errors.append(String(reflecting: error)) }
        }
        #expect(f.endpoint.seenRequests.allSatisfy { $0.headers["authorization"] == "Bearer \(Fixture.sentinel)" })
        #expect(errors.count == 6)  // 400, 401 and the halted call, each as description and reflection
        #expect(f.client.isHalted)
        let recorded = f.store.calls.map { String(reflecting: $0) }
        let stored = f.store.responses.values.map { String(decoding: $0, as: UTF8.self) }
        let everything = errors + recorded + stored + f.logs.all
        #expect(!everything.isEmpty)
        for text in everything { #expect(!text.contains(Fixture.sentinel), "key leaked: \(text)") }
        #expect(!f.logs.all.isEmpty)
    }

    @Test func cancellationAbortsAHangingCall() async throws {
        let f = try Fixture(faults: .random(probability: 1, .hang))
        defer { f.endpoint.stop() }
        let task = Task { try await f.ask("forever") }
        try await Task.sleep(for: .milliseconds(100))
        let start = ContinuousClock.now
        task.cancel()
        await #expect(throws: CancellationError.self) { try await task.value }
        #expect(seconds(ContinuousClock.now - start) < 10, "far below the 120 s request timeout")
        #expect(f.store.calls.first?.error == "cancelled")
    }

    @Test func unreachableEndpointIsAConnectionError() async throws {
        let endpoint = try TestEndpoint()
        let url = endpoint.baseURL
        endpoint.stop()
        let config = LLMEndpointConfig(
            baseURL: url, model: "m", connectTimeout: 1, requestTimeout: 2,
            retry: .init(maxAttempts: 2, baseBackoff: 0.01, jitter: 0))
        let client = try LLMClient(
            config: config, logger: Logger(label: "quiet") { _ in SwiftLogNoOpLogHandler() }, environment: { _ in nil })
        let error = try #require(await #expect(throws: LLMError.self) {
            try await client.complete(ChatCompletionRequest(messages: [.user("x")]))
        })
        #expect(error.attempts == 2)
        #expect(error.description.contains("could not be reached"))
    }
}
}
