import AutoInterp
import AutoInterpLLM
import AutoInterpTestSupport
import Foundation
import Synchronization
import Testing

// MARK: - Fixture

/// A client with a store against a fresh test endpoint, fast timeouts and 10 ms backoff.
private struct AnswerFixture {
    let endpoint: TestEndpoint
    let store: any LLMResponseStore
    let client: LLMClient

    init(
        latency: Duration = .zero, faults: TestFaultPlan = .none, structuredOutputs: TestStructuredOutputs = .jsonSchema,
        store: (any LLMResponseStore)? = nil,
        handler: @escaping @Sendable (ChatRequestSeen) -> TestReply = TestReply.echo,
        configure: (inout LLMEndpointConfig) -> Void = { _ in }
    ) throws {
        endpoint = try TestEndpoint(TestEndpoint.Configuration(
            latency: latency, faults: faults, structuredOutputs: structuredOutputs, handler: handler))
        var config = LLMEndpointConfig(
            baseURL: endpoint.baseURL, model: "test-model", apiKeyEnv: "AUTOINTERP_TEST_UNSET", connectTimeout: 2,
            requestTimeout: 10, maxInFlight: 16,
            retry: .init(maxAttempts: 4, maxTotalTime: 20, baseBackoff: 0.01, maxBackoff: 0.05, jitter: 0.2))
        configure(&config)
        self.store = store ?? InMemoryResponseStore()
        client = try LLMClient(config: config, store: self.store, environment: { _ in nil })
    }

    var memory: InMemoryResponseStore? { store as? InMemoryResponseStore }

    func ask(_ text: String) async throws -> LLMCompletion {
        try await client.complete(ChatCompletionRequest(messages: [.user(text)], temperature: 0, maxTokens: 16))
    }
}

/// Waits up to `seconds` for `condition`.
private func eventually(_ seconds: Double = 15, _ condition: () -> Bool) async -> Bool {
    let deadline = ContinuousClock.now + .milliseconds(Int(seconds * 1000))
    while ContinuousClock.now < deadline {
        if condition() { return true }
        try? await Task.sleep(for: .milliseconds(10))
    }
    return condition()
}

// MARK: - Bounded answers

@Suite(.ownLane("LLMBoundedAnswerTests")) struct LLMBoundedAnswerTests {
    @Test(arguments: [false, true])
    func fiftyMegabyteAnswerFailsClearlyAndIsNotCached(declareLength: Bool) async throws {
        let f = try AnswerFixture(faults: .at([1: .hugeBody(bytes: 50 << 20, declareLength: declareLength)]))
        defer { f.endpoint.stop() }
        let started = ContinuousClock.now
        let error = await #expect(throws: LLMError.self) { try await f.ask("say a lot") }
        #expect(error?.isResponseTooLarge == true)
        #expect(error?.isTransient == false)
        #expect(error?.description.contains("exceeded 1 MiB (`max response bytes` 1048576)") == true)
        #expect(error?.description.contains(f.endpoint.baseURL) == true)
        // Not retried, nothing cached, the failure logged.
        #expect(f.endpoint.requestCount == 1)
        #expect(f.memory?.responses.isEmpty == true)
        let call = try #require(f.memory?.calls.last)
        #expect(call.error?.contains("exceeded 1 MiB") == true)
        // The transfer was aborted early: the server could not send its 50 MB, and it was quick
        // (well inside the 120 s request timeout, with room for a machine running the whole suite).
        #expect(await eventually { f.endpoint.clientClosedCount == 1 })
        #expect(ContinuousClock.now - started < .seconds(60))
        // The next call is served normally.
        #expect(try await f.ask("short").content == "echo: short")
    }

    @Test func capIsConfigurableAndDecodedWithADefault() async throws {
        let f = try AnswerFixture(configure: { $0.maxResponseBytes = 100 })
        defer { f.endpoint.stop() }
        let error = await #expect(throws: LLMError.self) { try await f.ask(String(repeating: "long ", count: 40)) }
        #expect(error?.description.contains("exceeded 100 bytes (`max response bytes` 100)") == true)
        #expect(f.memory?.responses.isEmpty == true)

        let decoded = try JSONDecoder().decode(LLMEndpointConfig.self, from: Data(#"{"baseURL":"http://h/v1","model":"m"}"#.utf8))
        #expect(decoded.maxResponseBytes == 1_048_576)
        #expect(decoded.requestTimeout == 600)
        let set = try JSONDecoder().decode(
            LLMEndpointConfig.self, from: Data(#"{"baseURL":"http://h/v1","model":"m","maxResponseBytes":2048}"#.utf8))
        #expect(set.maxResponseBytes == 2048)
    }
}

// MARK: - Cut-off answers and discarded answers

@Suite(.ownLane("LLMCutOffAndDiscardTests")) struct LLMCutOffAndDiscardTests {
    @Test func cutOffAnswerIsRecognisedReturnedAndNeverCached() async throws {
        let f = try AnswerFixture { _ in
            TestReply(content: "the\nfox\nthe\nfox", completionTokens: 16, finishReason: "length")
        }
        defer { f.endpoint.stop() }
        let answer = try await f.ask("explain")
        #expect(answer.isCutOff)
        #expect(answer.finishReason == "length")
        #expect(answer.content == "the\nfox\nthe\nfox")
        #expect(f.memory?.responses.isEmpty == true)
        #expect(f.memory?.calls.last?.finishReason == "length")
        // Asked again on the next identical call.
        let again = try await f.ask("explain")
        #expect(!again.cached)
        #expect(f.endpoint.requestCount == 2)
    }

    @Test func completeAnswerIsNotCutOff() async throws {
        let f = try AnswerFixture()
        defer { f.endpoint.stop() }
        let answer = try await f.ask("hi")
        #expect(!answer.isCutOff)
        #expect(answer.finishReason == "stop")
        #expect(f.memory?.calls.last?.finishReason == "stop")
    }

    @Test func discardedAnswerIsAskedAgainOverTheNetwork() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let store = try RunStore(url: dir.path("run/autointerp.sqlite"))
        let f = try AnswerFixture(store: store)
        defer { f.endpoint.stop() }
        let first = try await f.ask("parse me")
        #expect(try await f.ask("parse me").cached)
        #expect(f.endpoint.requestCount == 1)
        #expect(try store.cachedResponse(forHash: first.requestHash) != nil)

        f.client.discard(first)
        #expect(try store.cachedResponse(forHash: first.requestHash) == nil)
        let third = try await f.ask("parse me")
        #expect(!third.cached)
        #expect(f.endpoint.requestCount == 2)
        // Stored again, so a fourth call is cached once more.
        #expect(try await f.ask("parse me").cached)
        #expect(f.endpoint.requestCount == 2)
    }
}

// MARK: - Accounting

@Suite(.ownLane("LLMAccountingTests")) struct LLMAccountingTests {
    @Test func unitAndStageComeFromTheTaskContextAndReachTheDatabase() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let store = try RunStore(url: dir.path("run/autointerp.sqlite"))
        let f = try AnswerFixture(store: store) { seen in
            var reply = TestReply.echo(seen)
            reply.cachedTokens = 7
            return reply
        }
        defer { f.endpoint.stop() }
        _ = try await f.ask("outside")
        try await LLMCallContext.$current.withValue(LLMCallContext(unit: "feature 12", stage: "simulate")) {
            try await withThrowingTaskGroup(of: Void.self) { group in
                for i in 0..<3 { group.addTask { _ = try await f.ask("child \(i)") } }
                try await group.waitForAll()
            }
        }
        try await LLMCallContext.$current.withValue(LLMCallContext(unit: "neuron 3", stage: "rubric")) {
            _ = try await f.ask("child 0")  // cached, still attributed
        }
        let calls = try store.llmCalls()
        #expect(calls.count == 5)
        #expect(calls[0].unit == nil && calls[0].stage == nil)
        #expect(calls[1...3].allSatisfy { $0.unit == "feature 12" && $0.stage == "simulate" && !$0.cached })
        #expect(calls[1...3].allSatisfy { $0.cachedTokens == 7 && $0.finishReason == "stop" && $0.queueMs >= 0 })
        #expect(calls[4].unit == "neuron 3" && calls[4].stage == "rubric" && calls[4].cached)
        #expect(f.client.usage.cachedPromptTokens == 28)

        let perStage = try store.database.query(
            "SELECT stage, COUNT(*) AS n, SUM(cached_tokens) AS cached FROM llm_calls WHERE stage IS NOT NULL GROUP BY stage ORDER BY stage")
        #expect(perStage.map { $0.string("stage") } == ["rubric", "simulate"])
        #expect(perStage.map { $0.int("n") } == [1, 3])
        let plan = try store.database.query("EXPLAIN QUERY PLAN SELECT * FROM llm_calls WHERE stage = 'simulate'")
            .compactMap { $0.string("detail") }.joined(separator: " ")
        #expect(plan.contains("llm_calls_by_stage"))
        #expect(RunStore.schemaSQL.contains("ADD COLUMN queue_ms"))
    }

    @Test func latencyIsTheRequestsOwnTimeAndQueueWaitIsApart() async throws {
        let f = try AnswerFixture(latency: .milliseconds(300), configure: { $0.maxInFlight = 1 })
        defer { f.endpoint.stop() }
        let answers = try await withThrowingTaskGroup(of: LLMCompletion.self) { group in
            for i in 0..<3 { group.addTask { try await f.ask("queued \(i)") } }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        let byQueue = answers.sorted { $0.queueMs < $1.queueMs }
        // The last one waited for the other two (at least 600 ms) but its own time is one request
        // (about 300 ms): were the wait counted in, its latency would exceed its wait.
        #expect(byQueue[2].queueMs >= 550)
        #expect(byQueue[2].latencyMs < byQueue[2].queueMs)
        #expect(answers.allSatisfy { $0.latencyMs >= 250 })
        let records = try #require(f.memory?.calls)
        let longest = try #require(records.max { $0.queueMs < $1.queueMs })
        #expect(longest.queueMs >= 550 && longest.latencyMs < longest.queueMs)
    }

    @Test(arguments: [(7, nil), (nil, 5), (nil, nil)] as [(Int?, Int?)])
    func cachedPromptTokensAreReadFromUsageOrLlamaCppTimings(details: Int?, cacheN: Int?) async throws {
        let f = try AnswerFixture { seen in
            var reply = TestReply.echo(seen)
            reply.cachedTokens = details
            reply.timingsCacheN = cacheN
            return reply
        }
        defer { f.endpoint.stop() }
        let answer = try await f.ask("prefix")
        let expected = details ?? cacheN
        #expect(answer.cachedPromptTokens == expected)
        #expect(f.memory?.calls.last?.cachedTokens == expected)
        #expect(f.client.usage.cachedPromptTokens == (expected ?? 0))
    }

    @Test func observerIsCalledOncePerFinishedCall() async throws {
        let f = try AnswerFixture(faults: .at([2: .status(400)]))
        defer { f.endpoint.stop() }
        let seen = Mutex<[LLMUsage]>([])
        f.client.onCallFinished { usage in seen.withLock { $0.append(usage) } }
        _ = try await f.ask("one")
        _ = await #expect(throws: LLMError.self) { try await f.ask("two") }
        _ = try await f.ask("one")  // cached
        let usages = seen.withLock { $0 }
        #expect(usages.map(\.calls) == [1, 2, 3])
        #expect(usages.last?.failedCalls == 1)
        #expect(usages.last?.cachedCalls == 1)
    }
}

// MARK: - Abandoned requests

/// Timing-sensitive: one at a time with the other client suites.
extension ClientSuites {
struct LLMAbandonedRequestTests {
    @Test func timedOutRequestClosesItsConnection() async throws {
        let f = try AnswerFixture(faults: .at([1: .hang]), configure: {
            $0.requestTimeout = 0.3
            $0.retry.maxAttempts = 1
        })
        defer { f.endpoint.stop() }
        let error = await #expect(throws: LLMError.self) { try await f.ask("slow") }
        #expect(error?.isTimeout == true)
        // The server sees the client hang up, as llama.cpp needs to stop generating.
        #expect(await eventually { f.endpoint.clientClosedCount == 1 })
        #expect(try await f.ask("next").content == "echo: next")
        #expect(f.endpoint.connectionCount == 2)
    }

    @Test func cancelledRequestClosesItsConnection() async throws {
        let f = try AnswerFixture(faults: .at([1: .hang]))
        defer { f.endpoint.stop() }
        let task = Task { try await f.ask("never mind") }
        #expect(await eventually { f.endpoint.requestCount == 1 })
        task.cancel()
        await #expect(throws: CancellationError.self) { try await task.value }
        #expect(await eventually { f.endpoint.clientClosedCount == 1 })
        #expect(f.memory?.calls.last?.error == "cancelled")
    }
}
}

// MARK: - Structured outputs

@Suite(.ownLane("LLMStructuredOutputTests")) struct LLMStructuredOutputTests {
    @Test func jsonSchemaFormatEncodesCanonically() throws {
        let schema = JSONSchemaValue.object(properties: [
            "tokens": .array(items: .object(properties: ["i": .integer(minimum: 1), "v": .integer(minimum: 0, maximum: 10)]), maxItems: 8),
            "kind": .string(enum: ["a", "b"]),
        ])
        let request = ChatCompletionRequest(
            model: "m", messages: [.user("x")], responseFormat: .jsonSchema(name: "sparse", schema: schema, strict: true))
        let body = String(decoding: try request.canonicalBody(), as: UTF8.self)
        let expected = #""response_format":{"json_schema":{"name":"sparse","schema":{"additionalProperties":false,"#
            + #""properties":{"kind":{"enum":["a","b"],"type":"string"},"tokens":{"items":{"additionalProperties":false,"#
            + #""properties":{"i":{"minimum":1,"type":"integer"},"v":{"maximum":10,"minimum":0,"type":"integer"}},"#
            + #""required":["i","v"],"type":"object"},"maxItems":8,"type":"array"}},"required":["kind","tokens"],"#
            + #""type":"object"},"strict":true},"type":"json_schema"}"#
        #expect(body.contains(expected))
        // Decodes back to the same request, and JSON mode bodies are unchanged.
        #expect(try JSONDecoder().decode(ChatCompletionRequest.self, from: try request.canonicalBody()) == request)
        let jsonMode = ChatCompletionRequest(model: "m", messages: [.user("x")], responseFormat: .jsonObject)
        #expect(String(decoding: try jsonMode.canonicalBody(), as: UTF8.self).contains(#""response_format":{"type":"json_object"}"#))
    }

    @Test func violationsAreNamed() {
        let schema = StructuredOutputProbe.schema
        #expect(schema.violation(in: #"{"color":"green","count":3}"#) == nil)
        #expect(schema.violation(in: #"{"color":"green"}"#)?.contains("no \"count\"") == true)
        #expect(schema.violation(in: #"{"color":"pink","count":3}"#)?.contains("not one of") == true)
        #expect(schema.violation(in: #"{"color":"red","count":12}"#)?.contains("above 9") == true)
        #expect(schema.violation(in: #"{"color":"red","count":"3"}"#)?.contains("not integer") == true)
        #expect(schema.violation(in: #"{"color":"red","count":3,"x":1}"#)?.contains("unexpected") == true)
        #expect(schema.violation(in: "echo: hi") == "the answer is not JSON")
        #expect(JSONSchemaValue.array(items: .boolean, minItems: 2).violation(in: "[true]")?.contains("fewer than 2") == true)
        #expect(JSONSchemaValue.number(maximum: 1).violation(in: "0.5") == nil)
    }

    @Test(arguments: [
        (TestStructuredOutputs.jsonSchema, StructuredOutputLevel.jsonSchema),
        (.jsonObjectOnly, .jsonObject),
        (.none, .none),
    ])
    func probeFindsTheLevel(server: TestStructuredOutputs, expected: StructuredOutputLevel) async throws {
        let f = try AnswerFixture(structuredOutputs: server)
        defer { f.endpoint.stop() }
        let support = try await StructuredOutputProbe.probe(f.client)
        #expect(support.level == expected)
        #expect(!support.reason.isEmpty)
        if expected != .jsonSchema { #expect(support.reason.contains("json_schema")) }
        let sent = f.endpoint.seenRequests.compactMap { $0.request?.responseFormat?.type }
        #expect(sent == (expected == .jsonSchema ? ["json_schema"] : ["json_schema", "json_object"]))
        #expect(f.memory?.calls.allSatisfy { $0.stage == "check" } == true)
        // Cacheable: probing again asks nothing new (refusals are asked again).
        let count = f.endpoint.requestCount
        #expect(try await StructuredOutputProbe.probe(f.client).level == expected)
        #expect(f.endpoint.requestCount - count == (expected == .jsonSchema ? 0 : expected == .jsonObject ? 1 : 2))
    }

    @Test func serverThatIgnoresTheSchemaIsNotTrustedAndItsAnswerNotKept() async throws {
        let f = try AnswerFixture { _ in TestReply(content: #"{"colour": "green"}"#) }
        defer { f.endpoint.stop() }
        let support = try await StructuredOutputProbe.probe(f.client)
        #expect(support.level == .jsonObject)
        #expect(support.reason.contains("does not conform"))
        // The non-conforming json_schema answer was discarded; the json_object one kept.
        #expect(f.memory?.responses.count == 1)
    }

    @Test(arguments: [(TestStructuredOutputs.jsonSchema, "json_schema"), (.jsonObjectOnly, "json_object"), (.none, "none")])
    func llmCheckPrintsTheLevel(server: TestStructuredOutputs, level: String) throws {
        let endpoint = try TestEndpoint(TestEndpoint.Configuration(structuredOutputs: server))
        defer { endpoint.stop() }
        let result = try CLIRunner.run([
            "llm", "check", "--endpoint", endpoint.baseURL, "--model", "m", "--api-key-env", "AUTOINTERP_TEST_UNSET",
        ])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("structured    \(level):"))
    }
}

// MARK: - Several choices (`n`)

/// An answer with several choices (`n`): prompt tokens once, completion tokens of every choice
/// (llama.cpp reports the first choice's only: the others counted at its tokens per character),
/// cached whole unless every choice was cut off.
@Suite(.ownLane("LLMChoicesTests")) struct LLMChoicesTests {
    static func reply(
        _ contents: [String], llamaUsage: Bool, finish: [String] = [], timings: Bool? = nil
    ) -> @Sendable (ChatRequestSeen) -> TestReply {
        { _ in
            var reply = TestReply(content: contents[0], promptTokens: 30, completionTokens: 6)
            reply.choices = contents
            reply.choiceFinishReasons = finish
            reply.usageOfFirstChoiceOnly = llamaUsage
            if timings ?? llamaUsage { reply.timingsCacheN = 0 }
            return reply
        }
    }

    fileprivate static func ask(_ f: AnswerFixture) async throws -> LLMCompletion {
        try await f.client.complete(ChatCompletionRequest(messages: [.user("three ideas")], temperature: 1, maxTokens: 16, n: 3))
    }

    @Test func everyChoiceCountsOnceThePromptOnce() async throws {
        let f = try AnswerFixture(handler: Self.reply(["abcdef", "abc", "abcdefghijkl"], llamaUsage: false))
        defer { f.endpoint.stop() }
        let answer = try await Self.ask(f)
        #expect(answer.response.choices.count == 3)
        #expect(f.client.usage.promptTokens == 30 && f.client.usage.completionTokens == 18)
    }

    @Test func llamaCppUsageOfTheFirstChoiceIsScaledToTheOthers() async throws {
        // 6 tokens for 6 characters: 3 characters are 3 tokens, 12 are 12.
        let f = try AnswerFixture(handler: Self.reply(["abcdef", "abc", "abcdefghijkl"], llamaUsage: true))
        defer { f.endpoint.stop() }
        _ = try await Self.ask(f)
        #expect(f.client.usage.promptTokens == 30 && f.client.usage.completionTokens == 6 + 3 + 12)
        // A llama.cpp-style answer whose count is more than its first choice could hold is a total already.
        let fixed = try AnswerFixture(handler: Self.reply(["abcdef", "abc", "abcdefghijkl"], llamaUsage: false, timings: true))
        defer { fixed.endpoint.stop() }
        _ = try await Self.ask(fixed)
        #expect(fixed.client.usage.completionTokens == 18)
    }

    @Test func aPartlyCutOffAnswerIsCachedAnAllCutOffOneIsNot() async throws {
        let partly = try AnswerFixture(handler: Self.reply(["a", "b", "c"], llamaUsage: false, finish: ["length", "stop", "stop"]))
        defer { partly.endpoint.stop() }
        _ = try await Self.ask(partly)
        let again = try await Self.ask(partly)
        #expect(again.cached && partly.endpoint.requestCount == 1)
        let all = try AnswerFixture(handler: Self.reply(["a", "b", "c"], llamaUsage: false, finish: ["length", "length", "length"]))
        defer { all.endpoint.stop() }
        _ = try await Self.ask(all)
        #expect(!(try await Self.ask(all)).cached && all.endpoint.requestCount == 2)
    }
}
