import Foundation

// MARK: - Explanations

extension RunStore {
    /// Stores an explanation of unit `unitID` and returns it with its id.
    ///
    /// - Throws: ``AutoInterpError`` (nothing written) when `text` holds a NUL byte, which SQLite
    ///   readers would cut the text at (the explainers strip control characters before this).
    @discardableResult
    public func addExplanation(
        unitID: Int64, explainer: String, model: String, text: String,
        promptFile: String? = nil, promptHash: String? = nil, requestHash: String? = nil
    ) throws -> StoredExplanation {
        guard !text.unicodeScalars.contains("\0") else {
            throw AutoInterpError.invalidInput("an explanation of unit id \(unitID) holds a NUL byte (\(path)): strip it before storing")
        }
        return try database.withConnection { db in
            try insertExplanation(
                db, unitID: unitID, explainer: explainer, model: model, text: text, promptFile: promptFile,
                promptHash: promptHash, requestHash: requestHash, controlOf: nil)
        }
    }

    /// Stores control explanations in one transaction: for each (unit, donor), the donor's model
    /// and text under `explainer = 'control'` with `control_of` = the donor's id; returns them in order.
    ///
    /// - Throws: ``AutoInterpError`` (nothing written) when a donor is itself a control or belongs to the unit.
    @discardableResult
    public func addControlExplanations(_ controls: [(unitID: Int64, donor: StoredExplanation)]) throws -> [StoredExplanation] {
        for (unitID, donor) in controls where donor.isControl || donor.unitID == unitID {
            throw AutoInterpError.invalidInput(
                "explanation \(donor.id) cannot be the control of unit id \(unitID) (\(path)): a control takes another unit's own explanation")
        }
        return try database.transaction { db in
            try controls.map { unitID, donor in
                try insertExplanation(
                    db, unitID: unitID, explainer: StoredExplanation.controlExplainer, model: donor.model, text: donor.text,
                    promptFile: nil, promptHash: nil, requestHash: nil, controlOf: donor.id)
            }
        }
    }

    private func insertExplanation(
        _ db: SQLiteConnection, unitID: Int64, explainer: String, model: String, text: String, promptFile: String?,
        promptHash: String?, requestHash: String?, controlOf: Int64?
    ) throws -> StoredExplanation {
        let createdAt = Date()
        try db.run(
            """
            INSERT INTO explanations (unit_id, explainer, model, text, prompt_file, prompt_hash, request_hash,
                                      created_at, control_of)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
            """,
            [
                unitID, explainer, model, text, promptFile, promptHash, requestHash,
                StoreFormat.string(from: createdAt), controlOf,
            ])
        return StoredExplanation(
            id: db.lastInsertRowID, unitID: unitID, explainer: explainer, model: model, text: text,
            promptFile: promptFile, promptHash: promptHash, requestHash: requestHash,
            createdAt: StoreFormat.roundTrip(createdAt), controlOf: controlOf)
    }

    /// The explanation with id `id` (the unit's own or a control), or nil.
    public func explanation(id: Int64) throws -> StoredExplanation? {
        try database.query("SELECT * FROM explanations WHERE id = ?", [id]).first.map(storedExplanation)
    }

    /// A unit's own explanations (controls and audit variants left out), oldest first.
    public func explanations(unitID: Int64) throws -> [StoredExplanation] {
        try database.query("SELECT * FROM explanations WHERE unit_id = ? AND control_of IS NULL AND audit_of IS NULL ORDER BY id", [unitID])
            .map(storedExplanation)
    }

    /// Every unit's own explanation of a run (controls and audit variants left out), oldest first.
    public func explanations(runID: Int64) throws -> [StoredExplanation] {
        try database.query(
            """
            SELECT e.* FROM explanations e JOIN units u ON u.id = e.unit_id
            WHERE u.run_id = ? AND e.control_of IS NULL AND e.audit_of IS NULL ORDER BY e.id
            """, [runID]
        ).map(storedExplanation)
    }

    /// Every audit variant of a run (``StoredExplanation/auditOf`` set; best-of-K candidates left out), oldest first.
    public func auditExplanations(runID: Int64) throws -> [StoredExplanation] {
        try database.query(
            """
            SELECT e.* FROM explanations e JOIN units u ON u.id = e.unit_id
            WHERE u.run_id = ? AND e.audit_of IS NOT NULL AND (e.audit_variant IS NULL OR e.audit_variant NOT LIKE 'candidate:%')
            ORDER BY e.id
            """, [runID]
        ).map(storedExplanation)
    }

    /// A unit's best-of-K candidates that lost (``StoredExplanation/candidateSample``), by sample.
    public func candidateExplanations(unitID: Int64) throws -> [StoredExplanation] {
        try database.query(
            "SELECT * FROM explanations WHERE unit_id = ? AND audit_of IS NOT NULL AND audit_variant LIKE 'candidate:%' ORDER BY id",
            [unitID]
        ).map(storedExplanation).sorted { ($0.candidateSample ?? 0) < ($1.candidateSample ?? 0) }
    }

    /// Stores best-of-K candidates beside the winner `of` (one transaction): each under its
    /// explainer with `audit_of` = the winner and `audit_variant` = `candidate:<sample>`, so no
    /// headline, report or audit reads it; returns them in order.
    @discardableResult
    public func addCandidateExplanations(
        of winner: StoredExplanation, _ candidates: [(sample: Int, explainer: String, model: String, text: String, requestHash: String?)]
    ) throws -> [StoredExplanation] {
        guard !winner.isControl, !winner.isAudit else {
            throw AutoInterpError.invalidInput(
                "explanation \(winner.id) cannot have candidates (\(path)): it is not a unit's own explanation")
        }
        return try database.transaction { db in
            try candidates.map { item in
                var stored = try insertExplanation(
                    db, unitID: winner.unitID, explainer: item.explainer, model: item.model, text: item.text,
                    promptFile: winner.promptFile, promptHash: winner.promptHash, requestHash: item.requestHash, controlOf: nil)
                let variant = "\(StoredExplanation.candidateVariant):\(item.sample)"
                try db.run("UPDATE explanations SET audit_of = ?, audit_variant = ? WHERE id = ?", [winner.id, variant, stored.id])
                stored.auditOf = winner.id
                stored.auditVariant = variant
                return stored
            }
        }
    }

    /// Stores audit variants (one transaction): each the `variant` text of the unit's own
    /// explanation `of`, under `explainer = 'audit'` with `audit_of` = its id; returns them in order.
    ///
    /// - Throws: ``AutoInterpError`` when `of` is a control or an audit variant itself.
    @discardableResult
    public func addAuditExplanations(_ variants: [(of: StoredExplanation, variant: String, model: String, text: String)]) throws
        -> [StoredExplanation]
    {
        for variant in variants where variant.of.isControl || variant.of.isAudit {
            throw AutoInterpError.invalidInput(
                "explanation \(variant.of.id) cannot be audited (\(path)): an audit varies a unit's own explanation")
        }
        return try database.transaction { db in
            try variants.map { item in
                var stored = try insertExplanation(
                    db, unitID: item.of.unitID, explainer: StoredExplanation.auditExplainer, model: item.model, text: item.text,
                    promptFile: nil, promptHash: nil, requestHash: nil, controlOf: nil)
                try db.run("UPDATE explanations SET audit_of = ?, audit_variant = ? WHERE id = ?", [item.of.id, item.variant, stored.id])
                stored.auditOf = item.of.id
                stored.auditVariant = item.variant
                return stored
            }
        }
    }

    /// Every control explanation of a run (``StoredExplanation/controlOf`` set), oldest first.
    public func controlExplanations(runID: Int64) throws -> [StoredExplanation] {
        try database.query(
            """
            SELECT e.* FROM explanations e JOIN units u ON u.id = e.unit_id
            WHERE u.run_id = ? AND e.control_of IS NOT NULL ORDER BY e.id
            """, [runID]
        ).map(storedExplanation)
    }

    private func storedExplanation(_ row: SQLiteRow) throws -> StoredExplanation {
        StoredExplanation(
            id: row.int64("id") ?? 0, unitID: row.int64("unit_id") ?? 0, explainer: row.string("explainer") ?? "",
            model: row.string("model") ?? "", text: row.string("text") ?? "", promptFile: row.string("prompt_file"),
            promptHash: row.string("prompt_hash"), requestHash: row.string("request_hash"),
            createdAt: try StoreFormat.date(row.string("created_at"), path: path), controlOf: row.int64("control_of"),
            auditOf: row.int64("audit_of"), auditVariant: row.string("audit_variant"))
    }
}

// MARK: - Simulations

extension RunStore {
    /// Stores simulations of one explanation in one transaction, replacing any earlier row
    /// with the same (subset, record index); `attempts` counts how often the record was simulated.
    public func saveSimulations(explanationID: Int64, _ simulations: [StoredSimulation]) throws {
        let createdAt = StoreFormat.string(from: Date())
        let encoded = try simulations.map { simulation in
            (
                simulation, try StoreFormat.json(simulation.tokens), StoreFormat.json(simulation.trueActivations),
                simulation.predicted.map { StoreFormat.json($0) }
            )
        }
        try database.transaction { db in
            let upsert = try db.prepare(
                """
                INSERT INTO simulations (explanation_id, subset, record_idx, tokens_json, true_json, pred_json,
                                         status, error, mode, created_at)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT (explanation_id, subset, record_idx) DO UPDATE SET
                    tokens_json = excluded.tokens_json, true_json = excluded.true_json,
                    pred_json = excluded.pred_json, status = excluded.status, error = excluded.error,
                    mode = excluded.mode, created_at = excluded.created_at, attempts = simulations.attempts + 1
                """)
            for (simulation, tokens, truth, predicted) in encoded {
                var error: String?
                if case .failed(let reason) = simulation.outcome { error = reason }
                try upsert.run([
                    explanationID, simulation.subset.rawValue, simulation.recordIndex, tokens, truth, predicted,
                    predicted == nil ? "failed" : "ok", error, simulation.mode, createdAt,
                ])
            }
        }
    }

    /// An explanation's simulations by subset, then record index.
    public func simulations(explanationID: Int64) throws -> [StoredSimulation] {
        try database.query(
            "SELECT * FROM simulations WHERE explanation_id = ? ORDER BY subset, record_idx", [explanationID]
        ).map { row in
            guard let subset = row.string("subset").flatMap(ExampleSubset.init(rawValue:)) else {
                throw AutoInterpError.database(path, "simulation \(row.int64("id") ?? 0) has a bad subset")
            }
            let outcome: StoredSimulation.Outcome =
                row.string("status") == "ok"
                ? .predicted(
                    try StoreFormat.decode(
                        [Double].self, row.string("pred_json"), column: "simulations.pred_json", path: path))
                : .failed(reason: row.string("error") ?? "")
            return StoredSimulation(
                subset: subset, recordIndex: row.int("record_idx") ?? 0,
                tokens: try StoreFormat.decode(
                    [String].self, row.string("tokens_json"), column: "simulations.tokens_json", path: path),
                trueActivations: try StoreFormat.decode(
                    [Float].self, row.string("true_json"), column: "simulations.true_json", path: path),
                outcome: outcome, mode: row.string("mode"))
        }
    }
}

// MARK: - Scores

extension RunStore {
    /// Stores scores of one explanation in one transaction, replacing any earlier row with the
    /// same (metric, subset).
    ///
    /// - Throws: ``AutoInterpError`` (nothing written) when a score has both a value and a
    ///   reason, neither, or a NaN value: an undefined score is `nil` plus a reason.
    public func saveScores(explanationID: Int64, _ scores: [StoredScore]) throws {
        try checkScores(scores, explanationID: explanationID)
        try database.transaction { db in try Self.upsertScores(scores, explanationID: explanationID, in: db) }
    }

    /// Refuses a score with both a value and a reason, neither, or a NaN value.
    func checkScores(_ scores: [StoredScore], explanationID: Int64) throws {
        for score in scores {
            let label = "\(score.metric.rawValue)/\(score.subset.rawValue) score of explanation \(explanationID)"
            if let value = score.value, value.isNaN {
                throw AutoInterpError.invalidInput("\(label) is NaN (store nil with an undefined reason instead)")
            }
            if (score.value == nil) == (score.undefinedReason == nil) {
                throw AutoInterpError.invalidInput(
                    "\(label) needs exactly one of a value or an undefined reason (\(path))")
            }
        }
    }

    /// Writes checked scores inside a transaction, replacing earlier rows with the same (metric, subset).
    static func upsertScores(_ scores: [StoredScore], explanationID: Int64, in db: SQLiteConnection) throws {
        let upsert = try db.prepare(
            """
            INSERT INTO scores (explanation_id, metric, subset, value, undefined_reason, n)
            VALUES (?, ?, ?, ?, ?, ?)
            ON CONFLICT (explanation_id, metric, subset) DO UPDATE SET
                value = excluded.value, undefined_reason = excluded.undefined_reason, n = excluded.n
            """)
        for score in scores {
            try upsert.run([
                explanationID, score.metric.rawValue, score.subset.rawValue, score.value, score.undefinedReason, score.n,
            ])
        }
    }

    /// An explanation's scores by metric, then subset.
    public func scores(explanationID: Int64) throws -> [StoredScore] {
        try database.query(
            "SELECT * FROM scores WHERE explanation_id = ? ORDER BY metric, subset", [explanationID]
        ).map(storedScore)
    }

    /// Every score of a run with its unit and explanation, by kind, index, explanation, metric, subset.
    public func scores(runID: Int64) throws -> [UnitScore] {
        try database.query(
            """
            SELECT s.*, u.id AS unit_id, u.kind AS kind, u.idx AS idx, e.explainer AS explainer
            FROM scores s JOIN explanations e ON e.id = s.explanation_id JOIN units u ON u.id = e.unit_id
            WHERE u.run_id = ? ORDER BY u.kind, u.idx, s.explanation_id, s.metric, s.subset
            """, [runID]
        ).map { row in
            UnitScore(
                unitID: row.int64("unit_id") ?? 0, unit: try unitRef(row),
                explanationID: row.int64("explanation_id") ?? 0, explainer: row.string("explainer") ?? "",
                score: try storedScore(row))
        }
    }

    private func storedScore(_ row: SQLiteRow) throws -> StoredScore {
        guard let metric = row.string("metric").flatMap(StoredScore.Metric.init(rawValue:)),
            let subset = row.string("subset").flatMap(StoredScore.Subset.init(rawValue:))
        else {
            throw AutoInterpError.database(path, "score \(row.int64("id") ?? 0) has a bad metric or subset")
        }
        return StoredScore(
            metric: metric, subset: subset, value: row.double("value"),
            undefinedReason: row.string("undefined_reason"), n: row.int("n") ?? 0)
    }

    func unitRef(_ row: SQLiteRow) throws -> UnitRef {
        guard let kind = row.string("kind").flatMap(UnitKind.init(rawValue:)), let index = row.int("idx") else {
            throw AutoInterpError.database(path, "a unit has a bad kind or idx (was the row edited by hand?)")
        }
        return UnitRef(kind, index)
    }
}

// MARK: - Rubric

extension RunStore {
    /// Stores the judge's ratings of one explanation in one transaction, replacing any earlier
    /// row with the same record index (and any failure recorded for it).
    ///
    /// - Throws: ``AutoInterpError`` (nothing written) for a rating outside 0...3 or a bin
    ///   below -1.
    public func saveRubricRatings(explanationID: Int64, _ ratings: [StoredRubricRating]) throws {
        let nonActivating = StoredRubricRating.nonActivatingBin
        for rating in ratings where !(0...3).contains(rating.rating) || rating.bin < nonActivating {
            throw AutoInterpError.invalidInput(
                "rubric rating \(rating.rating) in bin \(rating.bin) for explanation \(explanationID) is out of range"
                    + " (ratings are 0-3, bins >= \(nonActivating))")
        }
        let createdAt = StoreFormat.string(from: Date())
        let encoded = try ratings.map { ($0, try StoreFormat.json($0.tokens), StoreFormat.json($0.activations)) }
        try database.transaction { db in
            let upsert = try db.prepare(
                """
                INSERT INTO rubric_ratings (explanation_id, record_idx, bin, activation, rating, context_idx,
                                            tokens_json, acts_json, judge_model, reason, created_at)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT (explanation_id, record_idx) DO UPDATE SET
                    bin = excluded.bin, activation = excluded.activation, rating = excluded.rating,
                    context_idx = excluded.context_idx, tokens_json = excluded.tokens_json,
                    acts_json = excluded.acts_json, judge_model = excluded.judge_model,
                    reason = excluded.reason, created_at = excluded.created_at
                """)
            let forget = try db.prepare("DELETE FROM rubric_failures WHERE explanation_id = ? AND record_idx = ?")
            for (rating, tokens, acts) in encoded {
                _ = try forget.run([explanationID, rating.recordIndex])
                try upsert.run([
                    explanationID, rating.recordIndex, rating.bin, rating.activation, rating.rating, rating.context,
                    tokens, acts, rating.judgeModel, rating.reason, createdAt,
                ])
            }
        }
    }

    /// An explanation's rubric ratings by record index.
    public func rubricRatings(explanationID: Int64) throws -> [StoredRubricRating] {
        try database.query(
            "SELECT * FROM rubric_ratings WHERE explanation_id = ? ORDER BY record_idx", [explanationID]
        ).map { row in
            StoredRubricRating(
                recordIndex: row.int("record_idx") ?? 0, bin: row.int("bin") ?? 0,
                activation: row.get("activation", as: Float.self) ?? 0, rating: row.int("rating") ?? 0,
                context: row.int("context_idx"),
                tokens: try StoreFormat.decode(
                    [String].self, row.string("tokens_json"), column: "rubric_ratings.tokens_json", path: path),
                activations: try StoreFormat.decode(
                    [Float].self, row.string("acts_json"), column: "rubric_ratings.acts_json", path: path),
                judgeModel: row.string("judge_model"), reason: row.string("reason"))
        }
    }

    /// The `rubric_histogram` view for a run: rating counts per (unit, explanation, bin).
    public func rubricHistogram(runID: Int64) throws -> [RubricHistogramRow] {
        try database.query(
            "SELECT * FROM rubric_histogram WHERE run_id = ? ORDER BY kind, idx, explanation_id, bin, rating", [runID]
        ).map { row in
            RubricHistogramRow(
                unitID: row.int64("unit_id") ?? 0, unit: try unitRef(row),
                explanationID: row.int64("explanation_id") ?? 0, bin: row.int("bin") ?? 0,
                rating: row.int("rating") ?? 0, count: row.int("count") ?? 0)
        }
    }
}

// MARK: - Rubric failures

/// A rubric example the judge could not rate: `rubric_failures`.
public struct RubricFailure: Sendable, Equatable {
    public var recordIndex: Int
    public var bin: Int
    public var reason: String
    /// How many times the example was asked.
    public var attempts: Int

    public init(recordIndex: Int, bin: Int, reason: String, attempts: Int = 1) {
        self.recordIndex = recordIndex
        self.bin = bin
        self.reason = reason
        self.attempts = attempts
    }
}

extension RunStore {
    /// Records examples the judge could not rate (one transaction), counting attempts.
    public func saveRubricFailures(explanationID: Int64, _ failures: [RubricFailure]) throws {
        let createdAt = StoreFormat.string(from: Date())
        try database.transaction { db in
            let upsert = try db.prepare(
                """
                INSERT INTO rubric_failures (explanation_id, record_idx, bin, error, attempts, created_at) VALUES (?, ?, ?, ?, 1, ?)
                ON CONFLICT (explanation_id, record_idx) DO UPDATE SET
                    error = excluded.error, created_at = excluded.created_at, attempts = rubric_failures.attempts + 1
                """)
            for failure in failures {
                _ = try upsert.run([explanationID, failure.recordIndex, failure.bin, failure.reason, createdAt])
            }
        }
    }

    /// An explanation's rubric failures by record index.
    public func rubricFailures(explanationID: Int64) throws -> [RubricFailure] {
        try database.query("SELECT * FROM rubric_failures WHERE explanation_id = ? ORDER BY record_idx", [explanationID]).map { row in
            RubricFailure(
                recordIndex: row.int("record_idx") ?? 0, bin: row.int("bin") ?? 0, reason: row.string("error") ?? "",
                attempts: row.int("attempts") ?? 1)
        }
    }

    /// Rubric failures of a run grouped by unit kind and reason (for reports).
    public func rubricFailureCounts(runID: Int64) throws -> [(kind: UnitKind, reason: String, count: Int)] {
        try database.query(
            """
            SELECT u.kind AS kind, f.error AS error, COUNT(*) AS count FROM rubric_failures f
            JOIN explanations e ON e.id = f.explanation_id JOIN units u ON u.id = e.unit_id
            WHERE u.run_id = ? GROUP BY u.kind, f.error ORDER BY count DESC
            """, [runID]
        ).compactMap { row in
            guard let kind = row.string("kind").flatMap(UnitKind.init(rawValue:)) else { return nil }
            return (kind, row.string("error") ?? "", row.int("count") ?? 0)
        }
    }
}
