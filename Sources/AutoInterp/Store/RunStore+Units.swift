import Foundation

// MARK: - Units and examples

extension RunStore {
    /// Writes a unit's row and all its examples in one transaction and returns `units.id`.
    ///
    /// Idempotent: saving the same unit (run, kind, index) again updates its statistics in
    /// place (its id, explanations and scores stay) and replaces its examples atomically.
    /// `record_idx` is each example's position among those of the same (role, subset) in
    /// `examples` order. Token ids and activations are stored as blobs (``ExampleBlob``), and
    /// token strings once per run in `run_tokens` (an example whose strings are not its ids'
    /// texts there keeps them in `tokens_json`).
    ///
    /// - Throws: ``AutoInterpError`` for an unknown run or a database failure (nothing is
    ///   written then).
    @discardableResult
    public func saveUnit(runID: Int64, statistics: UnitStatistics, examples: [ExampleRecord]) throws -> Int64 {
        try saveUnits(runID: runID, [(statistics, examples)])[0]
    }

    /// Writes several units (see ``saveUnit(runID:statistics:examples:)``) in one transaction and
    /// returns their `units.id`s in order: all are stored or none.
    @discardableResult
    public func saveUnits(runID: Int64, _ units: [(statistics: UnitStatistics, examples: [ExampleRecord])]) throws -> [Int64] {
        let encoded = try units.map { unit in
            (
                histogram: try StoreFormat.json(unit.statistics.histogram),
                blobs: unit.examples.map { (ids: ExampleBlob.data($0.tokenIDs), acts: ExampleBlob.data($0.activations)) }
            )
        }
        // Texts are kept in memory only once committed by this call's own transaction.
        let outermost = !database.inTransaction
        var committed: (key: RunTokenTexts.Key, texts: [Int32: String])?
        let ids = try database.transaction { db -> [Int64] in
            guard let key = try tokenKey(runID: runID, db) else {
                throw AutoInterpError.invalidInput("no run with id \(runID) in \(path) (create the run first)")
            }
            let added = try storeTokenTexts(key, units.flatMap(\.examples), keep: outermost, db)
            let upsertUnit = try db.prepare(
                """
                INSERT INTO units (run_id, kind, idx, max_activation, density, token_count, histogram_json)
                VALUES (?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT (run_id, kind, idx) DO UPDATE SET
                    max_activation = excluded.max_activation, density = excluded.density,
                    token_count = excluded.token_count, histogram_json = excluded.histogram_json
                RETURNING id
                """)
            let deleteExamples = try db.prepare("DELETE FROM examples WHERE unit_id = ?")
            let insert = try db.prepare(
                """
                INSERT INTO examples (unit_id, role, subset, record_idx, context_idx, bin, max_activation,
                                      tokens_json, token_ids, acts)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """)
            var unitIDs: [Int64] = []
            var spelledIndex = 0
            for (unit, encoding) in zip(units, encoded) {
                let statistics = unit.statistics
                let ref = statistics.unit
                let unitID = try upsertUnit.query([
                    runID, ref.kind.rawValue, ref.index, statistics.maxActivation, statistics.density,
                    statistics.tokenCount, encoding.histogram,
                ]).first.flatMap { $0.int64("id") }
                guard let unitID else {
                    throw AutoInterpError.database(path, "saving \(ref) returned no id (check the units table)")
                }
                try deleteExamples.run([unitID])
                var next: [String: Int] = [:]
                for (example, blobs) in zip(unit.examples, encoding.blobs) {
                    let group = "\(example.role.rawValue)/\(example.subset.rawValue)"
                    let recordIndex = next[group, default: 0]
                    next[group] = recordIndex + 1
                    let tokens = try added.spelled[spelledIndex] ? nil : StoreFormat.json(example.tokens)
                    spelledIndex += 1
                    try insert.run([
                        unitID, example.role.rawValue, example.subset.rawValue, recordIndex, example.context,
                        example.bin, example.maxActivation, tokens, blobs.ids, blobs.acts,
                    ])
                }
                unitIDs.append(unitID)
            }
            committed = (key, added.new)
            return unitIDs
        }
        if outermost, let committed { tokenTexts.merge(committed.key, committed.texts) }
        return ids
    }

    /// Writes the texts of the examples' token ids that `run_tokens` lacks (the first string seen
    /// for an id wins) and returns, per example, whether the run's texts spell out its tokens (so
    /// its strings need no column), and the texts written now.
    private func storeTokenTexts(_ key: RunTokenTexts.Key, _ examples: [ExampleRecord], keep: Bool, _ db: SQLiteConnection) throws
        -> (spelled: [Bool], new: [Int32: String])
    {
        // The writer of a run is the only one adding to its table (the run lock): ids missing from
        // what is held are new, so the table is read once, not on every new id.
        let texts = try tokenTexts.snapshot(key) ?? tokenTexts(key, covering: [], keep: keep, db)
        var pending: [Int32: String] = [:]
        // One lookup per token: a known id's text is compared, an unknown id's is taken (and checked below).
        var spelled = examples.map { example -> Bool in
            guard example.tokens.count == example.tokenIDs.count else { return false }
            var same = true
            for (id, text) in zip(example.tokenIDs, example.tokens) {
                if let known = texts[id] {
                    if known != text { same = false }
                } else if let taken = pending[id] {
                    if taken != text { same = false }
                } else {
                    pending[id] = text
                }
            }
            return same
        }
        guard !pending.isEmpty else { return (spelled, [:]) }
        // The stored text wins over ours when another writer got there first.
        let insert = try db.prepare(
            """
            INSERT INTO run_tokens (run_id, token_id, text) VALUES (?, ?, ?)
            ON CONFLICT (run_id, token_id) DO UPDATE SET text = run_tokens.text RETURNING text
            """)
        var new: [Int32: String] = [:]
        var overruled = false
        for (id, text) in pending {
            let stored = try insert.query([key.runID, id, text]).first?.string("text") ?? text
            new[id] = stored
            if stored != text { overruled = true }
        }
        if overruled {
            // Rare (another writer gave an id another text): check the examples again against the stored texts.
            spelled = zip(examples, spelled).map { example, same in
                same && zip(example.tokenIDs, example.tokens).allSatisfy { id, text in (new[id] ?? texts[id]) == text }
            }
        }
        return (spelled, new)
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
        try examples(unitID: unitID, where: "", [])
    }

    /// A unit's examples of one role and subset, by `record_idx` (array index = `record_idx`).
    public func examples(unitID: Int64, role: ExampleRole, subset: ExampleSubset) throws -> [ExampleRecord] {
        try examples(unitID: unitID, where: "AND role = ? AND subset = ? ORDER BY record_idx", [role.rawValue, subset.rawValue])
    }

    /// A unit's example rows (`SELECT * … WHERE unit_id = ? <filter>`, by id when `filter` has no
    /// ORDER BY), decoded with the run's token texts.
    func examples(unitID: Int64, where filter: String, _ arguments: [any SQLiteValueConvertible]) throws -> [ExampleRecord] {
        let keep = !database.inTransaction
        let order = filter.contains("ORDER BY") ? "" : " ORDER BY id"
        return try database.withConnection { db in
            let rows = try db.query("SELECT * FROM examples WHERE unit_id = ? \(filter)\(order)", [unitID] + arguments)
            return try exampleRecords(rows, key: try tokenKey(unitID: unitID, db), keep: keep, db)
        }
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

    /// An example row's record, given its decoded columns (``exampleRecords(_:key:keep:_:)``).
    func exampleRecord(_ row: SQLiteRow, tokenIDs: [Int32], tokens: [String], activations: [Float]) throws -> ExampleRecord {
        guard let role = row.string("role").flatMap(ExampleRole.init(rawValue:)),
            let subset = row.string("subset").flatMap(ExampleSubset.init(rawValue:))
        else {
            throw AutoInterpError.database(
                path, "example \(row.int64("id") ?? 0) has a bad role or subset (was the row edited by hand?)")
        }
        return ExampleRecord(
            role: role, subset: subset, context: row.int("context_idx") ?? 0, bin: row.int("bin"), tokenIDs: tokenIDs,
            tokens: tokens, activations: activations)
    }
}
