import AutoInterpLLM
import AutoInterpTestSupport
import Foundation
import Logging
import Testing

// MARK: - Probe, benchmark and the test endpoint itself

@Suite(.ownLane("LLMEndpointTests")) struct LLMEndpointTests {
    private func client(_ endpoint: TestEndpoint, _ configure: (inout LLMEndpointConfig) -> Void = { _ in }) throws -> LLMClient {
        var config = LLMEndpointConfig(
            baseURL: endpoint.baseURL, model: "probe", apiKeyEnv: "AUTOINTERP_TEST_UNSET", requestTimeout: 5,
            retry: .init(maxAttempts: 6, baseBackoff: 0.01, maxBackoff: 0.05))
        configure(&config)
        return try LLMClient(
            config: config, logger: Logger(label: "quiet") { _ in SwiftLogNoOpLogHandler() }, environment: { _ in nil })
    }

    @Test func probeFindsLogprobsAndJSONMode() async throws {
        let endpoint = try TestEndpoint()
        defer { endpoint.stop() }
        let capabilities = try await LLMCapabilities.probe(try client(endpoint))
        #expect(capabilities.logprobs)
        #expect(capabilities.topLogprobs == 20)
        #expect(capabilities.jsonMode)
        #expect(capabilities.latencyMs > 0)
        #expect(capabilities.description.contains("JSON mode     yes"))
    }

    @Test func probeReportsMissingFeatures() async throws {
        // A server that ignores logprobs and answers JSON mode with prose.
        let endpoint = try TestEndpoint(latency: .zero) { _ in TestReply(content: "Sure! The answer is 7.") }
        defer { endpoint.stop() }
        let capabilities = try await LLMCapabilities.probe(try client(endpoint))
        #expect(!capabilities.logprobs)
        #expect(capabilities.topLogprobs == 0)
        #expect(!capabilities.jsonMode)
        #expect(capabilities.jsonModeProblem?.contains("not a JSON object") == true)
    }

    @Test func probeFailsOnABadKey() async throws {
        let endpoint = try TestEndpoint(latency: .zero, faults: .random(probability: 1, .status(401)))
        defer { endpoint.stop() }
        let error = try #require(await #expect(throws: LLMError.self) { try await LLMCapabilities.probe(try client(endpoint)) })
        #expect(error.isFatalForRun)
    }

    @Test func benchmarkCountsEverything() async throws {
        let endpoint = try TestEndpoint(latency: .milliseconds(10), faults: .at([3: .status(503)]))
        defer { endpoint.stop() }
        let result = await LLMBenchmark.run(client: try client(endpoint) { $0.maxInFlight = 8 }, requests: 40, concurrency: 8)
        #expect(result.succeeded == 40)
        #expect(result.failed == 0)
        #expect(result.retries == 1)
        #expect(endpoint.requestCount == 41)
        #expect(endpoint.peakConcurrency <= 8)
        #expect(result.p50Ms >= 10 && result.p50Ms <= result.p90Ms && result.p99Ms <= result.maxMs)
        #expect(result.cpuMsPerRequest > 0)
    }

    @Test func flakyEndpointIsSurvived() async throws {
        let endpoint = try TestEndpoint(latency: .milliseconds(2), faults: .random(probability: 0.25, .status(503), seed: 42))
        defer { endpoint.stop() }
        let client = try client(endpoint) { $0.retry.maxAttempts = 10 }
        try await withThrowingTaskGroup(of: String?.self) { group in
            for i in 0..<60 { group.addTask { try await client.complete(ChatCompletionRequest(messages: [.user("flaky \(i)")])).content } }
            for try await content in group { #expect(content?.hasPrefix("echo: flaky") == true) }
        }
        let usage = client.usage
        #expect(usage.failedCalls == 0)
        #expect(usage.retries > 0)
        #expect(endpoint.requestCount == 60 + usage.retries)
    }

    @Test func faultPlansAreDeterministic() {
        let plan = TestFaultPlan.random(probability: 0.3, .hang, seed: 7)
        let first = (1...1000).map { plan.fault(forRequest: $0) != nil }
        let second = (1...1000).map { plan.fault(forRequest: $0) != nil }
        #expect(first == second)
        let share = Double(first.filter { $0 }.count) / 1000
        #expect(share > 0.22 && share < 0.38)
        #expect(TestFaultPlan.at([2: .status(500)]).fault(forRequest: 2) == .status(500))
        #expect(TestFaultPlan.none.fault(forRequest: 1) == nil)
    }

    @Test func stopClosesHangingConnectionsAndThePort() async throws {
        let endpoint = try TestEndpoint(latency: .zero, faults: .random(probability: 1, .hang))
        let client = try client(endpoint) {
            $0.retry.maxAttempts = 1
            $0.requestTimeout = 60
        }
        let task = Task { try await client.complete(ChatCompletionRequest(messages: [.user("x")])) }
        while endpoint.requestCount == 0 { try await Task.sleep(for: .milliseconds(5)) }
        let start = ContinuousClock.now
        endpoint.stop()
        let error = try #require(await #expect(throws: LLMError.self) { try await task.value })
        #expect(error.isTransient)
        // Half the 60 s request timeout: a stop that left the connection open would wait all of it;
        // the margin is for a loaded machine (10.9 s seen at load 10 with a real LLM server beside).
        #expect(ContinuousClock.now - start < .seconds(30), "far below the 60 s request timeout")
    }
}
