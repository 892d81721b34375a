@testable import AutoInterp
import AutoInterpLLM
import AutoInterpTestSupport
import Foundation
import Logging
import Testing

/// Issue 20 item 1: `run --batch file[:DIR]`, the batch transport through files.
struct BatchFileTests: BatchTesting {
    /// Runs `request` through the file backend, answering each wave's files with `handler` as an
    /// external runner would, until the run no longer waits; returns the last result and the waves.
    private static func runThroughFiles(
        _ request: RunRequest, handler: @escaping @Sendable (ChatRequestSeen) -> TestReply,
        fail: @escaping (_ line: Int, _ body: [String: Any]) -> Bool = { _, _ in false }
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
        let fixture = try ScriptedRunFixture(contexts: 30)
        defer { fixture.remove() }
        let endpoint = try fixture.endpoint()

        let realtime = try fixture.request(name: "rt", neurons: "0-1", endpoint: endpoint.baseURL)
        let live = try await RunCoordinator(logger: Self.quietLogger()).run(realtime)
        #expect(live.summary.stoppedEarly == nil && live.summary.outcome == .complete)
        let realtimeRequests = endpoint.requestCount

        var batched = try fixture.request(name: "bt", neurons: "0-1", endpoint: endpoint.baseURL)
        batched.batch = BatchSettings(backend: .file(nil))
        let (result, waves) = try await Self.runThroughFiles(batched, handler: fixture.scripted.handler)
        #expect(result.summary.outcome == .complete)
        // Explanations, then what needs them (the controls included): at least two waves.
        #expect(waves >= 2)
        // Only the capability probes went to the endpoint in real time; every other request of
        // the real-time run is a batch line.
        let sentLive = endpoint.requestCount - realtimeRequests
        let batches = try result.store.batches()
        let lines = batches.reduce(0) { $0 + $1.requestCount }
        #expect(sentLive <= 6 && lines > 10 && lines == realtimeRequests - sentLive, "\(sentLive) live, \(lines) lines, \(realtimeRequests) real time")
        #expect(batches.allSatisfy { $0.status == .ingested && $0.dialect == "file" && $0.answered == $0.requestCount })
        #expect(try result.store.pendingCounts().isEmpty)
        let calls = try result.store.llmCalls()
        #expect(calls.count { $0.tier == "batch" } == lines)
        #expect(calls.filter { $0.tier == "batch" }.allSatisfy { $0.batchID != nil && $0.error == nil && $0.promptTokens != nil })
        try Self.sameRows(live, result, nonEmpty: ["classifications", "scores"])
    }

    @Test func failedAndExpiredLinesEndInRetryWavesWithAnotherSeed() async throws {
        let fixture = try ScriptedRunFixture(contexts: 30)
        defer { fixture.remove() }
        let endpoint = try fixture.endpoint()
        var realtime = try fixture.request(name: "rt", neurons: "0-1", endpoint: endpoint.baseURL)
        realtime.stages = [.explain, .simulate, .score, .detection]
        let live = try await RunCoordinator(logger: Self.quietLogger()).run(realtime)

        var batched = realtime
        batched.setup.name = "bt"
        batched.batch = BatchSettings(backend: .file(nil))
        // Every third first-attempt line fails (an HTTP 500 line and an expired line by turns).
        let (result, waves) = try await Self.runThroughFiles(batched, handler: fixture.scripted.handler) { line, body in
            line % 3 == 1 && body["seed"] == nil
        }
        #expect(result.summary.outcome == .complete)
        let calls = try result.store.llmCalls().filter { $0.tier == "batch" }
        let failed = calls.filter { $0.error != nil }
        #expect(failed.contains { $0.statusCode == 500 } && failed.contains { $0.error?.contains("batch_expired") == true })
        // Each failed line was asked again in a later wave, as another line (another seed, another hash).
        #expect(waves >= 3)
        let answeredHashes = Set(calls.filter { $0.error == nil }.map(\.requestHash))
        #expect(failed.allSatisfy { answeredHashes.contains($0.requestHash) })
        let batchLines = try result.store.batches().reduce(0) { $0 + $1.requestCount }
        #expect(batchLines == calls.count)
        try Self.sameRows(live, result)
    }

    @Test func aLineThatFailsEveryAttemptIsACallFailureUnlessTheLastGoesInRealTime() async throws {
        let fixture = try ScriptedRunFixture(contexts: 30)
        defer { fixture.remove() }
        let endpoint = try fixture.endpoint()
        var request = try fixture.request(name: "b1", neurons: "0-1", endpoint: endpoint.baseURL)
        request.stages = [.explain]
        request.batch = BatchSettings(backend: .file(nil), maxAttempts: 2)
        let (failedRun, waves) = try await Self.runThroughFiles(request, handler: fixture.scripted.handler) { _, _ in true }
        #expect(waves == 2)
        // No explanation and no refusal row: a failed call, as in real time, asked again by a rerun.
        #expect(try failedRun.store.explanations(runID: failedRun.run.id).isEmpty)
        #expect(failedRun.summary.outcome != .complete)
        let summaryText = failedRun.summary.text
        #expect(summaryText.contains("llm-call") && summaryText.contains("batch line failed on each of 2 attempt(s)"))
        #expect(try failedRun.store.pendingCounts().isEmpty)

        request.setup.name = "b2"
        request.batch?.retryRealtime = true
        let before = endpoint.requestCount
        let (saved, savedWaves) = try await Self.runThroughFiles(request, handler: fixture.scripted.handler) { _, _ in true }
        #expect(savedWaves == 1 && saved.summary.outcome == .complete)
        #expect(try saved.store.explanations(runID: saved.run.id).count == 2)
        #expect(endpoint.requestCount - before >= 2)
    }

    @Test func aRerunWithoutOutputWaitsForTheSameBatchAndABadLineIsNamed() async throws {
        let fixture = try ScriptedRunFixture(contexts: 30)
        defer { fixture.remove() }
        let endpoint = try fixture.endpoint()
        var request = try fixture.request(name: "w", neurons: "0-1", endpoint: endpoint.baseURL)
        request.stages = [.explain]
        let folder = fixture.dir.path("batch-files")
        request.batch = BatchSettings(backend: .file(folder))
        let first = try await RunCoordinator(logger: Self.quietLogger()).run(request)
        let waiting = try #require(first.summary.stoppedEarly)
        let batches = try first.store.batches()
        #expect(batches.count == 1 && batches[0].requestCount == 2 && batches[0].localPath.hasPrefix(folder.path))
        #expect(waiting.contains(batches[0].localPath))
        let input = try String(contentsOfFile: batches[0].localPath, encoding: .utf8)
        let line = try #require(input.split(separator: "\n").first)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        #expect(object["method"] as? String == "POST" && object["url"] as? String == "/v1/chat/completions")
        #expect((object["custom_id"] as? String)?.count == 64 && (object["body"] as? [String: Any])?["model"] as? String == "test-model")

        // Rerun before the output is there: the same batch, nothing written or sent again.
        let again = try await RunCoordinator(logger: Self.quietLogger()).run(request)
        #expect(again.summary.stoppedEarly == waiting)
        #expect(try again.store.batches() == batches)

        // A broken output line is one error naming the file and the line.
        let output = BatchWaves.outputURL(of: batches[0])
        try Data("{\"custom_id\": \"x\", \"response\": null, \"error\": null}\nnot json\n".utf8).write(to: output)
        do {
            _ = try await RunCoordinator(logger: Self.quietLogger()).run(request)
            Issue.record("a broken output file was ingested")
        } catch let error as AutoInterpError {
            #expect(error.description.contains(output.path) && error.description.contains("line 2 is not a JSON object"))
        }
    }

    @Test func batchOptionsAreChecked() throws {
        #expect(try BatchSettings.Backend(parsing: "file") == .file(nil))
        #expect(try BatchSettings.Backend(parsing: "file:/tmp/x") == .file(URL(fileURLWithPath: "/tmp/x")))
        for bad in ["", "file:", "openia", "s3://bucket"] {
            #expect(throws: AutoInterpError.self) { try BatchSettings.Backend(parsing: bad) }
        }
        #expect(BatchStatus(provider: "COMPLETED") == .completed && BatchStatus(provider: "canceled") == .cancelled)
        #expect(BatchStatus(provider: "in_progress") == .inProgress && BatchStatus(provider: "ingested") == nil)
        #expect(BatchStatus(provider: "done") == nil)
        #expect(throws: AutoInterpError.self) { try BatchSettings(backend: .file(nil), maxWaves: 0).validate() }
        #expect(throws: AutoInterpError.self) { try BatchSettings(backend: .file(nil), maxAttempts: 11).validate() }
    }

    @Test func batchLinesAreBilledAtTheBatchPriceAndMaxCostStopsAWaveBeforeItIsWritten() async throws {
        let fixture = try ScriptedRunFixture(contexts: 30)
        defer { fixture.remove() }
        let endpoint = try fixture.endpoint()
        var request = try fixture.request(name: "money", neurons: "0-1", endpoint: endpoint.baseURL)
        request.stages = [.explain]
        request.endpoint?.priceInputPerMillion = 2
        request.endpoint?.priceOutputPerMillion = 4
        request.batch = BatchSettings(backend: .file(nil))
        request.batch?.priceOutput = 1  // the input price defaults to half the real-time one
        let (result, _) = try await Self.runThroughFiles(request, handler: fixture.scripted.handler)
        #expect(try result.store.prices(runID: result.run.id) == StoredPrices(prompt: 2, completion: 4, batchPrompt: nil, batchCompletion: 1))
        let calls = try result.store.llmCalls().filter { !$0.cached && $0.error == nil }
        let batch = calls.filter { $0.tier == "batch" }
        let live = calls.filter { $0.tier == "realtime" }
        #expect(!batch.isEmpty && !live.isEmpty)
        func tokens(_ calls: [LLMCallRecord]) -> (prompt: Double, completion: Double) {
            (Double(calls.reduce(0) { $0 + ($1.promptTokens ?? 0) }), Double(calls.reduce(0) { $0 + ($1.completionTokens ?? 0) }))
        }
        let (bp, bc) = tokens(batch), (lp, lc) = tokens(live)
        let report = try RunReport.load(from: result.store, run: result.run)
        let paid = try #require(report.totalCost), realtime = try #require(report.totalRealtimeCost)
        #expect(abs(paid - ((lp * 2 + lc * 4) + (bp * 1 + bc * 1)) / 1e6) < 1e-12)
        #expect(abs(realtime - ((lp + bp) * 2 + (lc + bc) * 4) / 1e6) < 1e-12)
        #expect(report.usedBatches && realtime > paid)
        #expect(MarkdownReport(report).render().contains("all in real time it would have been"))

        // A limit below what the first wave may cost: nothing is written or submitted.
        request.setup.name = "capped"
        request.batch?.maxCost = 1e-9
        let capped = try await RunCoordinator(logger: Self.quietLogger()).run(request)
        let line = try #require(capped.summary.stoppedEarly)
        #expect(Setting.plain(line).contains("over `max cost`") && line.contains("2 request(s)"))
        #expect(try capped.store.batches().isEmpty && capped.store.pendingCounts()["pending"] == 2)
        // Raised: the same command collects the wave again and sends it.
        request.batch?.maxCost = 100
        let (raised, waves) = try await Self.runThroughFiles(request, handler: fixture.scripted.handler)
        #expect(raised.summary.outcome == .complete && waves == 1)
        #expect(try raised.store.batches().map(\.requestCount) == [2])
    }
}
