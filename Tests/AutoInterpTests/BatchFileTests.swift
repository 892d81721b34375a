@testable import AutoInterp
import AutoInterpLLM
import AutoInterpTestSupport
import Foundation
import Logging
import Testing

/// Issue 20 item 1: `run --batch file[:DIR]`, the batch transport through files.
struct BatchFileTests {
    private static func quietLogger() -> Logger {
        var logger = Logger(label: "test.batch")
        logger.logLevel = .critical
        return logger
    }

    /// Tables whose rows depend on the transport (the call log, the cache's raw bodies, the
    /// batch bookkeeping); every other table must be the same.
    private static let transportTables: Set<String> = ["llm_calls", "llm_cache", "llm_pending", "llm_batches"]

    /// Runs `request` through the file backend, answering each wave's files with `handler` as an
    /// external runner would, until the run no longer waits; returns the last result and the waves.
    private static func runThroughFiles(
        _ request: RunRequest, handler: @escaping @Sendable (ChatRequestSeen) -> TestReply,
        fail: @escaping (_ line: Int, _ customID: String) -> Bool = { _, _ in false }
    ) async throws -> (result: RunResult, waves: Int) {
        var waves = 0
        while true {
            let result = try await RunCoordinator(logger: quietLogger()).run(request)
            guard let stopped = result.summary.stoppedEarly else { return (result, waves) }
            #expect(stopped.hasPrefix("batch: ") && stopped.contains(".input.jsonl") && stopped.contains("rerun the same command"))
            let answered = try FileBatchRunner.answerOpenBatches(of: result.store, handler: handler, fail: fail)
            try #require(answered > 0, "the run waits, but wrote no batch: \(stopped)")
            waves += 1
            try #require(waves < 12, "too many waves")
        }
    }

    @Test func aRunThroughBatchFilesStoresTheSameRowsAsInRealTime() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let (dataset, _) = try ScriptedRun.writeDataset(in: dir, contexts: 40)
        let scripted = ScriptedLLM()
        let endpoint = try TestEndpoint(TestEndpoint.Configuration(handler: scripted.handler))
        defer { endpoint.stop() }

        let realtime = try ScriptedRun.request(name: "rt", dir: dir, dataset: dataset, neurons: "0-2", endpoint: endpoint.baseURL)
        let live = try await RunCoordinator(logger: Self.quietLogger()).run(realtime)
        #expect(live.summary.stoppedEarly == nil && live.summary.outcome == .complete)
        let realtimeRequests = endpoint.requestCount

        var batched = try ScriptedRun.request(name: "bt", dir: dir, dataset: dataset, neurons: "0-2", endpoint: endpoint.baseURL)
        batched.batch = BatchSettings(backend: .file(nil))
        let (result, waves) = try await Self.runThroughFiles(batched, handler: scripted.handler)
        #expect(result.summary.outcome == .complete)
        // Explanations, then what needs them (the controls included): at least two waves.
        #expect(waves >= 2)
        // Only the capability probes went to the endpoint in real time.
        let sentLive = endpoint.requestCount - realtimeRequests
        let batches = try result.store.batches()
        let lines = batches.reduce(0) { $0 + $1.requestCount }
        #expect(sentLive <= 6 && lines > 20)
        #expect(batches.allSatisfy { $0.status == .ingested && $0.dialect == "file" && $0.answered == $0.requestCount })
        #expect(try result.store.pendingCounts().isEmpty)
        let calls = try result.store.llmCalls()
        #expect(calls.count { $0.tier == "batch" } == lines)
        #expect(calls.filter { $0.tier == "batch" }.allSatisfy { $0.batchID != nil && $0.error == nil && $0.promptTokens != nil })

        var expected = try contents(of: URL(fileURLWithPath: live.store.path))
        var got = try contents(of: URL(fileURLWithPath: result.store.path))
        for table in Self.transportTables {
            expected[table] = nil
            got[table] = nil
        }
        #expect(!(expected["classifications"] ?? []).isEmpty && !(expected["scores"] ?? []).isEmpty)
        for table in Set(expected.keys).union(got.keys).sorted() {
            #expect(got[table] == expected[table], "table \(table)")
        }
    }
}
