import AutoInterpTestSupport
import Foundation
import Testing

@testable import AutoInterp

/// Schema v16: `units.kind` admits `neuron_negative`; a v14 database keeps every row and id.
struct SignedNeuronStoreTests {
    @Test func aV14DatabaseGainsTheKindAndKeepsItsRows() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let url = dir.path("v14.sqlite")
        do {
            let db = try SQLiteDatabase(path: url.path)
            try db.migrate(Array(RunStore.migrations.prefix(14)))
            try db.execute(
                """
                INSERT INTO runs (id, name, created_at, config_json, config_hash)
                    VALUES (1, 'r', '2026-01-01T00:00:00.000Z', '{}', 'h');
                INSERT INTO units (id, run_id, kind, idx, max_activation) VALUES (7, 1, 'neuron', 3, 2.5);
                INSERT INTO explanations (id, unit_id, explainer, model, text, created_at)
                    VALUES (1, 7, 'llm', 'm', 'x', '2026-01-01T00:00:00.000Z');
                INSERT INTO examples (
                    unit_id, role, subset, record_idx, context_idx, max_activation, tokens_json, token_ids_json, acts_json)
                    VALUES (7, 'explain', 'top', 0, 4, 2.5, '["a"]', '[3]', '[2.5]');
                """)
            #expect(throws: AutoInterpError.self) { try db.run("INSERT INTO units (run_id, kind, idx) VALUES (1, 'neuron_negative', 3)") }
        }
        let store = try RunStore(url: url)
        #expect(try store.database.userVersion() == RunStore.schemaVersion && RunStore.schemaVersion >= 15)
        #expect(try store.units(runID: 1).map(\.unit) == [UnitRef(.neuron, 3)] && store.units(runID: 1).map(\.id) == [7])
        #expect(try store.explanations(unitID: 7).map(\.text) == ["x"])
        #expect(try store.examples(unitID: 7).map(\.activations) == [[2.5]])
        try store.database.run("INSERT INTO units (run_id, kind, idx) VALUES (1, 'neuron_negative', 3)")
        #expect(try store.units(runID: 1).map(\.unit) == [UnitRef(.neuron, 3), UnitRef(.negativeNeuron, 3)])
        // The constraint still refuses anything else and the unique index is back; the file is sound.
        #expect(throws: AutoInterpError.self) {
            try store.database.run("INSERT INTO units (run_id, kind, idx) VALUES (1, 'neuron_positive', 4)")
        }
        #expect(throws: AutoInterpError.self) { try store.database.run("INSERT INTO units (run_id, kind, idx) VALUES (1, 'neuron', 3)") }
        #expect(try store.database.query("PRAGMA integrity_check").first?.string("integrity_check") == "ok")
        #expect(try store.database.query("PRAGMA foreign_key_check").isEmpty)
        // The view over units is back and reads the rebuilt table.
        #expect(try store.database.query("SELECT COUNT(*) AS n FROM rubric_histogram").first?.int("n") == 0)
        // Deleting the run still cascades through the rebuilt table.
        try store.deleteRun(id: 1)
        #expect(try store.database.query("SELECT id FROM examples").isEmpty && store.database.query("SELECT id FROM explanations").isEmpty)
    }
}
