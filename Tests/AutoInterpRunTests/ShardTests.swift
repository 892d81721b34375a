@testable import AutoInterp
import AutoInterpTestSupport
import Foundation
import Logging
import Testing

// MARK: - Fixtures

private func quietLogger() -> Logger {
    var logger = Logger(label: "test.shard")
    logger.logLevel = .critical
    return logger
}

/// The CLI arguments of one local-baseline run (no LLM) over the fixture dataset.
private func runArguments(_ dir: TemporaryDirectory, dataset: URL, sae: URL, name: String) -> [String] {
    [
        "run", "--explainer", "local", "--activations", dataset.path, "--sae", sae.path, "--features", "0-3", "--neurons", "0-4",
        "--name", name, "--results", dir.path("results").path, "--quiet",
    ]
}

// MARK: - Tests

struct ShardTests {
    @Test func shardsAreContiguousSlicesThatCoverTheUnits() throws {
        let units = (0..<7).map { UnitRef(.neuron, $0) } + [UnitRef(.feature, 5), UnitRef(.feature, 2)]
        let slices = try (0..<4).map { try RunShard(index: $0, count: 4).slice(of: units) }
        #expect(slices.flatMap { $0 } == units.sorted())
        #expect(slices.map(\.count) == [2, 2, 2, 3])
        #expect(slices[0] == [UnitRef(.feature, 2), UnitRef(.feature, 5)])
        #expect(try RunShard(index: 9, count: 10).slice(of: Array(units.prefix(3))).count == 1)

        #expect(try RunShard.parse("2/8", indexVariable: nil, environment: [:]) == RunShard(index: 2, count: 8))
        #expect(try RunShard.parse("8", indexVariable: "JOB_COMPLETION_INDEX", environment: ["JOB_COMPLETION_INDEX": "7"])
            == RunShard(index: 7, count: 8))
        #expect(RunShard.parse(folderName: "3-of-8") == (try RunShard(index: 3, count: 8)))
        #expect(RunShard.parse(folderName: "03-of-8") == nil && RunShard.parse(folderName: "8-of-8") == nil)
        let refusals: [(String, String?, [String: String], String)] = [
            ("8/8", nil, [:], "0-7"), ("1/0", nil, [:], "count"), ("x/2", nil, [:], "k/N"),
            ("8", "SLURM_ARRAY_TASK_ID", [:], "not set"), ("8", "SLURM_ARRAY_TASK_ID", ["SLURM_ARRAY_TASK_ID": "a"], "not a shard index"),
            ("1/8", "SLURM_ARRAY_TASK_ID", ["SLURM_ARRAY_TASK_ID": "1"], "do not go together"), ("8", nil, [:], "k/N"),
        ]
        for (text, variable, environment, expected) in refusals {
            #expect {
                _ = try RunShard.parse(text, indexVariable: variable, environment: environment)
            } throws: { error in
                (error as? AutoInterpError)?.message.contains(expected) == true
            }
        }
    }

    @Test func parallelShardsMergeIntoTheUnshardedRun() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let (dataset, sae) = try ScriptedRun.writeDataset(in: dir, contexts: 40)
        let full = try CLIRunner.run(runArguments(dir, dataset: dataset, sae: sae, name: "full"))
        #expect(full.status == 0, "\(full.stderr)")

        // Three shards at once, the way a Slurm array (two) and a Kubernetes Indexed Job (one) start them.
        let sharded = runArguments(dir, dataset: dataset, sae: sae, name: "sh")
        let processes = try (0..<3).map { k in
            let variable = k == 2 ? "JOB_COMPLETION_INDEX" : "SLURM_ARRAY_TASK_ID"
            return try ScriptedProcess(sharded + ["--shard", "3", "--shard-index-env", variable], environment: [variable: "\(k)"])
        }
        // Shard 1 is killed once it has started writing, and run again: it resumes.
        let plan = dir.path("results/sh/shards/1-of-3/shard.json")
        try await offCooperativePool {
            let deadline = Date().addingTimeInterval(60)
            while !FileManager.default.fileExists(atPath: plan.path), Date() < deadline { usleep(1000) }
            processes[1].kill9()
        }
        let results = try await offCooperativePool { processes.map { $0.wait() } }
        #expect(results[0].status == 0 && results[2].status == 0, "\(results.map(\.stderr))")
        #expect(results[0].stdout.contains("no control pass here"), "\(results[0].stdout)")
        let rerun = try CLIRunner.run(sharded + ["--shard", "1/3"])
        #expect(rerun.status == 0, "\(rerun.stderr)")

        let merged = try CLIRunner.run(["merge", "--run", "sh", "--results", dir.path("results").path])
        #expect(merged.status == 0 && merged.stdout.contains("merged 3 shards"), "\(merged.stderr)")
        let mergedURL = dir.path("results/sh/autointerp.sqlite")
        let fullURL = dir.path("results/full/autointerp.sqlite")
        let fullRun = try #require(try RunStore(readingAt: fullURL).run(named: "full"))
        let mergedRun = try #require(try RunStore(readingAt: mergedURL).run(named: "sh"))
        #expect(mergedRun.configHash == fullRun.configHash && mergedRun.status == .incomplete)
        #expect(try RunStore(readingAt: mergedURL).database.query("PRAGMA foreign_key_check").isEmpty)
        // No controls yet: the next run without --shard draws them over every unit.
        var before = try contents(of: mergedURL)
        var expected = try contents(of: fullURL)
        #expect(before["units"] == expected["units"], "units differ")
        #expect(before["examples"] == expected["examples"], "examples differ")
        #expect(before["explanations"]?.count ?? 0 < expected["explanations"]?.count ?? 0)

        let controls = try CLIRunner.run(sharded)
        #expect(controls.status == 0, "\(controls.stderr)")
        before = try contents(of: mergedURL)
        expected = try contents(of: fullURL)
        #expect(Set(before.keys) == Set(expected.keys))
        for table in expected.keys.sorted() {
            let (a, b) = (before[table] ?? [], expected[table] ?? [])
            let first = zip(a, b).first { $0 != $1 }
            #expect(a == b, "table \(table): \(a.count) rows vs \(b.count); first difference \(String(describing: first).prefix(600))")
        }
        let finished = try #require(try RunStore(readingAt: mergedURL).run(named: "sh"))
        #expect(finished.configHash == fullRun.configHash && finished.status == .done && fullRun.status == .done)
    }

    @Test func selectionOnlyShardsMergeAndTheNextRunDoesTheRest() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let (dataset, sae) = try ScriptedRun.writeDataset(in: dir, contexts: 40)
        let run = runArguments(dir, dataset: dataset, sae: sae, name: "s")
        let select = ["select"] + run.dropFirst().filter { !["--explainer", "local"].contains($0) }
        for k in 0..<2 {
            let result = try CLIRunner.run(select + ["--shard", "\(k)/2"])
            #expect(result.status == 0, "\(result.stderr)")
        }
        let merged = try CLIRunner.run(["merge", "--run", "s", "--results", dir.path("results").path])
        #expect(merged.status == 0, "\(merged.stderr)")
        let after = try CLIRunner.run(run)
        #expect(after.status == 0 && after.stdout.contains("9 units, 9 scored"), "\(after.stdout) \(after.stderr)")
    }

    @Test func llmShardsMergeTheirCallLogsAndUniteTheirCaches() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let (dataset, sae) = try ScriptedRun.writeDataset(in: dir, contexts: 40)
        let endpoint = try TestEndpoint(TestEndpoint.Configuration(handler: ScriptedLLM().handler))
        defer { endpoint.stop() }
        var request = try ScriptedRun.request(
            name: "llm", dir: dir, dataset: dataset, sae: sae, features: "0-1", neurons: "0-1", endpoint: endpoint.baseURL)
        request.stages = [.explain, .simulate, .score]
        var calls = 0
        var hashes = Set<String>()
        for k in 0..<2 {
            var shard = request
            shard.setup.shard = try RunShard(index: k, count: 2)
            let summary = try await RunCoordinator(logger: quietLogger()).run(shard).summary
            #expect(summary.scored == 2 && summary.stoppedEarly == nil, "\(summary.text)")
            let store = try RunStore(readingAt: shard.setup.databaseURL)
            calls += try store.llmCalls().count
            hashes.formUnion(try store.database.query("SELECT request_hash FROM llm_cache").compactMap { $0.string("request_hash") })
        }
        let outcome = try ShardMerge().merge(run: "llm", resultsFolder: request.setup.resultsFolder)
        #expect(outcome.units == 4)
        // Both shards probed the endpoint with the same request; its answers differ (their ids): the first is kept.
        #expect(outcome.cacheConflicts >= 1)
        let merged = try RunStore(readingAt: request.setup.databaseURL)
        #expect(try merged.llmCalls().count == calls)
        #expect(Set(try merged.database.query("SELECT request_hash FROM llm_cache").compactMap { $0.string("request_hash") }) == hashes)
        #expect(try merged.database.query("PRAGMA foreign_key_check").isEmpty)

        let after = try await RunCoordinator(logger: quietLogger()).run(request).summary
        #expect(after.scored == 4 && after.stoppedEarly == nil, "\(after.text)")
        let explanations = try RunStore(readingAt: request.setup.databaseURL).database.query("SELECT explainer FROM explanations")
        #expect(explanations.filter { $0.string("explainer") == "control" }.count == 4)
    }

    @Test func theMergeRefusesShardsThatDoNotAddUp() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let (dataset, sae) = try ScriptedRun.writeDataset(in: dir, contexts: 40)
        let results = dir.path("results").path
        let base = runArguments(dir, dataset: dataset, sae: sae, name: "r")
        func shard(_ spec: String, _ extra: [String] = []) {
            let result = try? CLIRunner.run(base + ["--shard", spec] + extra)
            #expect(result?.status == 0, "\(result?.stderr ?? "")")
        }
        func refusal(_ expected: String) {
            let result = try? CLIRunner.run(["merge", "--run", "r", "--results", results])
            #expect(result?.status == 1, "\(result?.stdout ?? "")")
            let lines = result?.stderr.split(separator: "\n") ?? []
            #expect(lines.count == 1 && lines.first?.contains(expected) == true, "\(result?.stderr ?? "")")
            #expect(!FileManager.default.fileExists(atPath: dir.path("results/r/autointerp.sqlite").path))
        }
        let shards = dir.path("results/r/shards")
        let one = shards.appendingPathComponent("1-of-2")
        let saved = dir.path("saved-1-of-2")

        refusal("no shards")
        shard("0/2")
        refusal("shard 1-of-2 of run 'r' is missing")
        // A changed config field (here the selection seed).
        shard("1/2", ["--seed", "7"])
        refusal("another config")
        try FileManager.default.removeItem(at: one)
        shard("1/2")
        try FileManager.default.copyItem(at: one, to: saved)

        // Unfinished.
        let store = try RunStore(url: one.appendingPathComponent("autointerp.sqlite"))
        let run = try #require(try store.run(named: "r"))
        try store.setStatus(runID: run.id, .stopped)
        refusal("is not finished")
        // Controls in a shard.
        try store.setStatus(runID: run.id, .done)
        try store.database.run("UPDATE explanations SET explainer = 'control' WHERE id = (SELECT MIN(id) FROM explanations)")
        refusal("control explanations")
        // Overlap: shard 0's units in shard 1's folder.
        for name in ["autointerp.sqlite", "autointerp.sqlite-wal", "autointerp.sqlite-shm"] {
            try? FileManager.default.removeItem(at: one.appendingPathComponent(name))
        }
        try FileManager.default.copyItem(
            at: shards.appendingPathComponent("0-of-2/autointerp.sqlite"), to: one.appendingPathComponent("autointerp.sqlite"))
        refusal("both hold")
        // Shards of two splits.
        try FileManager.default.removeItem(at: one)
        try FileManager.default.copyItem(at: saved, to: one)
        shard("0/3")
        refusal("different counts")
        try FileManager.default.removeItem(at: shards.appendingPathComponent("0-of-3"))

        let merged = try CLIRunner.run(["merge", "--run", "r", "--results", results])
        #expect(merged.status == 0, "\(merged.stderr)")
        // Merging the same shards twice.
        let again = try CLIRunner.run(["merge", "--run", "r", "--results", results])
        #expect(again.status == 1 && again.stderr.contains("already has a database"), "\(again.stderr)")
    }
}
