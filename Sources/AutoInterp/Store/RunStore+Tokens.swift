import Foundation

// MARK: - Token texts (`run_tokens`)

/// The `run_tokens` texts a store has read or written, by run, held in memory.
///
/// Since schema v13 an example row keeps token ids, not strings; the strings are stored once per
/// run in `run_tokens` and looked up here. A row of `run_tokens` never changes once written, so a
/// held text is never stale, only the set may be incomplete (another process added texts): a miss
/// reads the run's table again. Keyed by the run's id and creation time, so a run deleted and made
/// again under a reused id starts empty. Only texts committed outside a caller's transaction are
/// kept (a rolled-back one never is).
/// A run's texts by token id: an array for ids in `0..<denseLimit` (a lookup per token of every
/// example saved or read, so no hashing), a dictionary for any other id.
struct TokenTable {
    static let denseLimit = 1 << 22
    private var dense: [String?] = []
    private var sparse: [Int32: String] = [:]

    subscript(id: Int32) -> String? {
        get {
            if id >= 0, Int(id) < dense.count { return dense[Int(id)] }
            return id >= 0 && Int(id) < Self.denseLimit ? nil : sparse[id]
        }
        set {
            guard id >= 0, Int(id) < Self.denseLimit else {
                sparse[id] = newValue
                return
            }
            if Int(id) >= dense.count {
                guard newValue != nil else { return }
                dense.append(contentsOf: repeatElement(nil, count: Int(id) + 1 - dense.count))
            }
            dense[Int(id)] = newValue
        }
    }

    /// Adds `new`, keeping the texts already held.
    mutating func merge(_ new: [Int32: String]) {
        for (id, text) in new where self[id] == nil { self[id] = text }
    }
}

final class RunTokenTexts: @unchecked Sendable {
    /// A run as `run_tokens` knows it.
    struct Key: Hashable {
        var runID: Int64
        var createdAt: String
    }

    private let lock = NSLock()
    private var texts: [Key: TokenTable] = [:]

    /// The texts held for `key` (nil when none were read yet).
    func snapshot(_ key: Key) -> TokenTable? {
        lock.lock()
        defer { lock.unlock() }
        return texts[key]
    }

    /// Replaces what is held for `key` with a full read of its table.
    func replace(_ key: Key, with all: TokenTable) {
        lock.lock()
        defer { lock.unlock() }
        texts[key] = all
    }

    /// Adds texts just committed for `key` (ignored when nothing is held for it yet).
    func merge(_ key: Key, _ new: [Int32: String]) {
        guard !new.isEmpty else { return }
        lock.lock()
        defer { lock.unlock() }
        guard texts[key] != nil else { return }
        texts[key]!.merge(new)
    }

    /// Drops what is held for a run (deleted).
    func forget(runID: Int64) {
        lock.lock()
        defer { lock.unlock() }
        texts = texts.filter { $0.key.runID != runID }
    }
}

extension RunStore {
    /// The `run_tokens` key of run `runID`, or nil when there is no such run.
    func tokenKey(runID: Int64, _ db: SQLiteConnection) throws -> RunTokenTexts.Key? {
        guard let createdAt = try db.scalar("SELECT created_at FROM runs WHERE id = ?", [runID]).flatMap(String.init(sqliteValue:))
        else { return nil }
        return RunTokenTexts.Key(runID: runID, createdAt: createdAt)
    }

    /// The `run_tokens` key of the run unit `unitID` belongs to, or nil when there is no such unit.
    func tokenKey(unitID: Int64, _ db: SQLiteConnection) throws -> RunTokenTexts.Key? {
        let rows = try db.query("SELECT r.id, r.created_at FROM units u JOIN runs r ON r.id = u.run_id WHERE u.id = ?", [unitID])
        guard let row = rows.first, let id = row.int64("id"), let createdAt = row.string("created_at") else { return nil }
        return RunTokenTexts.Key(runID: id, createdAt: createdAt)
    }

    /// The token texts of a run that hold every id of `ids` if the table has them: the held
    /// ones, or (nothing held, or a miss) a fresh read of the run's whole `run_tokens`, kept when `keep`.
    func tokenTexts(_ key: RunTokenTexts.Key, covering ids: some Sequence<Int32>, keep: Bool, _ db: SQLiteConnection) throws
        -> TokenTable
    {
        if let held = tokenTexts.snapshot(key), ids.allSatisfy({ held[$0] != nil }) { return held }
        // A full read, not just the missing ids: a run's table is at most its vocabulary.
        let statement = try db.prepare("SELECT token_id, text FROM run_tokens WHERE run_id = ?")
        try statement.bind([key.runID])
        var all = TokenTable()
        while try statement.step() {
            guard let id = Int32(exactly: statement.int64(at: 0)) else { continue }
            all[id] = statement.string(at: 1)
        }
        if keep { tokenTexts.replace(key, with: all) }
        return all
    }

    /// Decodes example rows (`SELECT * FROM examples …`) of one run: the blob columns of v13 rows,
    /// the JSON columns of older ones, token strings from `tokens_json` or else `run_tokens`.
    ///
    /// - Throws: ``AutoInterpError/database(_:_:)`` naming the column and example for a damaged
    ///   row, or a token id without a text.
    func exampleRecords(_ rows: [SQLiteRow], key: RunTokenTexts.Key?, keep: Bool, _ db: SQLiteConnection) throws -> [ExampleRecord] {
        struct Partial {
            var row: SQLiteRow
            var ids: [Int32]
            var tokens: [String]?
        }
        var partials: [Partial] = []
        partials.reserveCapacity(rows.count)
        var wanted = Set<Int32>()
        for row in rows {
            let id = row.int64("id") ?? 0
            let ids: [Int32]
            if case .blob(let data) = row["token_ids"] {
                ids = try ExampleBlob.int32s(data, column: "examples.token_ids", example: id, path: path)
            } else {
                ids = try StoreFormat.decode([Int32].self, row.string("token_ids_json"), column: "examples.token_ids_json", path: path)
            }
            var tokens: [String]?
            if !row["tokens_json"].isNull {
                tokens = try StoreFormat.decode([String].self, row.string("tokens_json"), column: "examples.tokens_json", path: path)
            } else {
                wanted.formUnion(ids)
            }
            partials.append(Partial(row: row, ids: ids, tokens: tokens))
        }
        var texts = TokenTable()
        if !wanted.isEmpty {
            guard let key else {
                throw AutoInterpError.database(path, "examples without token strings belong to no run (was the row edited by hand?)")
            }
            texts = try tokenTexts(key, covering: wanted, keep: keep, db)
        }
        return try partials.map { partial in
            let row = partial.row
            let id = row.int64("id") ?? 0
            let tokens = try partial.tokens ?? partial.ids.map { token in
                guard let text = texts[token] else {
                    throw AutoInterpError.database(
                        path, "token id \(token) of example \(id) has no text in run_tokens (was the table edited by hand?)")
                }
                return text
            }
            let activations: [Float]
            if case .blob(let data) = row["acts"] {
                activations = try ExampleBlob.floats(data, column: "examples.acts", example: id, path: path)
            } else {
                activations = try StoreFormat.decode([Float].self, row.string("acts_json"), column: "examples.acts_json", path: path)
            }
            return try exampleRecord(row, tokenIDs: partial.ids, tokens: tokens, activations: activations)
        }
    }
}
