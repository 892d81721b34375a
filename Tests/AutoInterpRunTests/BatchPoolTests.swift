@testable import AutoInterp
import AutoInterpLLM
import AutoInterpTestSupport
import Foundation
import Logging
import Testing

/// Issue 20, `--endpoints` with `--batch`: a provider batch goes to one batch API, so `openai`
/// and `anthropic` refuse a pool with one line before anything is stored; `file` takes a pool (the
/// lines run elsewhere, the pool answers the probes) and stores the same rows as a real-time run
/// over that pool.
struct BatchPoolTests {
    private static func quietLogger() -> Logger {
        var logger = Logger(label: "test.batch-pool")
        logger.logLevel = .critical
        return logger
    }

    private static func pool(_ endpoints: [TestEndpoint]) -> LLMEndpointConfig {
        let members = endpoints.enumerated().map { index, endpoint in
            LLMEndpointPool.Member(name: "r\(index)", url: endpoint.baseURL, maxInFlight: 4)
        }
        var config = LLMEndpointConfig(baseURL: "", model: "test-model", apiKeyEnv: "AUTOINTERP_TEST_NO_KEY", maxInFlight: 4)
        config.retry = .init(maxAttempts: 2, maxTotalTime: 10, baseBackoff: 0.01, maxBackoff: 0.05, jitter: 0)
        return config.using(pool: LLMEndpointPool(group: "replicas", endpoints: members))
    }

    @Test(arguments: [BatchSettings.Backend.openAI, .anthropic])
    func providerBatchesRefuseAPoolInOneLineBeforeAnythingIsStored(_ backend: BatchSettings.Backend) async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let (dataset, _) = try ScriptedRun.writeDataset(in: dir, contexts: 30)
        let endpoints = try (0..<2).map { _ in try TestEndpoint(TestEndpoint.Configuration(handler: ScriptedLLM().handler)) }
        defer { endpoints.forEach { $0.stop() } }
        var request = try ScriptedRun.request(name: "p", dir: dir, dataset: dataset, neurons: "0-1", endpoint: "http://unused/v1")
        request.endpoint = Self.pool(endpoints)
        request.batch = BatchSettings(backend: backend, pollInterval: 0.01)
        do {
            _ = try await RunCoordinator(logger: Self.quietLogger()).run(request)
            Issue.record("a pool was accepted with \(backend.dialect) batches")
        } catch let error as AutoInterpError {
            #expect(error.option == .batch && Setting.mentions(in: error.message).contains(.endpoints))
            #expect(error.description.contains("one provider's batch API") && error.description.contains("'replicas'"))
            #expect(!error.description.contains("\n"))
        }
        #expect(endpoints.allSatisfy { $0.requestCount == 0 })
        #expect(!FileManager.default.fileExists(atPath: dir.path("results/p").path))
    }

    @Test func aFileBatchRunOverAPoolStoresTheSameRowsAsARealTimeRunOverIt() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let (dataset, _) = try ScriptedRun.writeDataset(in: dir, contexts: 30)
        let scripted = ScriptedLLM()
        let endpoints = try (0..<2).map { _ in try TestEndpoint(TestEndpoint.Configuration(handler: scripted.handler)) }
        defer { endpoints.forEach { $0.stop() } }
        var realtime = try ScriptedRun.request(name: "rt", dir: dir, dataset: dataset, neurons: "0-1", endpoint: "http://unused/v1")
        realtime.endpoint = Self.pool(endpoints)
        realtime.stages = [.explain, .simulate, .score]
        let live = try await RunCoordinator(logger: Self.quietLogger()).run(realtime)
        #expect(live.summary.outcome == .complete)
        let sentLive = endpoints.reduce(0) { $0 + $1.requestCount }

        var batched = realtime
        batched.setup.name = "fb"
        batched.batch = BatchSettings(backend: .file(nil))
        var result = try await RunCoordinator(logger: Self.quietLogger()).run(batched)
        var waves = 0
        while result.summary.stoppedEarly != nil, waves < 8 {
            #expect(try FileBatchRunner.answerOpenBatches(of: result.store, handler: scripted.handler) > 0)
            waves += 1
            result = try await RunCoordinator(logger: Self.quietLogger()).run(batched)
        }
        #expect(result.summary.stoppedEarly == nil && result.summary.outcome == .complete && waves >= 2)
        // The batches carry the pool's group name (the request hash's endpoint), and only the
        // capability probes went to the replicas in real time.
        let batches = try result.store.batches()
        #expect(batches.allSatisfy { $0.endpoint == "replicas" && $0.status == .ingested })
        let sentBatched = endpoints.reduce(0) { $0 + $1.requestCount } - sentLive
        #expect(sentBatched > 0 && sentBatched <= 6)

        var expected = try contents(of: URL(fileURLWithPath: live.store.path))
        var got = try contents(of: URL(fileURLWithPath: result.store.path))
        for table in ["llm_calls", "llm_cache", "llm_pending", "llm_batches"] {
            expected[table] = nil
            got[table] = nil
        }
        for table in Set(expected.keys).union(got.keys).sorted() {
            #expect(got[table] == expected[table], "table \(table)")
        }
    }
}
