@testable import AutoInterp
import AutoInterpLLM
import AutoInterpTestSupport
import Foundation
import Logging
import Synchronization
import Testing

/// Issue 20 item 2: `run --batch openai` against the batch test server.
struct BatchServerTests: BatchTesting {
    /// A test crash at one step of the batch transport, thrown once.
    private struct SimulatedCrash: Error {}

    @Test func aRunThroughTheBatchServerEqualsTheRealTimeRun() async throws {
        let fixture = try ScriptedRunFixture(contexts: 30)
        defer { fixture.remove() }
        // One server on one port: its router answers the batch API, its chat handler the probes.
        let server = try fixture.server()
        var realtime = try fixture.request(name: "rt", neurons: "0-1", endpoint: server.baseURL)
        realtime.stages = [.explain, .simulate, .score, .detection]
        let live = try await RunCoordinator(logger: Self.quietLogger()).run(realtime)
        #expect(live.summary.outcome == .complete, "\(live.summary.stoppedEarly ?? "")")

        var batched = realtime
        batched.setup.name = "bt"
        batched.batch = BatchSettings(backend: .openAI, pollInterval: 0.01)
        let result = try await RunCoordinator(logger: Self.quietLogger()).run(batched)
        #expect(result.summary.stoppedEarly == nil && result.summary.outcome == .complete)
        let batches = try result.store.batches()
        #expect(batches.count >= 2 && batches.allSatisfy { $0.status == .ingested && $0.providerBatchID != nil && $0.inputFileID != nil })
        #expect(batches.allSatisfy { $0.usageJSON?.contains("input_tokens") == true && $0.requestCountsJSON != nil })
        // Each wave's file was submitted once.
        #expect(server.creations == batches.count && server.creationsPerFile.values.allSatisfy { $0 == 1 })
        try Self.sameRows(live, result)
    }

    @Test(arguments: BatchStep.allCases)
    func aCrashAtEachStepResumesWithNoBatchSubmittedTwice(_ step: BatchStep) async throws {
        let fixture = try ScriptedRunFixture(contexts: 30)
        defer { fixture.remove() }
        let server = try fixture.server()
        var request = try fixture.request(name: "crash", neurons: "0-1", endpoint: server.baseURL)
        request.stages = [.explain]
        var settings = BatchSettings(backend: .openAI, pollInterval: 0.01)
        // One result line per ingest page, so the crash at mid-ingest comes after the first of the two lines.
        settings.ingestPage = 1
        let crashed = Mutex(false)
        settings.stepHook = { at in
            guard at == step, !crashed.withLock({ $0 }) else { return }
            crashed.withLock { $0 = true }
            throw SimulatedCrash()
        }
        request.batch = settings
        var threw = false
        do {
            _ = try await RunCoordinator(logger: Self.quietLogger()).run(request)
        } catch is SimulatedCrash {
            threw = true
        }
        #expect(threw)
        // The rerun (a new process would start the same way) goes on from the stored step.
        request.batch?.stepHook = nil
        let result = try await RunCoordinator(logger: Self.quietLogger()).run(request)
        #expect(result.summary.stoppedEarly == nil && result.summary.outcome == .complete)
        #expect(try result.store.explanations(runID: result.run.id).count == 2)
        let batches = try result.store.batches()
        #expect(batches.count == 1 && batches[0].status == .ingested)
        #expect(server.creations == 1, "step \(step.rawValue): \(server.creations) batches created")
    }

    @Test func expiryKeepsTheFinishedLinesAndTheRestGoInARetryWave() async throws {
        let fixture = try ScriptedRunFixture(contexts: 30)
        defer { fixture.remove() }
        var options = BatchTestServer.Options()
        // The first batch's window closes after one line (a 500); later batches have all the time.
        options.expireAfterLines = (lines: 1, batches: 1)
        options.fault = { line, body in line == 0 && body["seed"] == nil ? .serverError : nil }
        let server = try fixture.server(options)
        var request = try fixture.request(name: "exp", neurons: "0-3", endpoint: server.baseURL)
        request.stages = [.explain]
        request.batch = BatchSettings(backend: .openAI, maxAttempts: 6, pollInterval: 0.01)
        let result = try await RunCoordinator(logger: Self.quietLogger()).run(request)
        let batches = try result.store.batches()
        #expect(batches.first?.providerBatchID.flatMap { server.statuses[$0] } == "expired")
        let calls = try result.store.llmCalls().filter { $0.tier == "batch" }
        #expect(calls.contains { $0.error?.contains("batch_expired") == true })
        #expect(calls.contains { $0.statusCode == 500 })
        #expect(batches.count >= 2 && result.summary.stoppedEarly == nil)
        #expect(try result.store.explanations(runID: result.run.id).count == 4)
    }

    @Test func theServerValidatesLinesAndKeepsItsStateAcrossARestart() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        var options = BatchTestServer.Options()
        options.validateDelay = 0
        let folder = dir.path("server")
        var server: BatchTestServer? = try BatchTestServer(folder: folder, options: options, handler: ScriptedLLM().handler)
        let config = LLMEndpointConfig(baseURL: server!.baseURL, model: "m", apiKeyEnv: "AUTOINTERP_TEST_NO_KEY")
        let api = OpenAIBatchAPI(config: config)
        let good = #"{"custom_id":"a","method":"POST","url":"/v1/chat/completions","body":{"model":"m","messages":[{"role":"user","content":"hi"}]}}"#
        let duplicate = good + "\n" + good + "\n" + "not json\n"
        let bad = try await api.create(inputFileID: try await api.upload(Data(duplicate.utf8), filename: "x.jsonl"), metadata: [:])
        var seen = bad
        for _ in 0..<200 where seen.status == "validating" {
            try await Task.sleep(for: .milliseconds(10))
            seen = try await api.batch(bad.id)
        }
        #expect(seen.status == "failed")
        #expect(seen.errorLines.contains { $0.hasPrefix("line 2: duplicate_custom_id") })
        #expect(seen.errorLines.contains { $0.hasPrefix("line 3: invalid_json_line") })

        let ok = try await api.create(inputFileID: try await api.upload(Data((good + "\n").utf8), filename: "y.jsonl"), metadata: ["k": "v"])
        let port = UInt16(server!.port)
        server!.stop()
        server = nil
        // Restarted on the same folder: the batches are still there and the open one finishes.
        let restarted = try BatchTestServer(folder: folder, port: port, options: options, handler: ScriptedLLM().handler)
        defer { restarted.stop() }
        var done = try await api.batch(ok.id)
        for _ in 0..<300 where done.status != "completed" {
            try await Task.sleep(for: .milliseconds(10))
            done = try await api.batch(ok.id)
        }
        #expect(done.status == "completed" && done.metadata == ["k": "v"])
        let outputID = try #require(done.outputFileID)
        let output = try #require(try await api.content(of: outputID))
        #expect(String(decoding: output, as: UTF8.self).contains(#""custom_id":"a""#))
        #expect(try await api.batch(bad.id).status == "failed")
    }

    @Test func batchCancelKeepsThePartialResultsAndARerunAsksOnlyTheRest() async throws {
        let fixture = try ScriptedRunFixture(contexts: 30)
        defer { fixture.remove() }
        var options = BatchTestServer.Options()
        options.holdAfterLines = (lines: 2, batches: 1)
        let server = try fixture.server(options)
        var request = try fixture.request(name: "c", neurons: "0-5", endpoint: server.baseURL)
        request.stages = [.explain]
        var settings = BatchSettings(backend: .openAI, pollInterval: 0.01)
        // The process "dies" while it polls (the batch runs on at the provider).
        settings.stepHook = { step in if step == .midPoll { throw SimulatedCrash() } }
        request.batch = settings
        await #expect(throws: SimulatedCrash.self) { _ = try await RunCoordinator(logger: Self.quietLogger()).run(request) }
        // Two lines run, then the batch holds until it is cancelled.
        for _ in 0..<400 where !server.linesRun.values.contains(2) { try await Task.sleep(for: .milliseconds(5)) }

        let url = fixture.dir.path("results").appendingPathComponent("c").appendingPathComponent("autointerp.sqlite")
        let store = try RunStore(url: url)
        let api = OpenAIBatchAPI(config: try #require(request.endpoint))
        let cancelled = try await BatchControl.cancel(
            store: store, api: api, settings: BatchSettings(backend: .openAI, pollInterval: 0.01), runName: "c", logger: Self.quietLogger())
        #expect(cancelled.count == 1)
        let batch = try #require(try store.batches().first)
        #expect(batch.status == .cancelled && batch.ingestedAt != nil)
        #expect(batch.answered == 2 && batch.failed == 4)
        let status = try BatchControl.status(store: store).joined(separator: "\n")
        #expect(status.contains("cancelled") && status.contains("no batch is open"))

        // A rerun asks only the cancelled requests again (another seed: a new batch), and finishes.
        request.batch?.stepHook = nil
        let result = try await RunCoordinator(logger: Self.quietLogger()).run(request)
        #expect(result.summary.outcome == .complete && server.creations == 2)
        let second = try #require(try result.store.batches().last)
        #expect(second.requestCount == 6 - batch.answered)
        #expect(try result.store.explanations(runID: result.run.id).count == 6)
    }

    @Test func anAnthropicMessageBatchRunEqualsTheRealTimeRunAndRefusesLogprobs() async throws {
        // What the Messages API offers: no logprobs, no response_format; real time pins the same.
        let fixture = try ScriptedRunFixture(contexts: 30, logprobs: false)
        defer { fixture.remove() }
        var options = BatchTestServer.Options()
        options.structuredOutputs = .none
        let server = try fixture.server(options)
        var realtime = try fixture.request(name: "rt", neurons: "0-1", endpoint: server.baseURL)
        realtime.stages = [.explain, .simulate, .score, .detection]
        let live = try await RunCoordinator(logger: Self.quietLogger()).run(realtime)
        #expect(live.summary.outcome == .complete)

        var batched = realtime
        batched.setup.name = "an"
        batched.batch = BatchSettings(backend: .anthropic, pollInterval: 0.01)
        let result = try await RunCoordinator(logger: Self.quietLogger()).run(batched)
        #expect(result.summary.stoppedEarly == nil && result.summary.outcome == .complete)
        let batches = try result.store.batches()
        #expect(batches.count >= 2 && batches.allSatisfy { $0.dialect == "anthropic" && $0.providerBatchID?.hasPrefix("msgbatch_") == true })
        let input = try String(contentsOfFile: batches[0].localPath, encoding: .utf8)
        #expect(input.contains(#""params":"#) && !input.contains(#""method""#) && !input.contains("logprobs"))
        #expect(server.creations == batches.count)
        try Self.sameRows(live, result)

        var logprobs = batched
        logprobs.setup.name = "lp"
        logprobs.simulatorMode = .logprobs
        do {
            _ = try await RunCoordinator(logger: Self.quietLogger()).run(logprobs)
            Issue.record("logprob mode accepted on anthropic batches")
        } catch let error as AutoInterpError {
            #expect(error.description.contains("no logprobs") && error.description.contains("`simulator mode` sparse"))
        }
    }
}
