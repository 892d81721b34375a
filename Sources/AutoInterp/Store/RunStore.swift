import AutoInterpLLM
public import Foundation

/// The run database, `results/<run>/autointerp.sqlite`: everything a run learns, in one file.
///
/// Opening creates the file (and its folders) and brings the schema up to date. The schema is
/// the user-facing contract of DESIGN.md ("The run database"); see `RunStore+Schema.swift`.
/// Every write that touches more than one row runs in one transaction, so a crash never
/// leaves half a unit, half a simulation batch or half a score set.
///
/// Safe to share between tasks: all calls go through one locked ``SQLiteDatabase``.
public final class RunStore: Sendable {
    /// The underlying connection: the store's own queries, and tests of the schema.
    package let database: SQLiteDatabase
    /// The `run_tokens` texts this store has read or written, by run (see `RunStore+Tokens.swift`).
    let tokenTexts = RunTokenTexts()

    /// The database file path.
    public var path: String { database.path }

    /// Opens or creates the run database at `url` and migrates it to the current schema.
    ///
    /// - Parameter url: the file URL, usually `results/<run>/autointerp.sqlite`.
    /// - Throws: ``AutoInterpError`` naming the file when it cannot be opened, is not a
    ///   database, or was written by a newer schema.
    public init(url: URL) throws {
        database = try SQLiteDatabase(url: url)
        try database.migrate(Self.migrations)
    }

    /// Wraps an already opened, up-to-date database (see `RunStore+ReadOnly.swift`).
    init(database: SQLiteDatabase) {
        self.database = database
    }

    /// The schema version this build writes.
    public static var schemaVersion: Int { migrations.count }

    // MARK: - Runs

    /// Creates a run named `name` with its configuration.
    ///
    /// - Parameters:
    ///   - name: unique within the database.
    ///   - configJSON: the run configuration as JSON text; stored as given and hashed
    ///     (hex SHA-256 of its UTF-8) into `config_hash`.
    /// - Throws: ``AutoInterpError`` when the name is taken or `configJSON` is not JSON.
    @discardableResult
    public func createRun(name: String, configJSON: String) throws -> RunInfo {
        guard (try? JSONSerialization.jsonObject(with: Data(configJSON.utf8), options: .fragmentsAllowed)) != nil
        else {
            throw AutoInterpError.invalidInput("config for run '\(name)' is not valid JSON (\(path))")
        }
        let createdAt = Date()
        let hash = SHA256.hex(configJSON)
        return try database.transaction { db in
            if try db.scalar("SELECT id FROM runs WHERE name = ?", [name]) != nil {
                throw AutoInterpError.invalidInput(
                    "run '\(name)' already exists in \(path) (resume it or choose another run name)")
            }
            try db.run(
                "INSERT INTO runs (name, created_at, config_json, config_hash, status) VALUES (?, ?, ?, ?, ?)",
                [name, StoreFormat.string(from: createdAt), configJSON, hash, RunStatus.created.rawValue])
            return RunInfo(
                id: db.lastInsertRowID, name: name, createdAt: StoreFormat.roundTrip(createdAt),
                configJSON: configJSON, configHash: hash, status: .created)
        }
    }

    /// Deletes a run and everything recorded under it (units, examples, explanations, scores, ratings).
    ///
    /// The LLM cache and call log are kept: they are keyed by request, not by run.
    public func deleteRun(id: Int64) throws {
        try database.transaction { db in
            _ = try db.run("DELETE FROM runs WHERE id = ?", [id])
        }
        tokenTexts.forget(runID: id)
    }

    /// The run named `name`, or nil.
    public func run(named name: String) throws -> RunInfo? {
        try database.query("SELECT * FROM runs WHERE name = ?", [name]).first.map(runInfo)
    }

    /// The run with id `id`, or nil.
    public func run(id: Int64) throws -> RunInfo? {
        try database.query("SELECT * FROM runs WHERE id = ?", [id]).first.map(runInfo)
    }

    /// Every run, oldest first.
    public func runs() throws -> [RunInfo] {
        try database.query("SELECT * FROM runs ORDER BY id").map(runInfo)
    }

    /// Replaces a run's config (a run made by `select` gains its stage settings on the first
    /// `run`) and returns the updated row.
    @discardableResult
    public func updateConfig(runID: Int64, configJSON: String) throws -> RunInfo {
        let changed = try database.run(
            "UPDATE runs SET config_json = ?, config_hash = ? WHERE id = ?", [configJSON, SHA256.hex(configJSON), runID])
        guard changed == 1, let run = try run(id: runID) else { throw AutoInterpError.invalidInput("no run with id \(runID) in \(path)") }
        return run
    }

    /// Sets a run's status.
    public func setStatus(runID: Int64, _ status: RunStatus) throws {
        let changed = try database.run("UPDATE runs SET status = ? WHERE id = ?", [status.rawValue, runID])
        guard changed == 1 else { throw AutoInterpError.invalidInput("no run with id \(runID) in \(path)") }
    }

    private func runInfo(_ row: SQLiteRow) throws -> RunInfo {
        RunInfo(
            id: row.int64("id") ?? 0, name: row.string("name") ?? "",
            createdAt: try StoreFormat.date(row.string("created_at"), path: path),
            configJSON: row.string("config_json") ?? "", configHash: row.string("config_hash") ?? "",
            status: RunStatus(stored: row.string("status") ?? ""))
    }
}

// MARK: - Formats

/// How values are written into TEXT columns: JSON arrays and ISO-8601 dates.
enum StoreFormat {
    /// ISO-8601 in UTC with milliseconds, e.g. `2026-11-21T13:42:29.123Z`.
    static let dateStyle = Date.ISO8601FormatStyle(includingFractionalSeconds: true)

    static func string(from date: Date) -> String { date.formatted(dateStyle) }

    /// `date` as it reads back after storing (milliseconds kept).
    static func roundTrip(_ date: Date) -> Date { (try? dateStyle.parse(string(from: date))) ?? date }

    static func date(_ text: String?, path: String) throws -> Date {
        guard let text else { throw AutoInterpError.database(path, "missing timestamp (the file may be damaged)") }
        if let date = try? dateStyle.parse(text) { return date }
        if let date = try? Date.ISO8601FormatStyle().parse(text) { return date }
        throw AutoInterpError.database(path, "bad timestamp '\(text)' (expected ISO-8601; was the row edited by hand?)")
    }

    /// Compact JSON with sorted keys (one text per value: a keyed container's order differs from one
    /// process to the next, and two runs must store byte-identical rows, e.g. `units.histogram_json`);
    /// non-finite numbers as the strings "NaN", "Infinity", "-Infinity".
    static func json(_ value: some Encodable) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.nonConformingFloatEncodingStrategy = .convertToString(
            positiveInfinity: "Infinity", negativeInfinity: "-Infinity", nan: "NaN")
        return String(decoding: try encoder.encode(value), as: UTF8.self)
    }

    /// Fast path for activations: shortest round-trip decimal per value, same output format.
    static func json(_ values: [Float]) -> String {
        numbers(values.lazy.map { $0.isFinite ? $0.description : nonFinite(Double($0)) })
    }

    /// Fast path for predictions.
    static func json(_ values: [Double]) -> String {
        numbers(values.lazy.map { $0.isFinite ? $0.description : nonFinite($0) })
    }

    /// Fast path for token ids.
    static func json(_ values: [Int32]) -> String {
        numbers(values.lazy.map { $0.description })
    }

    private static func numbers(_ items: some Sequence<String>) -> String {
        "[" + items.joined(separator: ",") + "]"
    }

    private static func nonFinite(_ value: Double) -> String {
        value.isNaN ? "\"NaN\"" : value > 0 ? "\"Infinity\"" : "\"-Infinity\""
    }

    static func decode<T: Decodable>(_ type: T.Type, _ text: String?, column: String, path: String) throws -> T {
        let decoder = JSONDecoder()
        decoder.nonConformingFloatDecodingStrategy = .convertFromString(
            positiveInfinity: "Infinity", negativeInfinity: "-Infinity", nan: "NaN")
        do {
            return try decoder.decode(T.self, from: Data((text ?? "null").utf8))
        } catch {
            throw AutoInterpError.database(
                path, "column \(column) does not hold the expected JSON (was the row edited by hand?)")
        }
    }
}
