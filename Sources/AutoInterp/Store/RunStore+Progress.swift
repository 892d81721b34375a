import Foundation

// MARK: - Unit progress

extension RunStore {
    /// The headline progress of every unit of a run (its first own explanation; controls are
    /// left out), by kind then index, in one query.
    public func progress(runID: Int64) throws -> [UnitProgress] {
        try database.query(Self.progressSQL + Self.headlineJoin + "WHERE u.run_id = ? ORDER BY u.kind, u.idx", [runID])
            .map(unitProgress)
    }

    /// The headline progress of the unit with `units.id` `unitID` (its first own explanation), in
    /// one query; nil when there is no such unit.
    public func progress(unitID: Int64) throws -> UnitProgress? {
        try database.query(Self.progressSQL + Self.headlineJoin + "WHERE u.id = ?", [unitID]).first.map(unitProgress)
    }

    /// The progress of unit `unitID` for one of its explanations (its own or a control): what is
    /// stored under that explanation. Nil when there is no such unit; the explanation is nil
    /// when `explanationID` is not one of the unit's.
    public func progress(unitID: Int64, explanationID: Int64) throws -> UnitProgress? {
        try database.query(
            Self.progressSQL + "LEFT JOIN explanations e ON e.id = ? AND e.unit_id = u.id\nWHERE u.id = ?", [explanationID, unitID]
        ).first.map(unitProgress)
    }

    /// The progress of every unit of a run that has a control explanation, for its control (the
    /// first, if several), by kind then index.
    public func controlProgress(runID: Int64) throws -> [UnitProgress] {
        try database.query(
            Self.progressSQL + """
                JOIN explanations e ON e.id = (SELECT MIN(id) FROM explanations WHERE unit_id = u.id AND control_of IS NOT NULL)
                WHERE u.run_id = ? ORDER BY u.kind, u.idx
                """, [runID]
        ).map(unitProgress)
    }

    /// A unit's headline explanation: its first own one (`control_of` and `audit_of` NULL).
    private static let headlineJoin = """
        LEFT JOIN explanations e ON e.id = (SELECT MIN(id) FROM explanations
                                            WHERE unit_id = u.id AND control_of IS NULL AND audit_of IS NULL)

        """

    /// A unit with one explanation `e` (joined after this text) and, as small JSON arrays, what is stored under it.
    private static let progressSQL = """
        SELECT u.*,
               e.id AS e_id, e.explainer AS e_explainer, e.model AS e_model, e.text AS e_text,
               e.prompt_file AS e_prompt_file, e.prompt_hash AS e_prompt_hash, e.request_hash AS e_request_hash,
               e.created_at AS e_created_at, e.control_of AS e_control_of, e.audit_of AS e_audit_of, e.audit_variant AS e_audit_variant,
               (SELECT COUNT(*) FROM examples x
                WHERE x.unit_id = u.id AND x.role = 'score' AND x.subset IN ('top', 'random')) AS scored_examples,
               (SELECT COUNT(*) FROM examples x
                WHERE x.unit_id = u.id AND x.role = 'score' AND x.subset = 'quantile') AS rubric_examples,
               (SELECT COUNT(*) FROM examples x
                WHERE x.unit_id = u.id AND x.role = 'classify') AS classify_examples,
               (SELECT COUNT(*) FROM examples x
                WHERE x.unit_id = u.id AND x.role = 'classify' AND x.subset = 'hard') AS hard_negatives,
               (SELECT f.attempts FROM explanation_failures f WHERE f.unit_id = u.id) AS explanation_refusals,
               (SELECT json_group_array(json_array(k.scorer, k.example_id, k.status, k.attempts)) FROM classifications k
                WHERE k.explanation_id = e.id) AS classifications,
               (SELECT json_group_array(s.subset || '/' || s.record_idx) FROM simulations s
                WHERE s.explanation_id = e.id) AS simulated,
               (SELECT json_group_array(json_array(s.subset || '/' || s.record_idx, s.attempts)) FROM simulations s
                WHERE s.explanation_id = e.id AND s.status = 'failed') AS failed_simulations,
               (SELECT json_group_array(json_array(f.record_idx, f.attempts)) FROM rubric_failures f
                WHERE f.explanation_id = e.id) AS rating_failures,
               (SELECT json_group_array(json_array(c.metric, c.subset, c.value)) FROM scores c
                WHERE c.explanation_id = e.id) AS scores,
               (SELECT json_group_array(json_array(r.record_idx, r.rating)) FROM rubric_ratings r
                WHERE r.explanation_id = e.id) AS ratings,
               (SELECT json_group_array(json_array(i.prompt_idx, i.status, i.attempts)) FROM intruder_prompts i
                WHERE i.unit_id = u.id) AS intruder
        FROM units u

        """

    private func unitProgress(_ row: SQLiteRow) throws -> UnitProgress {
        let unit = try storedUnit(row)
        var progress = UnitProgress(
            unit: unit, scoredExamples: row.int("scored_examples") ?? 0, rubricExamples: row.int("rubric_examples") ?? 0,
            classifyExamples: row.int("classify_examples") ?? 0)
        progress.refusedExplanationAttempts = row.int("explanation_refusals") ?? 0
        progress.hardNegatives = row.int("hard_negatives") ?? 0
        for case let item as [Any] in try jsonArray(row, "intruder") where item.count == 3 {
            guard let index = (item[0] as? NSNumber)?.intValue, let status = item[1] as? String,
                let attempts = (item[2] as? NSNumber)?.intValue
            else { continue }
            progress.intruderPrompts.insert(index)
            if status == "failed" { progress.failedIntruderAttempts[index] = attempts }
        }
        guard let explanationID = row.int64("e_id") else { return progress }
        progress.explanation = StoredExplanation(
            id: explanationID, unitID: unit.id, explainer: row.string("e_explainer") ?? "", model: row.string("e_model") ?? "",
            text: row.string("e_text") ?? "", promptFile: row.string("e_prompt_file"), promptHash: row.string("e_prompt_hash"),
            requestHash: row.string("e_request_hash"), createdAt: try StoreFormat.date(row.string("e_created_at"), path: path),
            controlOf: row.int64("e_control_of"), auditOf: row.int64("e_audit_of"), auditVariant: row.string("e_audit_variant"))
        progress.simulated = Set(try jsonArray(row, "simulated").compactMap { $0 as? String })
        for case let item as [Any] in try jsonArray(row, "failed_simulations") where item.count == 2 {
            guard let key = item[0] as? String, let attempts = (item[1] as? NSNumber)?.intValue else { continue }
            progress.failedSimulationAttempts[key] = attempts
        }
        for case let item as [Any] in try jsonArray(row, "rating_failures") where item.count == 2 {
            guard let record = (item[0] as? NSNumber)?.intValue, let attempts = (item[1] as? NSNumber)?.intValue else { continue }
            progress.failedRatingAttempts[record] = attempts
        }
        for case let item as [Any] in try jsonArray(row, "classifications") where item.count == 4 {
            guard let scorer = item[0] as? String, let example = (item[1] as? NSNumber)?.int64Value,
                let status = item[2] as? String, let attempts = (item[3] as? NSNumber)?.intValue
            else { continue }
            let key = StoredClassification.Scorer(rawValue: scorer)
            progress.classified[key, default: []].insert(example)
            if status == "failed" { progress.failedClassificationAttempts[key, default: [:]][example] = attempts }
        }
        for case let item as [Any] in try jsonArray(row, "scores") where item.count == 3 {
            guard let metric = item[0] as? String, let subset = item[1] as? String else { continue }
            let value: Double? = (item[2] as? NSNumber)?.doubleValue  // NULL: undefined, stored as .some(nil)
            progress.scores[.init(.init(rawValue: metric), .init(rawValue: subset))] = .some(value)
        }
        for case let item as [Any] in try jsonArray(row, "ratings") where item.count == 2 {
            guard let record = (item[0] as? NSNumber)?.intValue, let rating = (item[1] as? NSNumber)?.intValue else { continue }
            progress.ratings[record] = rating
        }
        return progress
    }

    private func jsonArray(_ row: SQLiteRow, _ column: String) throws -> [Any] {
        guard let text = row.string(column) else { return [] }
        guard let array = try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [Any] else {
            throw AutoInterpError.database(path, "the \(column) of unit \(row.int64("id") ?? 0) could not be read (was a row edited by hand?)")
        }
        return array
    }
}
