import AutoInterpLLM
import AutoInterpTestSupport
import Foundation
import Testing

@testable import AutoInterp

/// The SQLite wrapper and the run database.
struct StoreTests {
    // MARK: - Fixtures

    /// A fresh store in a fresh folder; the folder is removed by `dir.remove()`.
    private func makeStore(_ dir: TemporaryDirectory) throws -> RunStore {
        try RunStore(url: dir.path("run/autointerp.sqlite"))
    }

    private func statistics(_ unit: UnitRef, max: Float = 4.5) -> UnitStatistics {
        UnitStatistics(
            unit: unit, maxActivation: max, density: 0.0125, tokenCount: 8192,
            histogram: ActivationHistogram(max: max, counts: [10, 4, 1], zeroCount: 8177))
    }

    private func example(
        _ role: ExampleRole, _ subset: ExampleSubset, context: Int, bin: Int? = nil,
        tokens: [String] = ["The", " cat"], acts: [Float] = [0, 1.5]
    ) -> ExampleRecord {
        ExampleRecord(
            role: role, subset: subset, context: context, bin: bin,
            tokenIDs: tokens.indices.map { Int32($0 + 100) }, tokens: tokens, activations: acts)
    }

    private func count(_ store: RunStore, _ table: String) throws -> Int {
        try #require(store.database.scalar("SELECT COUNT(*) FROM \(table)").flatMap(Int.init(sqliteValue:)))
    }

    // MARK: - Schema

    /// DESIGN.md's tables and columns, plus the ones the brief fixed.
    static let designColumns: [String: [String]] = [
        "runs": ["id", "name", "created_at", "config_json", "config_hash", "status"],
        "units": [
            "id", "run_id", "kind", "idx", "max_activation", "density", "token_count", "histogram_json",
        ],
        "examples": [
            "id", "unit_id", "role", "subset", "record_idx", "context_idx", "bin", "tokens_json",
            "token_ids_json", "acts_json",
        ],
        "explanations": ["id", "unit_id", "explainer", "model", "text", "created_at", "prompt_hash"],
        "simulations": [
            "id", "explanation_id", "subset", "record_idx", "tokens_json", "true_json", "pred_json", "status",
            "error", "mode",
        ],
        "scores": ["id", "explanation_id", "metric", "subset", "value", "undefined_reason", "n"],
        "rubric_ratings": ["id", "explanation_id", "bin", "activation", "rating"],
        "llm_calls": [
            "id", "request_hash", "endpoint", "model", "status_code", "latency_ms", "prompt_tokens",
            "completion_tokens", "error", "created_at", "cached", "attempts",
        ],
        "llm_cache": ["request_hash", "response", "created_at"],
    ]

    @Test(arguments: designColumns.keys.sorted())
    func schemaHasDesignColumns(table: String) throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let store = try makeStore(dir)
        let columns = Set(try store.database.query("PRAGMA table_info(\(table))").compactMap { $0.string("name") })
        let expected = try #require(Self.designColumns[table])
        #expect(!columns.isEmpty, "table \(table) is missing")
        for column in expected {
            #expect(columns.contains(column), "\(table).\(column) is missing")
        }
    }

    @Test func schemaHasHistogramViewAndIndexes() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let store = try makeStore(dir)
        let viewColumns = try store.database.query("PRAGMA table_info(rubric_histogram)").compactMap {
            $0.string("name")
        }
        #expect(viewColumns == ["run_id", "unit_id", "kind", "idx", "explanation_id", "bin", "rating", "count"])
        let indexes = Set(
            try store.database.query("SELECT name FROM sqlite_master WHERE type = 'index'").compactMap {
                $0.string("name")
            })
        for index in ["units_by_run", "examples_by_unit", "llm_calls_by_hash"] {
            #expect(indexes.contains(index), "index \(index) is missing")
        }
        #expect(try store.database.userVersion() == RunStore.schemaVersion)
    }

    @Test func constraintsRejectBadValues() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let store = try makeStore(dir)
        let run = try store.createRun(name: "r", configJSON: "{}")
        #expect(throws: AutoInterpError.self) {
            try store.database.run("INSERT INTO units (run_id, kind, idx) VALUES (?, 'layer', 0)", [run.id])
        }
        #expect(throws: AutoInterpError.self) {
            try store.database.run("INSERT INTO units (run_id, kind, idx) VALUES (?, 'feature', 0)", [run.id + 99])
        }
    }

    @Test func openUsesWALForeignKeysAndCreatesFolders() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let url = dir.path("a/b/c/autointerp.sqlite")
        let store = try RunStore(url: url)
        #expect(FileManager.default.fileExists(atPath: url.path))
        #expect(try store.database.scalar("PRAGMA journal_mode") == .text("wal"))
        #expect(try store.database.scalar("PRAGMA foreign_keys") == .integer(1))
        #expect(try store.database.scalar("PRAGMA synchronous") == .integer(1))  // NORMAL
        #expect(try store.database.scalar("PRAGMA busy_timeout") == .integer(10_000))
    }

    // MARK: - Migrations and reopening

    @Test func reopenKeepsDataAndDoesNotRerunMigrations() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let url = dir.path("autointerp.sqlite")
        let runID: Int64
        do {
            let store = try RunStore(url: url)
            runID = try store.createRun(name: "first", configJSON: #"{"k": 1}"#).id
            try store.saveUnit(
                runID: runID, statistics: statistics(UnitRef(.feature, 3)),
                examples: [
                    example(.explain, .top, context: 1)
                ])
        }
        let reopened = try RunStore(url: url)
        #expect(try reopened.database.migrate(RunStore.migrations) == 0)
        #expect(try reopened.run(named: "first")?.id == runID)
        #expect(try reopened.units(runID: runID).map(\.unit) == [UnitRef(.feature, 3)])
    }

    @Test func migrationsRunOnceEachAndOnlyNewOnes() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let path = dir.path("m.sqlite").path
        let v1 = SQLiteMigration(
            version: 1, name: "log", sql: "CREATE TABLE log (step INTEGER); INSERT INTO log VALUES (1);")
        let v2 = SQLiteMigration(version: 2, name: "second", sql: "INSERT INTO log VALUES (2);")
        do {
            let db = try SQLiteDatabase(path: path)
            #expect(try db.migrate([v1]) == 1)
            #expect(try db.migrate([v1]) == 0)
        }
        let db = try SQLiteDatabase(path: path)
        #expect(try db.migrate([v1, v2]) == 1)
        #expect(try db.migrate([v1, v2]) == 0)
        #expect(try db.query("SELECT step FROM log ORDER BY step").compactMap { $0.int("step") } == [1, 2])
        #expect(try db.userVersion() == 2)
        // A file migrated further than this build knows is refused, naming the file.
        let error = try #require(throws: AutoInterpError.self) { try db.migrate([v1]) }
        #expect(error.description.contains(path))
    }

    @Test func version1FileGainsOpenScoreNamesAndKeepsItsScores() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let url = dir.path("v1.sqlite")
        do {
            let db = try SQLiteDatabase(path: url.path)
            try db.migrate(Array(RunStore.migrations.prefix(1)))
            try db.execute(
                """
                INSERT INTO runs (id, name, created_at, config_json, config_hash) VALUES (1, 'r', '2026-01-01T00:00:00.000Z', '{}', 'h');
                INSERT INTO units (id, run_id, kind, idx) VALUES (1, 1, 'feature', 0);
                INSERT INTO explanations (id, unit_id, explainer, model, text, created_at) VALUES (1, 1, 'llm', 'm', 'x', '2026-01-01T00:00:00.000Z');
                INSERT INTO scores (explanation_id, metric, subset, value, undefined_reason, n) VALUES (1, 'spearman', 'all', 0.25, NULL, 9);
                """)
            #expect(throws: AutoInterpError.self) {
                try db.run("INSERT INTO scores (explanation_id, metric, subset, value, n) VALUES (1, 'balanced_accuracy', 'detection', 0.5, 4)")
            }
        }
        let store = try RunStore(url: url)
        #expect(try store.database.userVersion() == RunStore.schemaVersion)
        #expect(try store.scores(explanationID: 1) == [StoredScore(metric: .spearman, subset: .all, value: 0.25, n: 9)])
        try store.saveScores(explanationID: 1, [StoredScore(metric: "balanced_accuracy", subset: "detection", value: 0.5, n: 4)])
        #expect(try store.scores(explanationID: 1).count == 2)
        // The v1 rules that still hold: a value or a reason, never both, never an empty name.
        #expect(throws: AutoInterpError.self) {
            try store.database.run("INSERT INTO scores (explanation_id, metric, subset, value, n) VALUES (1, '', 'all', 0.5, 4)")
        }
    }

    @Test func failedMigrationLeavesVersionAndTables() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let db = try SQLiteDatabase(path: dir.path("m.sqlite").path)
        let bad = SQLiteMigration(version: 1, name: "bad", sql: "CREATE TABLE t (x); INSERT INTO nowhere VALUES (1);")
        let error = try #require(throws: AutoInterpError.self) { try db.migrate([bad]) }
        #expect(
            error.description
                == "\(db.path): migration 1 (bad) failed: no such table: nowhere (check the statement: CREATE TABLE t (x); INSERT INTO nowhere VALUES (1);)"
        )
        #expect(try db.userVersion() == 0)
        #expect(try db.query("SELECT name FROM sqlite_master WHERE name = 't'").isEmpty)
    }

    // MARK: - Transactions

    private struct Boom: Error {}

    @Test func throwInsideTransactionLeavesNothing() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let db = try SQLiteDatabase(path: dir.path("t.sqlite").path)
        try db.execute("CREATE TABLE t (x INTEGER)")
        #expect(throws: Boom.self) {
            try db.transaction { conn in
                try conn.run("INSERT INTO t VALUES (1)")
                try conn.run("INSERT INTO t VALUES (2)")
                throw Boom()
            }
        }
        #expect(try db.scalar("SELECT COUNT(*) FROM t") == .integer(0))
        let value = try db.transaction { conn -> Int in
            try conn.run("INSERT INTO t VALUES (3)")
            return 3
        }
        #expect(value == 3)
        #expect(try db.scalar("SELECT COUNT(*) FROM t") == .integer(1))
    }

    @Test func nestedTransactionUndoesOnlyInnerWork() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let db = try SQLiteDatabase(path: dir.path("t.sqlite").path)
        try db.execute("CREATE TABLE t (x INTEGER)")
        try db.transaction { conn in
            try conn.run("INSERT INTO t VALUES (1)")
            do {
                try db.transaction { inner in
                    try inner.run("INSERT INTO t VALUES (2)")
                    throw Boom()
                }
            } catch is Boom {}
            // The same thread may use the database's shortcuts inside a transaction.
            try db.run("INSERT INTO t VALUES (3)")
        }
        #expect(try db.query("SELECT x FROM t ORDER BY x").compactMap { $0.int("x") } == [1, 3])
    }

    @Test func failedUnitSaveKeepsThePreviousUnitWhole() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let store = try makeStore(dir)
        let run = try store.createRun(name: "r", configJSON: "{}")
        let unit = UnitRef(.neuron, 7)
        let first = [example(.explain, .top, context: 1), example(.score, .random, context: 2)]
        let unitID = try store.saveUnit(runID: run.id, statistics: statistics(unit, max: 4.5), examples: first)
        // Make the 3rd example of the next save fail after the delete and two inserts ran.
        try store.database.execute(
            """
            CREATE TRIGGER fail_on_999 BEFORE INSERT ON examples WHEN NEW.context_idx = 999
            BEGIN SELECT RAISE(ABORT, 'injected failure'); END;
            """)
        let second = [
            example(.explain, .top, context: 10), example(.explain, .top, context: 11),
            example(.score, .top, context: 999),
        ]
        #expect(throws: AutoInterpError.self) {
            try store.saveUnit(runID: run.id, statistics: statistics(unit, max: 9), examples: second)
        }
        #expect(try store.examples(unitID: unitID) == first)
        #expect(try store.units(runID: run.id).first?.statistics.maxActivation == 4.5)
    }

    @Test func saveUnitForUnknownRunWritesNothing() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let store = try makeStore(dir)
        #expect(throws: AutoInterpError.self) {
            try store.saveUnit(
                runID: 42, statistics: statistics(UnitRef(.feature, 0)),
                examples: [
                    example(.explain, .top, context: 0)
                ])
        }
        #expect(try count(store, "units") == 0)
        #expect(try count(store, "examples") == 0)
    }

    // MARK: - Runs

    @Test func createRunHashesConfigAndRejectsDuplicates() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let store = try makeStore(dir)
        let config = #"{"model": "gpt-2", "layer": 6, "é": true}"#
        let created = try store.createRun(name: "gpt2-l6", configJSON: config)
        #expect(created.configHash == "a1f5dadb7788343327ed84767e54cc5f592ebdc2c1526d93faf1a6406ba346dc")
        #expect(created.status == .created)
        let loaded = try #require(try store.run(named: "gpt2-l6"))
        #expect(loaded == created)
        #expect(abs(loaded.createdAt.timeIntervalSinceNow) < 60)
        #expect(try store.run(named: "other") == nil)

        let duplicate = try #require(throws: AutoInterpError.self) {
            try store.createRun(name: "gpt2-l6", configJSON: "{}")
        }
        #expect(duplicate.description.contains("already exists"))
        #expect(throws: AutoInterpError.self) { try store.createRun(name: "bad", configJSON: "{not json") }

        try store.setStatus(runID: created.id, .done)
        #expect(try store.run(id: created.id)?.status == .done)
        #expect(try store.runs().map(\.name) == ["gpt2-l6"])
    }

    @Test(arguments: [
        ("", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
        ("abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
        (
            "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"
        ),
        (String(repeating: "a", count: 55), "9f4390f8d30c2dd92ec9f095b65e2b9ae9b0a925a5258e241c9f1e910f734318"),
        (String(repeating: "a", count: 56), "b35439a4ac6f0948b6d6f9e3c6af0f5f590ce20f1bde7090ef7970686ec6738a"),
        (String(repeating: "x", count: 1000), "44f8354494a5ba03ba1792a8d3e9c534c47a9181980fde7a3f44b06ef2ae7c7f"),
    ])
    func sha256MatchesKnownDigests(input: String, digest: String) {
        #expect(SHA256.hex(input) == digest)
    }

    // MARK: - Units and examples

    @Test func resavingAUnitReplacesItsExamples() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let store = try makeStore(dir)
        let run = try store.createRun(name: "r", configJSON: "{}")
        let unit = UnitRef(.feature, 12)
        let first = (0..<5).map { example(.explain, .top, context: $0) }
        let id1 = try store.saveUnit(runID: run.id, statistics: statistics(unit), examples: first)
        let explanation = try store.addExplanation(unitID: id1, explainer: "bills", model: "m", text: "cats")
        let second = [example(.explain, .top, context: 40), example(.score, .quantile, context: 41, bin: 2)]
        let id2 = try store.saveUnit(runID: run.id, statistics: statistics(unit, max: 7), examples: second)

        #expect(id1 == id2)
        #expect(try count(store, "units") == 1)
        #expect(try count(store, "examples") == 2)
        #expect(try store.examples(unitID: id1) == second)
        #expect(try store.units(runID: run.id).first?.statistics.maxActivation == 7)
        // Re-saving statistics keeps what was learnt about the unit.
        #expect(try store.explanations(unitID: id1) == [explanation])
        #expect(try store.unitID(runID: run.id, unit: unit) == id1)
        #expect(try store.unitID(runID: run.id, unit: UnitRef(.neuron, 12)) == nil)
    }

    @Test func examplesRoundTripExactly() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let store = try makeStore(dir)
        let run = try store.createRun(name: "r", configJSON: "{}")
        let tokens = [
            "héllo", " 日本語", "\"quoted\"", "it's", "back\\slash", "\n\t", "", "🙂", "a/b", "nul\u{0}byte",
            "'); DROP TABLE units; --",
        ]
        let acts: [Float] = [
            0, 1e-7, 0.1, 3.1415927, -2.5, Float.greatestFiniteMagnitude, Float.leastNonzeroMagnitude, 123456.79,
            1.0000001, 0.3, 42,
        ]
        let records = [
            ExampleRecord(
                role: .explain, subset: .top, context: 9_999_999, bin: nil,
                tokenIDs: [0, 1, Int32.max, 3, 4, 5, 6, 7, 8, 9, 10], tokens: tokens, activations: acts),
            example(.score, .quantile, context: 3, bin: 0),
            example(.explain, .random, context: 5, tokens: [], acts: []),
            example(.score, .quantile, context: 4, bin: 4),
            example(.explain, .top, context: 6),
        ]
        let stats = UnitStatistics(
            unit: UnitRef(.neuron, 511), maxActivation: 3.1415927, density: 1.0 / 3.0, tokenCount: 12345,
            histogram: ActivationHistogram(max: 3.1415927, counts: [7, 0, 2], zeroCount: 12336))
        let unitID = try store.saveUnit(runID: run.id, statistics: stats, examples: records)

        #expect(try store.examples(unitID: unitID) == records)
        #expect(try store.units(runID: run.id) == [StoredUnit(id: unitID, runID: run.id, statistics: stats)])
        #expect(try store.unit(id: unitID)?.statistics == stats)
        // Filtered reads come back by record_idx within (role, subset), in saved order.
        let scoreQuantile = try store.examples(unitID: unitID, role: .score, subset: .quantile)
        #expect(scoreQuantile.map(\.context) == [3, 4])
        let explainTop = try store.database.query(
            "SELECT record_idx, context_idx FROM examples WHERE unit_id = ? AND role = 'explain' AND subset = 'top' ORDER BY record_idx",
            [unitID])
        #expect(explainTop.map { [$0.int("record_idx"), $0.int("context_idx")] } == [[0, 9_999_999], [1, 6]])
        // Since v13: ids and activations are blobs, the strings are the run's token texts (run_tokens).
        let row = try #require(
            try store.database.query(
                "SELECT tokens_json, length(token_ids) AS ids, length(acts) AS acts, token_ids_json, acts_json FROM examples WHERE context_idx = 9999999"
            ).first)
        #expect(row["tokens_json"].isNull && row["token_ids_json"].isNull && row["acts_json"].isNull)
        #expect(row.int("ids") == 4 * 11 && row.int("acts") == 4 * 11)
        #expect(try store.database.scalar("SELECT text FROM run_tokens WHERE run_id = ? AND token_id = 1", [run.id]) == .text(" 日本語"))
        #expect(try store.database.scalar("SELECT text FROM run_tokens WHERE token_id = ?", [Int32.max]) == .text("\"quoted\""))
        // Every record's strings are its ids' texts: no row keeps its own.
        #expect(try store.database.scalar("SELECT COUNT(*) FROM examples WHERE tokens_json IS NOT NULL") == .integer(0))
    }

    @Test func nonFiniteActivationsSurvive() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let store = try makeStore(dir)
        let run = try store.createRun(name: "r", configJSON: "{}")
        let record = example(
            .explain, .top, context: 0, tokens: ["a", "b", "c", "d"], acts: [.infinity, -.infinity, .nan, -0.0])
        let unitID = try store.saveUnit(runID: run.id, statistics: statistics(UnitRef(.feature, 0)), examples: [record])
        let acts = try #require(try store.examples(unitID: unitID).first?.activations)
        #expect(acts.count == 4)
        #expect(acts[0] == .infinity && acts[1] == -.infinity && acts[2].isNaN)
        #expect(acts[3] == 0 && acts[3].sign == .minus)
        #expect(acts.map(\.bitPattern) == record.activations.map(\.bitPattern))
        #expect(try store.database.scalar("SELECT length(acts) FROM examples") == .integer(16))
    }

    // MARK: - Explanations, simulations, scores, rubric

    private func explained(_ store: RunStore) throws -> (run: RunInfo, unitID: Int64, explanationID: Int64) {
        let run = try store.createRun(name: "r", configJSON: "{}")
        let unitID = try store.saveUnit(runID: run.id, statistics: statistics(UnitRef(.feature, 1)), examples: [])
        let explanation = try store.addExplanation(
            unitID: unitID, explainer: "bills2023", model: "llama", text: "the word \"cat\"",
            promptFile: "prompts/explain.txt", promptHash: "abc", requestHash: "h1")
        return (run, unitID, explanation.id)
    }

    @Test func explanationsRoundTrip() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let store = try makeStore(dir)
        let (run, unitID, explanationID) = try explained(store)
        let stored = try #require(try store.explanation(id: explanationID))
        #expect(stored.text == "the word \"cat\"")
        #expect(stored.promptFile == "prompts/explain.txt")
        #expect(stored.unitID == unitID)
        #expect(try store.explanations(runID: run.id) == [stored])
        #expect(throws: AutoInterpError.self) {
            try store.addExplanation(unitID: unitID + 100, explainer: "x", model: "m", text: "t")
        }
    }

    @Test func simulationsStoreFailuresAsNullPredictions() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let store = try makeStore(dir)
        let (_, _, explanationID) = try explained(store)
        let ok = StoredSimulation(
            subset: .top, recordIndex: 0, tokens: ["a", "b"], trueActivations: [0, 2.5],
            outcome: .predicted([0.25, 7.75]), mode: "logprobs")
        let failed = StoredSimulation(
            subset: .random, recordIndex: 3, tokens: ["c"], trueActivations: [0],
            outcome: .failed(reason: "no JSON array in the answer"), mode: "json")
        try store.saveSimulations(explanationID: explanationID, [ok, failed])
        try store.saveSimulations(explanationID: explanationID, [ok])  // idempotent
        #expect(try store.simulations(explanationID: explanationID) == [failed, ok])  // by subset name
        let raw = try store.database.query(
            "SELECT status, pred_json IS NULL AS missing, error FROM simulations ORDER BY record_idx")
        #expect(raw.map { $0.string("status") } == ["ok", "failed"])
        #expect(raw.map { $0.bool("missing") } == [false, true])
        #expect(raw[1].string("error") == "no JSON array in the answer")
    }

    @Test func undefinedScoreStoresNullWithReason() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let store = try makeStore(dir)
        let (run, _, explanationID) = try explained(store)
        let scores = [
            StoredScore(metric: .spearman, subset: .all, value: 0.625, n: 640),
            StoredScore(metric: .pearson, subset: .random, undefinedBecause: "predictions are constant", n: 320),
        ]
        try store.saveScores(explanationID: explanationID, scores)
        try store.saveScores(explanationID: explanationID, scores)
        #expect(try count(store, "scores") == 2)
        let raw = try #require(
            try store.database.query("SELECT value, undefined_reason FROM scores WHERE metric = 'pearson'").first)
        #expect(raw["value"] == .null)
        #expect(raw.string("undefined_reason") == "predictions are constant")
        #expect(Set(try store.scores(explanationID: explanationID).map(\.metric)) == [.spearman, .pearson])
        #expect(try store.scores(explanationID: explanationID).first { $0.metric == .pearson } == scores[1])
        let unitScores = try store.scores(runID: run.id)
        #expect(unitScores.count == 2)
        #expect(unitScores.allSatisfy { $0.unit == UnitRef(.feature, 1) && $0.explainer == "bills2023" })

        // NaN, or neither value nor reason, is refused and writes nothing.
        for bad in [
            StoredScore(metric: .spearman, subset: .top, value: .nan, n: 10),
            StoredScore(metric: .spearman, subset: .top, value: nil, undefinedReason: nil, n: 10),
        ] {
            #expect(throws: AutoInterpError.self) {
                try store.saveScores(explanationID: explanationID, [scores[0], bad])
            }
        }
        #expect(try count(store, "scores") == 2)
    }

    @Test func rubricHistogramCountsRatingsPerBin() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let store = try makeStore(dir)
        let (run, unitID, explanationID) = try explained(store)
        let ratings = [
            (StoredRubricRating.nonActivatingBin, 0), (StoredRubricRating.nonActivatingBin, 0), (1, 1), (1, 3),
            (3, 3), (3, 3),
        ].enumerated().map { i, pair in
            StoredRubricRating(
                recordIndex: i, bin: pair.0, activation: pair.0 == 0 ? 0 : Float(pair.0) - 0.5, rating: pair.1,
                context: i, tokens: ["x"], activations: [1], judgeModel: "judge", reason: "because")
        }
        try store.saveRubricRatings(explanationID: explanationID, ratings)
        try store.saveRubricRatings(explanationID: explanationID, ratings)
        #expect(try store.rubricRatings(explanationID: explanationID) == ratings)
        let histogram = try store.rubricHistogram(runID: run.id)
        let unit = UnitRef(.feature, 1)
        #expect(
            histogram == [
                RubricHistogramRow(
                    unitID: unitID, unit: unit, explanationID: explanationID, bin: 0, rating: 0, count: 2),
                RubricHistogramRow(
                    unitID: unitID, unit: unit, explanationID: explanationID, bin: 1, rating: 1, count: 1),
                RubricHistogramRow(
                    unitID: unitID, unit: unit, explanationID: explanationID, bin: 1, rating: 3, count: 1),
                RubricHistogramRow(
                    unitID: unitID, unit: unit, explanationID: explanationID, bin: 3, rating: 3, count: 2),
            ])
        #expect(try store.rubricHistogram(runID: run.id + 1).isEmpty)
        let outOfRange = StoredRubricRating(recordIndex: 9, bin: 0, activation: 1, rating: 4)
        #expect(throws: AutoInterpError.self) {
            try store.saveRubricRatings(explanationID: explanationID, [outOfRange])
        }
    }

    // MARK: - LLM cache and log

    @Test func llmCacheRoundTripAndCallLog() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let store = try makeStore(dir)
        let cache: any LLMResponseStore = store
        #expect(try cache.cachedResponse(forHash: "h") == nil)
        let body = Data(#"{"choices":[{"message":{"content":"ünïcode"}}]}"#.utf8) + Data([0, 255, 1])
        try cache.storeResponse(body, forHash: "h")
        #expect(try cache.cachedResponse(forHash: "h") == body)
        try cache.storeResponse(Data("second".utf8), forHash: "h")
        #expect(try cache.cachedResponse(forHash: "h") == Data("second".utf8))
        #expect(try count(store, "llm_cache") == 1)

        let when = Date(timeIntervalSince1970: 1_790_000_000.25)
        let calls = [
            LLMCallRecord(
                requestHash: "h", endpoint: "http://localhost:8000/v1", model: "m", statusCode: 200, latencyMs: 812.5,
                promptTokens: 120, completionTokens: 30, error: nil, cached: false, attempts: 2, createdAt: when),
            LLMCallRecord(
                requestHash: "h", endpoint: "http://localhost:8000/v1", model: "m", statusCode: nil, latencyMs: 0,
                promptTokens: nil, completionTokens: nil, error: nil, cached: true, attempts: 0, createdAt: when),
            LLMCallRecord(
                requestHash: "g", endpoint: "http://localhost:8000/v1", model: "m", statusCode: nil,
                latencyMs: 30000, promptTokens: nil, completionTokens: nil, error: "timed out after 30 s",
                cached: false, attempts: 3, createdAt: when),
        ]
        for call in calls { try cache.record(call) }
        #expect(try store.llmCalls() == calls)
        let plan = try store.database.query(
            "EXPLAIN QUERY PLAN SELECT * FROM llm_calls WHERE request_hash = 'h'"
        ).compactMap { $0.string("detail") }.joined(separator: " ")
        #expect(plan.contains("llm_calls_by_hash"))
    }

    // MARK: - Concurrency

    @Test func concurrentWritesAllLand() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let store = try makeStore(dir)
        let run = try store.createRun(name: "r", configJSON: "{}")
        try await withThrowingTaskGroup(of: Void.self) { group in
            for task in 0..<8 {
                group.addTask {
                    for i in 0..<50 {
                        try store.record(
                            LLMCallRecord(
                                requestHash: "\(task)-\(i)", endpoint: "e", model: "m", statusCode: 200, latencyMs: 1,
                                promptTokens: 1, completionTokens: 1, error: nil, cached: false, attempts: 1))
                        if i % 10 == 0 {
                            try store.saveUnit(
                                runID: run.id, statistics: self.statistics(UnitRef(.feature, task * 100 + i)),
                                examples: [
                                    self.example(.explain, .top, context: i), self.example(.score, .top, context: i),
                                ])
                        }
                    }
                }
            }
            try await group.waitForAll()
        }
        #expect(try count(store, "llm_calls") == 400)
        #expect(Set(try store.llmCalls().map(\.requestHash)).count == 400)
        #expect(try store.units(runID: run.id).count == 40)
        #expect(try count(store, "examples") == 80)
    }

    @Test func twoConnectionsToOneFileBothWrite() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let url = dir.path("shared.sqlite")
        let stores = [try RunStore(url: url), try RunStore(url: url)]
        try await withThrowingTaskGroup(of: Void.self) { group in
            for task in 0..<4 {
                let store = stores[task % 2]
                group.addTask {
                    for i in 0..<25 {
                        try store.storeResponse(Data([UInt8(task), UInt8(i)]), forHash: "\(task)-\(i)")
                    }
                }
            }
            try await group.waitForAll()
        }
        #expect(try count(stores[0], "llm_cache") == 100)
        #expect(try stores[1].cachedResponse(forHash: "3-24") == Data([3, 24]))
    }

    // MARK: - Errors and binding

    @Test func errorsNameTheDatabasePath() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        // Not a database.
        let garbage = dir.path("garbage.sqlite")
        try Data(repeating: 0x41, count: 4096).write(to: garbage)
        let notDB = try #require(throws: AutoInterpError.self) { try RunStore(url: garbage) }
        #expect(notDB.description.hasPrefix(garbage.path + ": "))
        #expect(notDB.description.contains("not a valid autointerp database"))
        #expect(!notDB.description.contains("\n"))

        // A folder that cannot be created because a file has its name.
        let blocker = dir.path("blocker")
        try Data().write(to: blocker)
        let noFolder = try #require(throws: AutoInterpError.self) {
            try RunStore(url: blocker.appendingPathComponent("autointerp.sqlite"))
        }
        #expect(noFolder.description.contains(blocker.path))

        // A bad statement names the file and the statement.
        let store = try makeStore(dir)
        let badSQL = try #require(throws: AutoInterpError.self) { try store.database.query("SELECT nope FROM runs") }
        #expect(badSQL.description.hasPrefix(store.path + ": "))
        #expect(badSQL.description.contains("no such column"))
        #expect(badSQL.description.contains("SELECT nope FROM runs"))
    }

    @Test func typedBindingRoundTrips() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let db = try SQLiteDatabase(path: dir.path("b.sqlite").path)
        try db.execute("CREATE TABLE t (i, big, d, s, empty, blob, emptyBlob, none, flag, nul)")
        let text = "ünï \"q\" 'x' 🙂"
        try db.run(
            "INSERT INTO t VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                42, Int64.max, 0.1, text, "", Data([0, 1, 2, 255]), Data(), Int?.none, true, "a\u{0}b",
            ])
        #expect(db.changes == 1)
        #expect(db.lastInsertRowID == 1)
        let row = try #require(try db.query("SELECT * FROM t").first)
        #expect(row.int("i") == 42)
        #expect(row.int64("big") == Int64.max)
        #expect(row.double("d") == 0.1)
        #expect(row.string("s") == text)
        #expect(row["empty"] == .text(""))
        #expect(row.data("blob") == Data([0, 1, 2, 255]))
        #expect(row["emptyBlob"] == .blob(Data()))
        #expect(row["none"] == .null)
        #expect(row.bool("flag") == true)
        #expect(row.string("nul") == "a\u{0}b")
        #expect(try db.scalar("SELECT COUNT(*) FROM t WHERE i = ?", [SQLiteValue.integer(42)]) == .integer(1))
        #expect(try db.scalar("SELECT 1 WHERE 0") == nil)

        // Statements prepared once step many times with typed column reads.
        let sum = try db.withConnection { conn -> Double in
            let insert = try conn.prepare("INSERT INTO t (i, d) VALUES (?, ?)")
            for i in 0..<10 { try insert.run([i, Double(i) / 2]) }
            let select = try conn.prepare("SELECT i, d FROM t WHERE d IS NOT NULL AND i < ? ORDER BY i")
            try select.bind([10])
            var total = 0.0
            while try select.step() {
                #expect(select.double(at: 1) == Double(select.int(at: 0)) / 2)
                total += select.double(at: 1)
            }
            return total
        }
        #expect(sum == 22.5)
        #expect(throws: AutoInterpError.self) { try db.run("INSERT INTO t (i) VALUES (?)", []) }
    }
}
