import Foundation

// MARK: - Classification examples and answers (detection, fuzzing)

extension RunStore {
    /// A unit's `classify` examples with their ids: `activating` (by decile, then record index)
    /// first, then `silent`, then (with `hard`) the hard negatives `hard`.
    public func classificationExamples(unitID: Int64, hard: Bool = false) throws -> [StoredExample] {
        let keep = !database.inTransaction
        return try database.withConnection { db in
            let rows = try db.query(
                """
                SELECT * FROM examples WHERE unit_id = ? AND role = 'classify' AND (subset <> 'hard' OR ?)
                ORDER BY CASE subset WHEN 'activating' THEN 0 WHEN 'silent' THEN 1 ELSE 2 END, record_idx
                """, [unitID, hard])
            let records = try exampleRecords(rows, key: try tokenKey(unitID: unitID, db), keep: keep, db)
            return zip(rows, records).map { row, record in
                StoredExample(id: row.int64("id") ?? 0, recordIndex: row.int("record_idx") ?? 0, record: record)
            }
        }
    }

    /// Stores a scorer's answers for an explanation and its metrics, in one transaction.
    ///
    /// An example answered again (a failure retried) replaces its row and counts one more
    /// attempt. `scores` (``ClassificationMetrics/scores(_:from:)`` over every stored row after
    /// this save) are upserted like ``saveScores(explanationID:_:)``.
    ///
    /// - Throws: ``AutoInterpError`` for a label or answer outside 0/1, a confidence outside [0, 1],
    ///   a score with both or neither of a value and a reason, or a database failure (nothing is written then).
    public func saveClassifications(
        explanationID: Int64, scorer: StoredClassification.Scorer, _ rows: [StoredClassification], scores: [StoredScore]
    ) throws {
        let createdAt = StoreFormat.string(from: Date())
        var values: [ClassificationColumns] = []
        for row in rows {
            let columns = try ClassificationColumns(row)
            let label = "\(scorer.rawValue) answer for example \(row.exampleID) of explanation \(explanationID)"
            guard columns.label == 0 || columns.label == 1, columns.predicted.map({ $0 == 0 || $0 == 1 }) ?? true else {
                throw AutoInterpError.invalidInput("\(label): label and answer must be 0 or 1 (\(path))")
            }
            if let p = columns.probability, !(p >= 0 && p <= 1) {
                throw AutoInterpError.invalidInput("\(label): confidence \(p) is outside [0, 1] (\(path))")
            }
            values.append(columns)
        }
        try checkScores(scores, explanationID: explanationID)
        try database.transaction { db in
            let upsert = try db.prepare(
                """
                INSERT INTO classifications (explanation_id, scorer, example_id, label, predicted, probability,
                                             highlighted, status, error, created_at)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT (explanation_id, scorer, example_id) DO UPDATE SET
                    label = excluded.label, predicted = excluded.predicted, probability = excluded.probability,
                    highlighted = excluded.highlighted, status = excluded.status, error = excluded.error,
                    created_at = excluded.created_at, attempts = classifications.attempts + 1
                """)
            for columns in values {
                try upsert.run([
                    explanationID, scorer.rawValue, columns.exampleID, columns.label, columns.predicted, columns.probability,
                    columns.highlighted, columns.predicted == nil ? "failed" : "ok", columns.error, createdAt,
                ])
            }
            try Self.upsertScores(scores, explanationID: explanationID, in: db)
        }
    }

    /// An explanation's stored answers of one scorer, by example id.
    public func classifications(explanationID: Int64, scorer: StoredClassification.Scorer) throws -> [StoredClassification] {
        try database.query(
            "SELECT * FROM classifications WHERE explanation_id = ? AND scorer = ? ORDER BY example_id",
            [explanationID, scorer.rawValue]
        ).map { row in
            let outcome: StoredClassification.Outcome =
                if row.string("status") == "ok", let predicted = row.int("predicted") {
                    .answered(predicted: predicted, probability: row.double("probability"))
                } else {
                    .failed(reason: row.string("error") ?? "")
                }
            return StoredClassification(
                exampleID: row.int64("example_id") ?? 0, label: row.int("label") ?? 0, outcome: outcome,
                highlighted: row["highlighted"].isNull
                    ? nil
                    : try StoreFormat.decode([Int].self, row.string("highlighted"), column: "classifications.highlighted", path: path),
                attempts: row.int("attempts") ?? 1)
        }
    }
}

/// One `classifications` row as plain column values (the answer split into its columns).
private struct ClassificationColumns {
    var exampleID: Int64
    var label: Int
    var predicted: Int?
    var probability: Double?
    var highlighted: String?
    var error: String?

    init(_ row: StoredClassification) throws {
        exampleID = row.exampleID
        label = row.label
        switch row.outcome {
        case .answered(let answer, let confidence):
            predicted = answer
            probability = confidence
            error = nil
        case .failed(let reason):
            predicted = nil
            probability = nil
            error = reason
        }
        highlighted = try row.highlighted.map { try StoreFormat.json($0) }
    }
}
