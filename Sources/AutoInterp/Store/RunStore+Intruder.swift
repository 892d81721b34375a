import Foundation

// MARK: - Intruder prompts (the intruder scorer)

/// One `intruder_prompts` row: a prompt of the intruder scorer with its answer or failure.
public struct StoredIntruderAnswer: Sendable, Equatable {
    public var prompt: IntruderPrompt
    public var outcome: IntruderOutcome
    /// Times the prompt was asked (a failure is asked again until ``IntruderStage/maxAttempts``).
    public var attempts: Int

    public init(prompt: IntruderPrompt, outcome: IntruderOutcome, attempts: Int = 1) {
        self.prompt = prompt
        self.outcome = outcome
        self.attempts = attempts
    }

    /// Whether the answer named the intruder (nil for a failure: never a wrong answer).
    public var isCorrect: Bool? {
        guard case .answered(let position) = outcome else { return nil }
        return position == prompt.intruder
    }
}

extension RunStore {
    /// Stores a unit's intruder answers (a row already stored for the same prompt index is replaced
    /// and its attempts counted up) and the scorer's metrics under `explanationID` (the unit's
    /// headline explanation, where the reports read every scorer), in one transaction.
    ///
    /// - Throws: ``AutoInterpError`` for a position outside the prompt, a malformed score, or a
    ///   database failure (nothing is written then).
    public func saveIntruderAnswers(unitID: Int64, _ rows: [StoredIntruderAnswer], explanationID: Int64, scores: [StoredScore]) throws {
        for row in rows {
            let count = row.prompt.exampleIDs.count
            guard row.prompt.contexts.count == count, (1...max(1, count)).contains(row.prompt.intruder) else {
                throw AutoInterpError.invalidInput(
                    "intruder prompt \(row.prompt.index) of unit \(unitID): intruder position \(row.prompt.intruder) is not among its \(count) contexts (\(path))")
            }
            if case .answered(let position) = row.outcome, !(1...count).contains(position) {
                throw AutoInterpError.invalidInput(
                    "intruder prompt \(row.prompt.index) of unit \(unitID): answer \(position) is not among its \(count) contexts; store it as a failure (\(path))")
            }
        }
        try checkScores(scores, explanationID: explanationID)
        let createdAt = StoreFormat.string(from: Date())
        try database.transaction { db in
            let upsert = try db.prepare(
                """
                INSERT INTO intruder_prompts (unit_id, prompt_idx, decile_low, decile_high, example_ids_json, intruder,
                                              answer, status, error, created_at)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT (unit_id, prompt_idx) DO UPDATE SET
                    decile_low = excluded.decile_low, decile_high = excluded.decile_high,
                    example_ids_json = excluded.example_ids_json, intruder = excluded.intruder, answer = excluded.answer,
                    status = excluded.status, error = excluded.error, created_at = excluded.created_at,
                    attempts = intruder_prompts.attempts + 1
                """)
            for row in rows {
                var answer: Int?, error: String?
                switch row.outcome {
                case .answered(let position): answer = position
                case .failed(let reason): error = reason
                }
                let ids = "[" + row.prompt.exampleIDs.map(String.init).joined(separator: ",") + "]"
                try upsert.run([
                    unitID, row.prompt.index, row.prompt.deciles.lowerBound, row.prompt.deciles.upperBound, ids, row.prompt.intruder,
                    answer, answer == nil ? "failed" : "ok", error, createdAt,
                ])
            }
            try Self.upsertScores(scores, explanationID: explanationID, in: db)
        }
    }

    /// A unit's stored intruder answers by prompt index, each prompt's contexts read back from `examples`.
    public func intruderAnswers(unitID: Int64) throws -> [StoredIntruderAnswer] {
        let examples = Dictionary(try classificationExamples(unitID: unitID).map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
        return try database.query("SELECT * FROM intruder_prompts WHERE unit_id = ? ORDER BY prompt_idx", [unitID]).map { row in
            let index = row.int("prompt_idx") ?? 0
            guard let ids = (try? JSONSerialization.jsonObject(with: Data((row.string("example_ids_json") ?? "").utf8))) as? [NSNumber],
                let low = row.int("decile_low"), let high = row.int("decile_high"), low <= high
            else {
                throw AutoInterpError.database(path, "intruder prompt \(index) of unit \(unitID) could not be read (was a row edited by hand?)")
            }
            let exampleIDs = ids.map(\.int64Value)
            let prompt = IntruderPrompt(
                index: index, deciles: low...high, exampleIDs: exampleIDs, contexts: exampleIDs.map { examples[$0]?.record.tokens ?? [] },
                intruder: row.int("intruder") ?? 0)
            let outcome: IntruderOutcome = if let answer = row.int("answer") {
                .answered(answer)
            } else {
                .failed(reason: row.string("error") ?? "")
            }
            return StoredIntruderAnswer(prompt: prompt, outcome: outcome, attempts: row.int("attempts") ?? 1)
        }
    }
}
