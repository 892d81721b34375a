import AutoInterpTestSupport
import Foundation
import Testing

@testable import AutoInterp

/// Schema v5: a v4 file keeps its examples and gains the `classify` role and `classifications`;
/// the typed methods store answers and metrics together and refuse values outside their range.
struct ClassificationStoreTests {
    @Test func version4FileKeepsItsExamplesAndTakesClassifyRows() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let url = dir.path("v4.sqlite")
        do {
            let db = try SQLiteDatabase(path: url.path)
            try db.migrate(Array(RunStore.migrations.prefix(4)))
            try db.execute(
                """
                INSERT INTO runs (id, name, created_at, config_json, config_hash) VALUES (1, 'r', '2026-01-01T00:00:00.000Z', '{}', 'h');
                INSERT INTO units (id, run_id, kind, idx, max_activation) VALUES (1, 1, 'feature', 0, 2.0);
                INSERT INTO examples (id, unit_id, role, subset, record_idx, context_idx, bin, max_activation, tokens_json, token_ids_json, acts_json)
                    VALUES (7, 1, 'explain', 'top', 0, 3, NULL, 2.0, '["a"]', '[1]', '[2.0]');
                INSERT INTO explanations (id, unit_id, explainer, model, text, created_at) VALUES (1, 1, 'llm', 'm', 'x', '2026-01-01T00:00:00.000Z');
                """)
            #expect(throws: AutoInterpError.self) {
                try db.run("INSERT INTO examples (unit_id, role, subset, record_idx, context_idx, max_activation, tokens_json, token_ids_json, acts_json) VALUES (1, 'classify', 'silent', 0, 4, 0, '[]', '[]', '[]')")
            }
        }
        let store = try RunStore(url: url)
        #expect(try store.database.userVersion() == RunStore.schemaVersion)
        let kept = try store.examples(unitID: 1)
        #expect(kept.count == 1 && kept[0].context == 3 && kept[0].role == .explain)
        // Re-saving the unit with classify examples works on the rebuilt table.
        let unit = try #require(try store.unit(id: 1))
        let silent = ExampleRecord(role: .classify, subset: .silent, context: 5, tokenIDs: [1, 2], tokens: ["b", "c"], activations: [0, 0])
        let active = ExampleRecord(role: .classify, subset: .activating, context: 6, bin: 10, tokenIDs: [1], tokens: ["d"], activations: [1.5])
        try store.saveUnit(runID: 1, statistics: unit.statistics, examples: kept + [silent, active])
        let classify = try store.classificationExamples(unitID: 1)
        #expect(classify.map(\.record.subset) == [.activating, .silent] && classify[0].record.bin == 10)

        let rows = [
            StoredClassification(exampleID: classify[0].id, label: 1, outcome: .answered(predicted: 1, probability: 0.75), highlighted: [0]),
            StoredClassification(exampleID: classify[1].id, label: 0, outcome: .failed(reason: "the scorer gave 1 answers for 2 examples")),
        ]
        let scores = ClassificationMetrics.scores(.fuzzing, from: rows)
        try store.saveClassifications(explanationID: 1, scorer: .fuzzing, rows, scores: scores)
        // By example id (the silent example was saved first).
        #expect(try store.classifications(explanationID: 1, scorer: .fuzzing) == rows.sorted { $0.exampleID < $1.exampleID })
        #expect(try store.classifications(explanationID: 1, scorer: .detection).isEmpty)
        #expect(try store.scores(explanationID: 1).filter { $0.metric.rawValue.hasPrefix("fuzzing_") }.count == 5)
        // A retried failure replaces its row and counts one more attempt.
        var retried = rows[1]
        retried.outcome = .answered(predicted: 0, probability: nil)
        try store.saveClassifications(explanationID: 1, scorer: .fuzzing, [retried], scores: scores)
        let after = try store.classifications(explanationID: 1, scorer: .fuzzing)
        let byID = Dictionary(uniqueKeysWithValues: after.map { ($0.exampleID, $0) })
        #expect(after.count == 2 && byID[retried.exampleID]?.isOK == true && byID[retried.exampleID]?.attempts == 2)
        #expect(byID[rows[0].exampleID]?.attempts == 1)
        let progress = try #require(try store.progress(unitID: 1))
        #expect(progress.classifyExamples == 2 && progress.classified[.fuzzing] == Set(classify.map(\.id)))
        #expect(progress.failedClassificationAttempts[.fuzzing] == nil && progress.hasScore(.fuzzingAUPRC, .all))
        // Out-of-range values are refused before anything is written.
        var bad = rows[0]
        bad.outcome = .answered(predicted: 1, probability: 1.5)
        #expect(throws: AutoInterpError.self) { try store.saveClassifications(explanationID: 1, scorer: .fuzzing, [bad], scores: []) }
        bad.outcome = .answered(predicted: 2, probability: nil)
        #expect(throws: AutoInterpError.self) { try store.saveClassifications(explanationID: 1, scorer: .fuzzing, [bad], scores: []) }
        #expect(try store.classifications(explanationID: 1, scorer: .fuzzing) == after)
    }
}
