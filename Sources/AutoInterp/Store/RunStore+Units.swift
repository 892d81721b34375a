import Foundation

// MARK: - Units and examples

extension RunStore {
    /// Writes a unit's row and all its examples in one transaction and returns `units.id`.
    ///
    /// Idempotent: saving the same unit (run, kind, index) again updates its statistics in
    /// place (its id, explanations and scores stay) and replaces its examples atomically.
    /// `record_idx` is each example's position among those of the same (role, subset) in
    /// `examples` order.
    ///
    /// - Throws: ``AutoInterpError`` for an unknown run or a database failure (nothing is
    ///   written then).
    @discardableResult
    public func saveUnit(runID: Int64, statistics: UnitStatistics, examples: [ExampleRecord]) throws -> Int64 {
        let histogram = try StoreFormat.json(statistics.histogram)
        let encoded = try examples.map { example in
            (
                example, try StoreFormat.json(example.tokens), StoreFormat.json(example.tokenIDs),
                StoreFormat.json(example.activations)
            )
        }
        return try database.transaction { db in
            guard try db.scalar("SELECT 1 FROM runs WHERE id = ?", [runID]) != nil else {
                throw AutoInterpError.invalidInput("no run with id \(runID) in \(path) (create the run first)")
            }
            let unit = statistics.unit
            let unitID = try db.scalar(
                """
                INSERT INTO units (run_id, kind, idx, max_activation, density, token_count, histogram_json)
                VALUES (?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT (run_id, kind, idx) DO UPDATE SET
                    max_activation = excluded.max_activation, density = excluded.density,
                    token_count = excluded.token_count, histogram_json = excluded.histogram_json
                RETURNING id
                """,
                [
                    runID, unit.kind.rawValue, unit.index, statistics.maxActivation, statistics.density,
                    statistics.tokenCount, histogram,
                ])
            guard let unitID = unitID.flatMap(Int64.init(sqliteValue:)) else {
                throw AutoInterpError.database(path, "saving \(unit) returned no id (check the units table)")
            }
            try db.run("DELETE FROM examples WHERE unit_id = ?", [unitID])
            let insert = try db.prepare(
                """
                INSERT INTO examples (unit_id, role, subset, record_idx, context_idx, bin, max_activation,
                                      tokens_json, token_ids_json, acts_json)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """)
            var next: [String: Int] = [:]
            for (example, tokens, ids, acts) in encoded {
                let group = "\(example.role.rawValue)/\(example.subset.rawValue)"
                let recordIndex = next[group, default: 0]
                next[group] = recordIndex + 1
                try insert.run([
                    unitID, example.role.rawValue, example.subset.rawValue, recordIndex, example.context,
                    example.bin, example.maxActivation, tokens, ids, acts,
                ])
            }
            return unitID
        }
    }

    /// The `units.id` of `unit` in run `runID`, or nil when it was not saved.
    public func unitID(runID: Int64, unit: UnitRef) throws -> Int64? {
        try database.scalar(
            "SELECT id FROM units WHERE run_id = ? AND kind = ? AND idx = ?", [runID, unit.kind.rawValue, unit.index]
        ).flatMap(Int64.init(sqliteValue:))
    }

    /// Every unit of a run, by kind then index.
    public func units(runID: Int64) throws -> [StoredUnit] {
        try database.query("SELECT * FROM units WHERE run_id = ? ORDER BY kind, idx", [runID]).map(storedUnit)
    }

    /// The unit with `units.id` `id`, or nil.
    public func unit(id: Int64) throws -> StoredUnit? {
        try database.query("SELECT * FROM units WHERE id = ?", [id]).first.map(storedUnit)
    }

    /// A unit's examples in the order they were saved.
    public func examples(unitID: Int64) throws -> [ExampleRecord] {
        try database.query("SELECT * FROM examples WHERE unit_id = ? ORDER BY id", [unitID]).map(exampleRecord)
    }

    /// A unit's examples of one role and subset, by `record_idx` (array index = `record_idx`).
    public func examples(unitID: Int64, role: ExampleRole, subset: ExampleSubset) throws -> [ExampleRecord] {
        try database.query(
            "SELECT * FROM examples WHERE unit_id = ? AND role = ? AND subset = ? ORDER BY record_idx",
            [unitID, role.rawValue, subset.rawValue]
        ).map(exampleRecord)
    }

    // MARK: Row decoding

    func storedUnit(_ row: SQLiteRow) throws -> StoredUnit {
        let id = row.int64("id") ?? 0
        guard let kind = row.string("kind").flatMap(UnitKind.init(rawValue:)), let index = row.int("idx") else {
            throw AutoInterpError.database(path, "unit \(id) has a bad kind or idx (was the row edited by hand?)")
        }
        let maxActivation = row.get("max_activation", as: Float.self) ?? 0
        let histogram =
            row["histogram_json"].isNull
            ? ActivationHistogram(max: maxActivation, counts: [], zeroCount: 0)
            : try StoreFormat.decode(
                ActivationHistogram.self, row.string("histogram_json"), column: "units.histogram_json", path: path)
        return StoredUnit(
            id: id, runID: row.int64("run_id") ?? 0,
            statistics: UnitStatistics(
                unit: UnitRef(kind, index), maxActivation: maxActivation, density: row.double("density") ?? .nan,
                tokenCount: row.int("token_count") ?? 0, histogram: histogram))
    }

    func exampleRecord(_ row: SQLiteRow) throws -> ExampleRecord {
        guard let role = row.string("role").flatMap(ExampleRole.init(rawValue:)),
            let subset = row.string("subset").flatMap(ExampleSubset.init(rawValue:))
        else {
            throw AutoInterpError.database(
                path, "example \(row.int64("id") ?? 0) has a bad role or subset (was the row edited by hand?)")
        }
        return ExampleRecord(
            role: role, subset: subset, context: row.int("context_idx") ?? 0, bin: row.int("bin"),
            tokenIDs: try StoreFormat.decode(
                [Int32].self, row.string("token_ids_json"), column: "examples.token_ids_json", path: path),
            tokens: try StoreFormat.decode(
                [String].self, row.string("tokens_json"), column: "examples.tokens_json", path: path),
            activations: try StoreFormat.decode(
                [Float].self, row.string("acts_json"), column: "examples.acts_json", path: path))
    }
}
