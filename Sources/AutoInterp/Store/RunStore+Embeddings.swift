import Foundation

// MARK: - Embedding similarities (the embedding scorer)

/// One `embedding_similarities` row: a `classify` example's cosine similarity to an explanation
/// in a sentence-embedding model, with the example's label.
public struct StoredSimilarity: Sendable, Equatable {
    /// `examples.id` of the `classify` example.
    public var exampleID: Int64
    /// 1 when the unit fires in the example, else 0.
    public var label: Int
    /// Cosine similarity of the example's embedding to the explanation's, in [-1, 1].
    public var similarity: Double

    public init(exampleID: Int64, label: Int, similarity: Double) {
        self.exampleID = exampleID
        self.label = label
        self.similarity = similarity
    }
}

extension RunStore {
    /// Stores an explanation's similarities (replacing earlier rows of the same examples) and the
    /// scorer's metrics, in one transaction.
    ///
    /// - Throws: ``AutoInterpError`` for a label outside 0/1, a similarity that is not finite or
    ///   outside [-1, 1], a malformed score, or a database failure (nothing is written then).
    public func saveSimilarities(explanationID: Int64, _ rows: [StoredSimilarity], scores: [StoredScore]) throws {
        for row in rows {
            guard row.label == 0 || row.label == 1 else {
                throw AutoInterpError.invalidInput("similarity of example \(row.exampleID) to explanation \(explanationID): label must be 0 or 1 (\(path))")
            }
            guard row.similarity.isFinite, abs(row.similarity) <= 1.000001 else {
                throw AutoInterpError.invalidInput(
                    "similarity of example \(row.exampleID) to explanation \(explanationID) is \(row.similarity), not a cosine in [-1, 1] (\(path))")
            }
        }
        try checkScores(scores, explanationID: explanationID)
        let createdAt = StoreFormat.string(from: Date())
        try database.transaction { db in
            let upsert = try db.prepare(
                """
                INSERT INTO embedding_similarities (explanation_id, example_id, label, similarity, created_at)
                VALUES (?, ?, ?, ?, ?)
                ON CONFLICT (explanation_id, example_id) DO UPDATE SET
                    label = excluded.label, similarity = excluded.similarity, created_at = excluded.created_at
                """)
            for row in rows {
                try upsert.run([explanationID, row.exampleID, row.label, row.similarity, createdAt])
            }
            try Self.upsertScores(scores, explanationID: explanationID, in: db)
        }
    }

    /// An explanation's stored similarities, by example id.
    public func similarities(explanationID: Int64) throws -> [StoredSimilarity] {
        try database.query(
            "SELECT example_id, label, similarity FROM embedding_similarities WHERE explanation_id = ? ORDER BY example_id",
            [explanationID]
        ).map { row in
            StoredSimilarity(
                exampleID: row.int64("example_id") ?? 0, label: row.int("label") ?? 0, similarity: row.double("similarity") ?? 0)
        }
    }
}
