import AutoInterpTestSupport
import Foundation
import Testing

@testable import AutoInterp

/// Selection in memory-bounded chunks of units stores exactly what one pass over all units
/// stores, and a `select` killed with SIGKILL midway resumes at the first unstored chunk.
@Suite struct ChunkedSelectionTests {
    static func rows(_ store: RunStore, run name: String) throws -> [String] {
        let run = try #require(try store.run(named: name))
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return try store.units(runID: run.id).map { unit in
            String(decoding: try encoder.encode(unit.statistics), as: UTF8.self)
                + String(decoding: try encoder.encode(try store.examples(unitID: unit.id)), as: UTF8.self)
        }
    }

    @Test func chunksSelectWhatOnePassOverAllUnitsSelects() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let url = dir.path("acts.safetensors")
        try SyntheticDataset.write(to: url, contexts: 40, length: 8, width: 9, seed: 4)
        let dataset = try ActivationDataset(url: url)
        let sae = SyntheticDataset.sae(width: 9, seed: 4)
        let config = SelectionConfig()
        // One source over every feature and neuron: the selection as it was before chunks.
        let source = try UnitActivationSource(dataset: dataset, sae: sae, features: Array(0..<7), neurons: Array(0..<9))
        let whole = try ExampleSelector(config: config).select(from: source)

        let perUnit = ChunkedSelection.bytesPerUnit(config: config, dataset: dataset, tokensPerBatch: 4096)
        var chunked: [UnitSelection] = []
        var reports: [SelectionProgress] = []
        let chunks = try ChunkedSelection(config: config, memoryBudget: 2 * perUnit).run(
            dataset: dataset, sae: sae, latents: nil, units: source.units, progress: { reports.append($0) }
        ) { chunked.append($0) }
        #expect(chunks == 4 + 5)  // 7 features in chunks of 2, then 9 neurons
        #expect(chunked.map(\.unit) == whole.map(\.unit))
        #expect(chunked.map(\.statistics) == whole.map(\.statistics))
        #expect(chunked.map(\.examples) == whole.map(\.examples))
        // Progress counts tokens of both passes of every chunk, and ends at the total.
        let last = try #require(reports.last)
        #expect(last.tokensTotal == 9 * 2 * dataset.tokenCount && last.tokensDone == last.tokensTotal && last.unitsDone == 16)
        #expect(zip(reports, reports.dropFirst()).allSatisfy { $0.tokensDone <= $1.tokensDone })

        // With a scratch folder the features are encoded once into a CSR that every chunk reads: same rows.
        var viaScratch: [UnitSelection] = []
        reports = []
        try ChunkedSelection(config: config, memoryBudget: 2 * perUnit).run(
            dataset: dataset, sae: sae, latents: nil, units: source.units, scratchFolder: dir.url, progress: { reports.append($0) }
        ) { viaScratch.append($0) }
        #expect(viaScratch.map(\.statistics) == whole.map(\.statistics))
        #expect(viaScratch.map(\.examples) == whole.map(\.examples))
        #expect(reports.last?.tokensTotal == (9 * 2 + 1) * dataset.tokenCount)  // one encode pass, then the chunks' reads
        #expect(!FileManager.default.fileExists(atPath: dir.path(SelectionLatents.fileName).path))  // removed when done
        // A complete scratch file left by a killed run is reused: no encode pass.
        _ = try SelectionLatents.write(dataset: dataset, sae: sae, features: Array(0..<7), to: dir.path(SelectionLatents.fileName), tokensPerBatch: 4096) { _ in }
        reports = []
        var reused: [UnitSelection] = []
        try ChunkedSelection(config: config, memoryBudget: 2 * perUnit).run(
            dataset: dataset, sae: sae, latents: nil, units: Array(source.units.suffix(from: 2)), scratchFolder: dir.url,
            progress: { reports.append($0) }
        ) { reused.append($0) }
        #expect(reused.map(\.examples) == Array(whole.suffix(from: 2)).map(\.examples))
        #expect(reports.last?.tokensTotal == 8 * 2 * dataset.tokenCount)
    }

    @Test func stateGrowsWithKeptExamplesNotTokens() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        var config = SelectionConfig()
        config.classifyPerDecile = 0  // the deciles' one Float per activating context is the only term that grows with contexts
        var sizes: [Int] = []
        for contexts in [10, 400] {
            let url = dir.path("acts-\(contexts).safetensors")
            try SyntheticDataset.write(to: url, contexts: contexts, length: 8, width: 9, seed: 1)
            sizes.append(ChunkedSelection.bytesPerUnit(config: config, dataset: try ActivationDataset(url: url), tokensPerBatch: 4096))
        }
        #expect(sizes[0] == sizes[1])
        let units = (0..<10).map { UnitRef(.feature, $0) }
        #expect(ChunkedSelection.chunks(units, bytesPerUnit: 100, budget: 350).map(\.count) == [3, 3, 3, 1])
        #expect(ChunkedSelection.chunks(units, bytesPerUnit: 100, budget: 1).map(\.count) == Array(repeating: 1, count: 10))
    }

    @Test func killedSelectResumesWithoutRedoingStoredChunks() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let url = dir.path("acts.safetensors")
        try SyntheticDataset.write(to: url, contexts: 300, length: 16, width: 16, seed: 2, dtype: .F16)
        let results = dir.path("results")
        func args(_ name: String) -> [String] {
            ["select", "--activations", url.path, "--neurons", "all", "--name", name, "--results", results.path, "--selection-memory", "30K", "--quiet"]
        }
        let database = results.appendingPathComponent("k/autointerp.sqlite")
        let first = args("k")
        // Started and polled on one thread, so no scheduling delay sits between the start and the first poll.
        let storedAtKill = try await offCooperativePool { () -> Int in
            let child = try ScriptedProcess(first)
            let deadline = Date().addingTimeInterval(60)
            var stored = 0
            while child.isRunning, Date() < deadline {
                // A plain read-only connection: no schema work, no lock taken from the writer.
                if FileManager.default.fileExists(atPath: database.path), let db = try? SQLiteDatabase.openReadOnly(url: database),
                    let count = try? db.query("SELECT COUNT(*) AS n FROM units").first?.int("n"), count > 0
                {
                    stored = count
                    break
                }
                usleep(1000)
            }
            child.kill9()
            _ = child.wait()
            return stored
        }
        #expect(storedAtKill > 0 && storedAtKill < 16, "killed with \(storedAtKill) of 16 units stored")

        let again = args("k"), fresh = args("w")
        let resumed = try await offCooperativePool { try CLIRunner.run(again, timeout: 120) }
        #expect(resumed.status == 0, "\(resumed.stderr)")
        // Only what was not stored is selected again.
        #expect(resumed.stdout.contains("stored now: \(16 - storedAtKill), already stored: \(storedAtKill)"), "\(resumed.stdout)")
        #expect(resumed.stdout.contains("chunk(s), about"), "\(resumed.stdout)")

        let whole = try await offCooperativePool { try CLIRunner.run(fresh, timeout: 120) }
        #expect(whole.status == 0, "\(whole.stderr)")
        let store = try RunStore(readingAt: database)
        let other = try RunStore(readingAt: results.appendingPathComponent("w/autointerp.sqlite"))
        #expect(try Self.rows(store, run: "k") == Self.rows(other, run: "w"))
    }
}
