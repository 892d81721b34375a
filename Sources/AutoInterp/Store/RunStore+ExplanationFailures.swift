import Foundation

// MARK: - Explanation failures

/// A unit's refused explanation: `explanation_failures` (one row per unit, the last refusal).
public struct ExplanationFailureRecord: Sendable, Equatable {
    public var unitID: Int64
    /// The refused answer (control characters stripped), nil when no answer came.
    public var answer: String?
    public var reason: String
    /// How many times an explanation of the unit was refused.
    public var attempts: Int

    public init(unitID: Int64, answer: String?, reason: String, attempts: Int) {
        self.unitID = unitID
        self.answer = answer
        self.reason = reason
        self.attempts = attempts
    }
}

extension RunStore {
    /// Records a refused explanation of unit `unitID`: the answer and the reason, one more attempt.
    public func recordExplanationFailure(unitID: Int64, answer: String?, reason: String) throws {
        try database.withConnection { db in try Self.upsertExplanationFailure(db, unitID: unitID, answer: answer, reason: reason) }
    }

    private static func upsertExplanationFailure(_ db: SQLiteConnection, unitID: Int64, answer: String?, reason: String) throws {
        // At most a few KiB of a refused answer is kept: enough to read, not a page of HTML.
        let kept = answer.map { String(ControlCharacters.stripped($0).prefix(2000)) }
        try db.run(
            """
            INSERT INTO explanation_failures (unit_id, answer, reason, attempts, created_at) VALUES (?, ?, ?, 1, ?)
            ON CONFLICT (unit_id) DO UPDATE SET
                answer = excluded.answer, reason = excluded.reason, created_at = excluded.created_at,
                attempts = explanation_failures.attempts + 1
            """, [unitID, kept, ControlCharacters.oneLine(reason), StoreFormat.string(from: Date())])
    }

    /// The unit's refused explanation, or nil when none was refused.
    public func explanationFailure(unitID: Int64) throws -> ExplanationFailureRecord? {
        try database.query("SELECT * FROM explanation_failures WHERE unit_id = ?", [unitID]).first.map { row in
            ExplanationFailureRecord(
                unitID: unitID, answer: row.string("answer"), reason: row.string("reason") ?? "", attempts: row.int("attempts") ?? 1)
        }
    }

    /// Refused explanations of a run: units with a refusal, refused answers in all, and units with
    /// a refusal and still no explanation of their own.
    public func explanationFailureCounts(runID: Int64) throws -> (units: Int, answers: Int, unexplained: Int) {
        let row = try database.query(
            """
            SELECT COUNT(*) AS units, COALESCE(SUM(f.attempts), 0) AS answers,
                   COALESCE(SUM(NOT EXISTS (SELECT 1 FROM explanations e
                                            WHERE e.unit_id = u.id AND e.control_of IS NULL AND e.audit_of IS NULL)), 0) AS unexplained
            FROM explanation_failures f JOIN units u ON u.id = f.unit_id WHERE u.run_id = ?
            """, [runID]
        ).first
        return (row?.int("units") ?? 0, row?.int("answers") ?? 0, row?.int("unexplained") ?? 0)
    }

    /// Refused explanations of a run grouped by unit kind and (last) reason, most frequent first (for reports).
    public func explanationFailureGroups(runID: Int64) throws -> [(kind: UnitKind, reason: String, count: Int)] {
        try database.query(
            """
            SELECT u.kind AS kind, f.reason AS reason, COUNT(*) AS count FROM explanation_failures f
            JOIN units u ON u.id = f.unit_id WHERE u.run_id = ? GROUP BY u.kind, f.reason ORDER BY count DESC, reason
            """, [runID]
        ).compactMap { row in
            guard let kind = row.string("kind").flatMap(UnitKind.init(rawValue:)) else { return nil }
            return (kind, row.string("reason") ?? "", row.int("count") ?? 0)
        }
    }

    /// Takes back an explanation that a check now refuses (stored by an older run): records it as a
    /// refusal with `reason`, and deletes it with everything scored on it (simulations, scores,
    /// ratings, classifications), the controls that copied it (the control pass draws them again) and
    /// its cached LLM answer (so the unit is asked again, not served the same answer).
    public func retireExplanation(_ explanation: StoredExplanation, reason: String) throws {
        try database.transaction { db in
            try Self.upsertExplanationFailure(db, unitID: explanation.unitID, answer: explanation.text, reason: reason)
            try db.run("DELETE FROM explanations WHERE control_of = ? OR audit_of = ?", [explanation.id, explanation.id])
            try db.run("DELETE FROM explanations WHERE id = ?", [explanation.id])
            if let hash = explanation.requestHash { try db.run("DELETE FROM llm_cache WHERE request_hash = ?", [hash]) }
        }
    }

    /// Records best-of-K samples that gave no usable explanation beside `winner` (one transaction;
    /// a sample recorded again is replaced).
    public func recordCandidateFailures(of winner: StoredExplanation, _ failures: [(sample: Int, answer: String?, reason: String)]) throws {
        guard !failures.isEmpty else { return }
        let now = StoreFormat.string(from: Date())
        try database.transaction { db in
            for failure in failures {
                try db.run(
                    """
                    INSERT OR REPLACE INTO explanation_candidate_failures (explanation_id, sample, answer, reason, created_at)
                    VALUES (?, ?, ?, ?, ?)
                    """,
                    [winner.id, Int64(failure.sample), failure.answer.map { String(ControlCharacters.stripped($0).prefix(2000)) },
                     ControlCharacters.oneLine(failure.reason), now])
            }
        }
    }

    /// The unusable best-of-K samples recorded beside `explanationID` (the unit's winner), by sample.
    public func candidateFailures(explanationID: Int64) throws -> [(sample: Int, answer: String?, reason: String)] {
        try database.query(
            "SELECT sample, answer, reason FROM explanation_candidate_failures WHERE explanation_id = ? ORDER BY sample", [explanationID]
        ).map { row in (row.int("sample") ?? 0, row.string("answer"), row.string("reason") ?? "") }
    }
}
