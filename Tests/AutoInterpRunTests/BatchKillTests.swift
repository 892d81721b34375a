@testable import AutoInterp
import AutoInterpLLM
import AutoInterpTestSupport
import Foundation
import Testing

/// Issue 20, item 2 on the real binary: `autointerp run --batch openai` killed with SIGKILL at each
/// step of the batch transport, ingesting included (between two stored pages of results) (the process stops there through
/// ``BatchSettings/pauseHook(environment:)``, the test kills it from outside), then run again:
/// no batch is submitted twice and the stored rows equal an uninterrupted run's.
struct BatchKillTests {
    private static let transportTables: Set<String> = ["llm_calls", "llm_cache", "llm_pending", "llm_batches"]

    private static func arguments(name: String, dir: TemporaryDirectory, dataset: URL, server: BatchTestServer) -> [String] {
        [
            "run", "--activations", dataset.path, "--neurons", "0-2", "--name", name, "--results", dir.path("results").path,
            "--endpoint", server.baseURL, "--model", "test-model", "--api-key-env", "AUTOINTERP_TEST_NO_KEY", "--stages", "explain",
            "--prompts", ScriptedRun.promptsFolder.path, "--rubric", ScriptedRun.rubricFile.path, "--batch", "openai",
            "--batch-poll", "0.02", "--quiet",
        ]
    }

    @Test(arguments: BatchStep.allCases)
    func aClientKilledAtAStepResumesWithNoBatchSubmittedTwice(_ step: BatchStep) async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let (dataset, _) = try ScriptedRun.writeDataset(in: dir, contexts: 30)
        var options = BatchTestServer.Options()
        // The batch stays validating a while, so the killed client's batch is still open at the provider.
        options.validateDelay = 0.2
        let server = try BatchTestServer(folder: dir.path("server"), options: options, handler: ScriptedLLM().handler)
        defer { server.stop() }

        let reference = try await offCooperativePool {
            try CLIRunner.run(Self.arguments(name: "ref", dir: dir, dataset: dataset, server: server), timeout: 60)
        }
        #expect(reference.status == 0, "\(reference.stderr)")
        let before = server.creations
        #expect(before == 1)

        let args = Self.arguments(name: "k", dir: dir, dataset: dataset, server: server)
        let marker = dir.path("paused")
        // One result line per ingest page: mid-ingest is after the first of the three lines is stored.
        let child = try ScriptedProcess(
            args,
            environment: [
                BatchSettings.pauseStepVariable: step.rawValue, BatchSettings.pauseFileVariable: marker.path,
                BatchSettings.ingestPageVariable: "1",
            ])
        let (paused, killed) = try await offCooperativePool {
            let deadline = Date().addingTimeInterval(30)
            while !FileManager.default.fileExists(atPath: marker.path), child.isRunning, Date() < deadline { usleep(2_000) }
            let paused = FileManager.default.fileExists(atPath: marker.path) && child.isRunning
            child.kill9()
            return (paused, child.wait())
        }
        #expect(paused, "the client never reached \(step.rawValue): \(killed.stderr)")
        #expect(killed.status != 0)
        let url = dir.path("results/k/autointerp.sqlite")
        let atKill = try RunStore(readingAt: url).batches()
        #expect(atKill.count == 1 && atKill[0].ingestedAt == nil, "step \(step.rawValue)")
        // Created at the provider only from after-create on (its id not stored yet at that step).
        #expect(server.creations - before == (step == .beforeUpload || step == .afterUpload ? 0 : 1))
        #expect((atKill[0].providerBatchID != nil) == (step == .midPoll || step == .midIngest))

        if step == .midIngest {
            // The first page (one answer) is stored; the batch is not ingested yet.
            let states = try RunStore(readingAt: url).database.query("SELECT state FROM llm_pending").compactMap { $0.string("state") }
            #expect(states.sorted() == ["answered", "submitted", "submitted"], "\(states)")
        }

        let resumed = try await offCooperativePool { try CLIRunner.run(args, timeout: 60) }
        #expect(resumed.status == 0, "\(resumed.stderr)")
        #expect(!resumed.stderr.contains("not in the batch"), "\(resumed.stderr)")
        let batches = try RunStore(readingAt: url).batches()
        #expect(batches.count == 1 && batches.allSatisfy { $0.status == .ingested && $0.answered == 3 })
        // One creation for the killed run's one batch, and no input file submitted twice.
        #expect(server.creations - before == 1, "step \(step.rawValue): \(server.creations - before) batches created")
        #expect(server.creationsPerFile.values.allSatisfy { $0 == 1 })

        var expected = try contents(of: dir.path("results/ref/autointerp.sqlite"))
        var got = try contents(of: url)
        for table in Self.transportTables {
            expected[table] = nil
            got[table] = nil
        }
        #expect((expected["explanations"] ?? []).count == 3)
        for table in Set(expected.keys).union(got.keys).sorted() {
            #expect(got[table] == expected[table], "table \(table)")
        }
    }
}
