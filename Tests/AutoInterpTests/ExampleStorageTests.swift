import AutoInterpTestSupport
import Foundation
import Logging
import Testing

@testable import AutoInterp

/// Example rows since schema v13: token ids and activations as little-endian blobs, token strings
/// once per run in `run_tokens`; rows written before v13 (JSON) still read, and such a run resumes.
@Suite struct ExampleStorageTests {
    private func statistics(_ unit: UnitRef) -> UnitStatistics {
        UnitStatistics(unit: unit, maxActivation: 2, density: 0.5, tokenCount: 4, histogram: ActivationHistogram(max: 2, counts: [1], zeroCount: 1))
    }

    @Test func blobsAreLittleEndianAndKeepEveryBit() throws {
        #expect([UInt8](ExampleBlob.data([Int32(1), -2])) == [1, 0, 0, 0, 0xFE, 0xFF, 0xFF, 0xFF])
        #expect([UInt8](ExampleBlob.data([Float(1)])) == [0, 0, 0x80, 0x3F])
        #expect(ExampleBlob.data([Int32]()).isEmpty && ExampleBlob.data([Float]()).isEmpty)
        let ids: [Int32] = [Int32.min, -1, 0, 1, 50_256, Int32.max]
        let acts: [Float] = [
            0, -0.0, Float.leastNonzeroMagnitude, -Float.leastNonzeroMagnitude, Float.leastNormalMagnitude.nextDown,
            Float.greatestFiniteMagnitude, .infinity, -.infinity, Float(bitPattern: 0x7FC0_0001), Float(bitPattern: 0x7F80_0001), 0.1,
        ]
        let path = "x.sqlite"
        #expect(try ExampleBlob.int32s(ExampleBlob.data(ids), column: "c", example: 1, path: path) == ids)
        #expect(try ExampleBlob.floats(ExampleBlob.data(acts), column: "c", example: 1, path: path).map(\.bitPattern) == acts.map(\.bitPattern))

        // Through the store: the same bits, ids and strings come back.
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let store = try RunStore(url: dir.path("r/autointerp.sqlite"))
        let run = try store.createRun(name: "r", configJSON: "{}")
        let tokens = ids.map { "t\($0)" } + ["a", "b", "c", "d", "e"]
        let record = ExampleRecord(
            role: .explain, subset: .top, context: Int(Int32.max) + 5, tokenIDs: ids + [7, 8, 9, 10, 11], tokens: tokens, activations: acts)
        let empty = ExampleRecord(role: .score, subset: .random, context: 0, tokenIDs: [], tokens: [], activations: [])
        let unitID = try store.saveUnit(runID: run.id, statistics: statistics(UnitRef(.feature, 0)), examples: [record, empty])
        let back = try store.examples(unitID: unitID)
        #expect(back.map(\.tokenIDs) == [record.tokenIDs, []] && back.map(\.tokens) == [tokens, []] && back[0].context == record.context)
        #expect(back[0].activations.map(\.bitPattern) == acts.map(\.bitPattern))
        #expect(try store.database.scalar("SELECT COUNT(*) FROM examples WHERE token_ids IS NULL OR acts IS NULL") == .integer(0))

        // A blob edited by hand to a length that is no whole number of values is named, not trapped on.
        try store.database.run("UPDATE examples SET acts = x'0000803F00' WHERE record_idx = 0 AND role = 'explain'")
        let error = try #require(throws: AutoInterpError.self) { try store.examples(unitID: unitID) }
        #expect(error.message.contains("examples.acts") && error.message.contains("5 bytes") && error.message.contains(store.path))
    }

    @Test func tokenStringsAreStoredOncePerRunAndOthersKeepTheirOwn() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let url = dir.path("r/autointerp.sqlite")
        let store = try RunStore(url: url)
        let run = try store.createRun(name: "r", configJSON: "{}")
        let plain = ExampleRecord(role: .explain, subset: .top, context: 1, tokenIDs: [5, 6, 5], tokens: ["x", " y", "x"], activations: [1, 0, 2])
        // id 5 shown as another string, and a record whose strings do not line up with its ids.
        let respelled = ExampleRecord(role: .score, subset: .top, context: 2, tokenIDs: [5, 7], tokens: ["X", "z"], activations: [0, 1])
        let ragged = ExampleRecord(role: .score, subset: .random, context: 3, tokenIDs: [6, 8], tokens: [" y"], activations: [0, 0])
        let first = try store.saveUnit(runID: run.id, statistics: statistics(UnitRef(.feature, 0)), examples: [plain, respelled, ragged])
        let second = try store.saveUnit(runID: run.id, statistics: statistics(UnitRef(.feature, 1)), examples: [respelled, plain])
        #expect(try store.examples(unitID: first) == [plain, respelled, ragged])
        #expect(try store.examples(unitID: second) == [respelled, plain])
        let texts = try store.database.query("SELECT token_id, text FROM run_tokens WHERE run_id = ? ORDER BY token_id", [run.id])
        #expect(texts.map { "\($0.int("token_id") ?? -1)=\($0.string("text") ?? "")" } == ["5=x", "6= y", "7=z"])
        #expect(try store.database.scalar("SELECT COUNT(*) FROM examples WHERE tokens_json IS NOT NULL") == .integer(3))

        // A fresh connection (nothing held in memory) and another writer of another run.
        let other = try RunStore(url: url)
        #expect(try other.examples(unitID: second) == [respelled, plain])
        let run2 = try other.createRun(name: "r2", configJSON: "{}")
        let elsewhere = ExampleRecord(role: .explain, subset: .top, context: 1, tokenIDs: [5, 9], tokens: ["five", "nine"], activations: [1, 1])
        let third = try other.saveUnit(runID: run2.id, statistics: statistics(UnitRef(.feature, 0)), examples: [elsewhere])
        #expect(try store.examples(unitID: third) == [elsewhere])
        #expect(try store.database.scalar("SELECT COUNT(*) FROM examples WHERE tokens_json IS NOT NULL") == .integer(3))
        // The first store learns texts another process added to its run (a miss reads the table again).
        let late = ExampleRecord(role: .explain, subset: .top, context: 4, tokenIDs: [10, 5], tokens: ["ten", "x"], activations: [3, 0])
        let fourth = try other.saveUnit(runID: run.id, statistics: statistics(UnitRef(.feature, 2)), examples: [late])
        #expect(try store.examples(unitID: fourth) == [late])

        // A run deleted and made again (its id may be reused) starts with no texts.
        try store.deleteRun(id: run2.id)
        #expect(try store.database.scalar("SELECT COUNT(*) FROM run_tokens WHERE run_id = ?", [run2.id]) == .integer(0))
        let again = try store.createRun(name: "r2", configJSON: "{}")
        let renamed = ExampleRecord(role: .explain, subset: .top, context: 1, tokenIDs: [5, 9], tokens: ["cinq", "neuf"], activations: [1, 1])
        let fifth = try store.saveUnit(runID: again.id, statistics: statistics(UnitRef(.feature, 0)), examples: [renamed])
        #expect(try store.examples(unitID: fifth) == [renamed])
        #expect(try store.topExampleTexts(runID: again.id, limit: 5).map(\.tokens) == [["cinq", "neuf"]])
    }

    @Test func aRolledBackSaveLeavesNoTextBehindInMemory() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let store = try RunStore(url: dir.path("r/autointerp.sqlite"))
        let run = try store.createRun(name: "r", configJSON: "{}")
        _ = try store.saveUnit(runID: run.id, statistics: statistics(UnitRef(.feature, 0)), examples: [])
        struct Abort: Error {}
        let record = ExampleRecord(role: .explain, subset: .top, context: 1, tokenIDs: [3, 4], tokens: ["c", "d"], activations: [1, 0])
        #expect(throws: Abort.self) {
            try store.database.transaction { _ in
                try store.saveUnit(runID: run.id, statistics: statistics(UnitRef(.feature, 1)), examples: [record])
                throw Abort()
            }
        }
        #expect(try store.database.scalar("SELECT COUNT(*) FROM run_tokens") == .integer(0))
        let unitID = try store.saveUnit(runID: run.id, statistics: statistics(UnitRef(.feature, 1)), examples: [record])
        #expect(try store.database.scalar("SELECT COUNT(*) FROM run_tokens") == .integer(2))
        #expect(try store.examples(unitID: unitID) == [record])
    }

    @Test func unitsSavedTogetherAreStoredAllOrNone() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let store = try RunStore(url: dir.path("r/autointerp.sqlite"))
        let run = try store.createRun(name: "r", configJSON: "{}")
        let good = ExampleRecord(role: .explain, subset: .top, context: 1, tokenIDs: [3, 4], tokens: ["c", "d"], activations: [1, 0])
        // A NaN maximum is stored as NULL, which examples.max_activation refuses: the whole batch is rolled back.
        let bad = ExampleRecord(role: .explain, subset: .top, context: 2, tokenIDs: [5], tokens: ["e"], activations: [.nan])
        #expect(throws: AutoInterpError.self) {
            try store.saveUnits(runID: run.id, [(statistics(UnitRef(.feature, 0)), [good]), (statistics(UnitRef(.feature, 1)), [bad])])
        }
        #expect(try store.units(runID: run.id).isEmpty)
        #expect(try store.database.scalar("SELECT COUNT(*) FROM run_tokens") == .integer(0))
        let ids = try store.saveUnits(runID: run.id, [(statistics(UnitRef(.feature, 0)), [good]), (statistics(UnitRef(.feature, 1)), [good, good])])
        #expect(try ids.map { try store.examples(unitID: $0) } == [[good], [good, good]])
    }

    /// A run selected before v13 (JSON rows, with classifications pointing at them) is migrated
    /// without losing a row, resumes storing the rest in the new format, and reads like a run
    /// selected in one go.
    @Test func aVersion11RunResumesAndReadsLikeAFreshOne() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let url = dir.path("acts.safetensors")
        try SyntheticDataset.write(to: url, contexts: 30, length: 8, width: 8, seed: 5)
        func request(_ folder: String) -> RunSetup.Request {
            RunSetup.Request(name: "r", resultsFolder: dir.path(folder), activations: url, features: .indices([]), neurons: .all)
        }
        let setup = RunSetup(logger: Logger(label: "test.setup"))
        let fresh = try setup.prepare(request("fresh"))
        let units = try fresh.store.units(runID: fresh.run.id)
        #expect(units.count == 8)

        // The first 3 units as a v11 database holds them.
        let oldURL = dir.path("old/r/autointerp.sqlite")
        do {
            let db = try SQLiteDatabase(path: oldURL.path)
            try db.migrate(Array(RunStore.migrations.prefix(11)))
            try db.run(
                "INSERT INTO runs (id, name, created_at, config_json, config_hash, status) VALUES (1, 'r', ?, ?, ?, 'created')",
                [StoreFormat.string(from: fresh.run.createdAt), fresh.run.configJSON, fresh.run.configHash])
            for unit in units.prefix(3) {
                let s = unit.statistics
                try db.run(
                    "INSERT INTO units (run_id, kind, idx, max_activation, density, token_count, histogram_json) VALUES (1, ?, ?, ?, ?, ?, ?)",
                    [s.unit.kind.rawValue, s.unit.index, s.maxActivation, s.density, s.tokenCount, try StoreFormat.json(s.histogram)])
                let unitID = db.lastInsertRowID
                var next: [String: Int] = [:]
                for example in try fresh.store.examples(unitID: unit.id) {
                    let group = "\(example.role.rawValue)/\(example.subset.rawValue)"
                    let index = next[group, default: 0]
                    next[group] = index + 1
                    try db.run(
                        """
                        INSERT INTO examples (unit_id, role, subset, record_idx, context_idx, bin, max_activation, tokens_json, token_ids_json, acts_json)
                        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                        """,
                        [unitID, example.role.rawValue, example.subset.rawValue, index, example.context, example.bin, example.maxActivation,
                         try StoreFormat.json(example.tokens), StoreFormat.json(example.tokenIDs), StoreFormat.json(example.activations)])
                }
            }
            try db.execute(
                """
                INSERT INTO explanations (id, unit_id, explainer, model, text, created_at) VALUES (1, 1, 'llm', 'm', 'x', '2026-01-01T00:00:00.000Z');
                INSERT INTO classifications (explanation_id, scorer, example_id, label, predicted, status, created_at)
                    SELECT 1, 'detection', id, 1, 1, 'ok', '2026-01-01T00:00:00.000Z' FROM examples WHERE unit_id = 1 AND role = 'classify';
                """)
        }
        let oldClassifications = try SQLiteDatabase(path: oldURL.path).scalar("SELECT COUNT(*) FROM classifications")
        #expect(oldClassifications != .integer(0))

        let resumed = try setup.prepare(request("old"))
        #expect(resumed.alreadyStored == 3 && resumed.stored == 5)
        let store = resumed.store
        #expect(try store.database.userVersion() == RunStore.schemaVersion)
        // The rebuild kept the rows that point at examples, and every foreign key holds.
        #expect(try store.database.scalar("SELECT COUNT(*) FROM classifications") == oldClassifications)
        #expect(try store.database.query("PRAGMA foreign_key_check").isEmpty)
        #expect(try store.database.scalar("PRAGMA foreign_keys") == .integer(1))
        // Old rows in JSON, new rows in blobs, read alike.
        #expect(try store.database.scalar("SELECT COUNT(DISTINCT unit_id) FROM examples WHERE acts_json IS NOT NULL") == .integer(3))
        #expect(try store.database.scalar("SELECT COUNT(DISTINCT unit_id) FROM examples WHERE acts IS NOT NULL") == .integer(5))
        let stored = try store.units(runID: resumed.run.id)
        #expect(stored.map(\.statistics) == units.map(\.statistics))
        for (old, new) in zip(stored, units) {
            #expect(try store.examples(unitID: old.id) == fresh.store.examples(unitID: new.id))
            #expect(try store.classificationExamples(unitID: old.id).map(\.record) == fresh.store.classificationExamples(unitID: new.id).map(\.record))
        }
        let strip = { (texts: [StoredExampleText]) in texts.map { [$0.tokens.joined(separator: "|"), $0.activations.description] } }
        #expect(try strip(store.topExampleTexts(runID: resumed.run.id, limit: 3)) == strip(fresh.store.topExampleTexts(runID: fresh.run.id, limit: 3)))
    }
}
