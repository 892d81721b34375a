internal import CSQLite
package import Foundation

/// One SQLite connection shared safely between threads and tasks.
///
/// Every call takes an internal recursive lock, so all access to the one connection is
/// serialised; a closure given to ``transaction(_:)`` or ``withConnection(_:)`` runs with the
/// lock held and gets a ``SQLiteConnection`` to work with. The database is opened in WAL mode
/// with `synchronous=NORMAL`, foreign keys on and a 10 s busy timeout, so several processes
/// may share the file.
///
/// Errors are ``AutoInterpError/database(_:_:)`` naming the file:
/// `"<path>: <sqlite message> (<what to check>)"`.
package final class SQLiteDatabase: Sendable {
    /// The database file path.
    package let path: String

    /// Serialises all use of `handle` and `transactionDepth`; recursive so that a closure
    /// running under the lock may call the database again on the same thread.
    private let lock = NSRecursiveLock()
    // Only touched while `lock` is held.
    nonisolated(unsafe) private let handle: OpaquePointer
    nonisolated(unsafe) private var transactionDepth = 0

    /// Opens or creates the database at `url`, creating missing parent folders.
    ///
    /// - Parameter url: a file URL.
    /// - Throws: ``AutoInterpError`` when the folder cannot be created or SQLite cannot
    ///   open the file.
    public convenience init(url: URL) throws {
        try self.init(path: url.path)
    }

    /// Opens or creates the database at `path`, creating missing parent folders.
    ///
    /// - Throws: ``AutoInterpError`` when the folder cannot be created or SQLite cannot
    ///   open the file.
    package init(path: String) throws {
        self.path = path
        let folder = (path as NSString).deletingLastPathComponent
        if !folder.isEmpty {
            do {
                try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            } catch {
                throw AutoInterpError.database(
                    path, "cannot create folder \(folder) (check permissions and that no file has that name)")
            }
        }
        var db: OpaquePointer?
        let flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX
        let rc = sqlite3_open_v2(path, &db, flags, nil)
        guard rc == SQLITE_OK, let db else {
            let message = db.map { String(cString: sqlite3_errmsg($0)) } ?? "out of memory"
            if let db { sqlite3_close_v2(db) }
            throw Self.error(path: path, code: rc, message: message, sql: nil)
        }
        handle = db
        sqlite3_extended_result_codes(db, 1)
        sqlite3_busy_timeout(db, 10_000)
        do {
            try SQLiteConnection(handle: db, path: path).execute(
                "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;")
        } catch {
            sqlite3_close_v2(db)
            throw error
        }
    }

    /// Wraps a connection opened elsewhere (the read-only path, `SQLiteDatabase+ReadOnly.swift`).
    init(path: String, openHandle: OpaquePointer) {
        self.path = path
        handle = openHandle
    }

    deinit {
        sqlite3_close_v2(handle)
    }

    // MARK: - Access

    /// Runs `body` with the lock held, outside any transaction this call opens.
    ///
    /// Use it to prepare a statement once and step it many times, or to read
    /// ``SQLiteConnection/lastInsertRowID`` right after an insert. Do not keep the connection
    /// or its statements after `body` returns.
    package func withConnection<T>(_ body: (SQLiteConnection) throws -> T) rethrows -> T {
        lock.lock()
        defer { lock.unlock() }
        return try body(SQLiteConnection(handle: handle, path: path))
    }

    /// Runs `body` in one transaction: `BEGIN IMMEDIATE` … `COMMIT`, or `ROLLBACK` if it throws.
    ///
    /// Nested calls (from inside `body`, same thread) become savepoints, so an inner throw
    /// undoes only the inner work if the outer body catches it.
    ///
    /// - Returns: what `body` returns.
    /// - Throws: what `body` throws (after rolling back), or a database error from
    ///   `BEGIN` or `COMMIT`.
    package func transaction<T>(_ body: (SQLiteConnection) throws -> T) throws -> T {
        lock.lock()
        defer { lock.unlock() }
        let connection = SQLiteConnection(handle: handle, path: path)
        let depth = transactionDepth
        let savepoint = "autointerp_sp\(depth)"
        try connection.execute(depth == 0 ? "BEGIN IMMEDIATE" : "SAVEPOINT \(savepoint)")
        transactionDepth += 1
        let result: T
        do {
            result = try body(connection)
        } catch {
            transactionDepth -= 1
            // The rollback's own failure would hide the cause; the cause is what matters.
            try? connection.execute(depth == 0 ? "ROLLBACK" : "ROLLBACK TO \(savepoint); RELEASE \(savepoint)")
            throw error
        }
        transactionDepth -= 1
        do {
            try connection.execute(depth == 0 ? "COMMIT" : "RELEASE \(savepoint)")
        } catch {
            if depth == 0 { try? connection.execute("ROLLBACK") }
            throw error
        }
        return result
    }

    // MARK: - Shortcuts

    /// Runs a script of one or more statements without arguments.
    package func execute(_ sql: String) throws {
        try withConnection { try $0.execute(sql) }
    }

    /// Runs one statement with arguments and returns the number of rows it changed.
    @discardableResult
    package func run(_ sql: String, _ arguments: [any SQLiteValueConvertible] = []) throws -> Int {
        try withConnection { try $0.run(sql, arguments) }
    }

    /// Runs one statement with arguments and returns every row.
    package func query(_ sql: String, _ arguments: [any SQLiteValueConvertible] = []) throws -> [SQLiteRow] {
        try withConnection { try $0.query(sql, arguments) }
    }

    /// The first column of the first row, or nil when there is no row.
    package func scalar(_ sql: String, _ arguments: [any SQLiteValueConvertible] = []) throws -> SQLiteValue? {
        try withConnection { try $0.scalar(sql, arguments) }
    }

    /// The rowid of the most recent successful insert on this connection.
    ///
    /// Other threads may insert in between; read it inside ``withConnection(_:)`` or
    /// ``transaction(_:)`` for a reliable answer.
    package var lastInsertRowID: Int64 { withConnection { $0.lastInsertRowID } }

    /// Rows changed by the most recent statement on this connection (see ``lastInsertRowID``).
    package var changes: Int { withConnection { $0.changes } }

    /// True while a transaction is open on the connection (inside a ``transaction(_:)`` body on
    /// this thread; another thread's transaction makes the call wait until it ends).
    package var inTransaction: Bool { withConnection { $0.inTransaction } }

    /// `PRAGMA user_version`: the schema version ``migrate(_:)`` has reached.
    package func userVersion() throws -> Int {
        try withConnection { try $0.userVersion() }
    }

    // MARK: - Migrations

    /// Brings the schema up to the last migration, each step in its own transaction.
    ///
    /// The schema version is `PRAGMA user_version`; migration `n` (1-based, in order) runs
    /// when the version is below `n` and sets it to `n` in the same transaction, so a crash
    /// leaves either the old or the new version, and reopening never re-runs a step.
    ///
    /// - Returns: how many migrations ran.
    /// - Throws: when versions are not `1...n` in order, when the file was written by a newer
    ///   schema, or when a step fails (that step is rolled back).
    @discardableResult
    package func migrate(_ migrations: [SQLiteMigration]) throws -> Int {
        for (offset, migration) in migrations.enumerated() where migration.version != offset + 1 {
            throw AutoInterpError.database(
                path,
                "migration \(migration.name) has version \(migration.version), expected \(offset + 1)"
                    + " (migrations must be numbered 1, 2, 3… in order)"
            )
        }
        let current = try userVersion()
        if current > migrations.count {
            throw AutoInterpError.database(
                path,
                "schema version \(current) is newer than this build knows (\(migrations.count))"
                    + " (use a newer autointerp or another run folder)"
            )
        }
        var applied = 0
        for migration in migrations where migration.version > current {
            // A table rebuild drops a parent table: with foreign keys on, that would cascade into its
            // children. The pragma is a no-op inside a transaction, so it is set around this step's.
            if migration.foreignKeysOff { try execute("PRAGMA foreign_keys=OFF") }
            defer { if migration.foreignKeysOff { try? execute("PRAGMA foreign_keys=ON") } }
            let ran = try transaction { connection -> Bool in
                // Another process may have migrated while we waited for the write lock.
                guard try connection.userVersion() < migration.version else { return false }
                do {
                    try migration.body(connection)
                    if migration.foreignKeysOff, let broken = try connection.query("PRAGMA foreign_key_check").first {
                        throw AutoInterpError.database(
                            path, "a row of \(broken.string("table") ?? "?") points at a missing \(broken.string("parent") ?? "?") row")
                    }
                } catch let error as AutoInterpError {
                    let prefix = "\(path): "
                    let detail =
                        error.message.hasPrefix(prefix) ? String(error.message.dropFirst(prefix.count)) : error.message
                    throw AutoInterpError.database(
                        path, "migration \(migration.version) (\(migration.name)) failed: \(detail)")
                }
                try connection.execute("PRAGMA user_version = \(migration.version)")
                return true
            }
            if ran { applied += 1 }
        }
        return applied
    }

    // MARK: - Errors

    static func error(path: String, code: Int32, message: String, sql: String?) -> AutoInterpError {
        .database(path, "\(message) (\(hint(code: code, sql: sql)))")
    }

    /// What the user should check for a result code.
    static func hint(code: Int32, sql: String?) -> String {
        let snippet = sql.map { s -> String in
            let flat = s.split(whereSeparator: \.isWhitespace).joined(separator: " ")
            return flat.count > 80 ? String(flat.prefix(77)) + "..." : flat
        }
        switch code & 0xff {
        case SQLITE_BUSY, SQLITE_LOCKED:
            return "another process holds the database; wait for it to finish or stop it"
        case SQLITE_CANTOPEN:
            return "check that the folder exists and is writable"
        case SQLITE_READONLY, SQLITE_PERM, SQLITE_AUTH:
            return "check the file's permissions and that the disk is writable"
        case SQLITE_CORRUPT, SQLITE_NOTADB:
            return "the file is not a valid autointerp database; move it away or choose another run folder"
        case SQLITE_FULL, SQLITE_IOERR:
            return "check free disk space and the file system"
        case SQLITE_CONSTRAINT:
            return "a value breaks the schema's rules in: \(snippet ?? "?")"
        case SQLITE_NOMEM:
            return "out of memory"
        default:
            return snippet.map { "check the statement: \($0)" } ?? "check the database file"
        }
    }
}

// MARK: - Migration

/// One schema step for ``SQLiteDatabase/migrate(_:)``.
package struct SQLiteMigration: Sendable {
    /// 1-based position; the `user_version` after the step.
    package var version: Int
    /// A short name for messages.
    package var name: String
    /// The work, run inside the step's transaction.
    package var body: @Sendable (SQLiteConnection) throws -> Void
    /// Runs with `PRAGMA foreign_keys=OFF` (a table rebuild: `DROP TABLE` of a parent would
    /// otherwise delete its children's rows), checked with `PRAGMA foreign_key_check` before commit.
    package var foreignKeysOff: Bool

    /// A step that runs `body`.
    package init(
        version: Int, name: String, foreignKeysOff: Bool = false, body: @escaping @Sendable (SQLiteConnection) throws -> Void
    ) {
        self.version = version
        self.name = name
        self.foreignKeysOff = foreignKeysOff
        self.body = body
    }

    /// A step that runs an SQL script.
    package init(version: Int, name: String, foreignKeysOff: Bool = false, sql: String) {
        self.init(version: version, name: name, foreignKeysOff: foreignKeysOff) { try $0.execute(sql) }
    }
}

// MARK: - Connection

/// The locked connection handed to ``SQLiteDatabase`` closures. Valid only inside the closure.
package struct SQLiteConnection {
    let handle: OpaquePointer
    /// The database file path (for messages).
    package let path: String

    init(handle: OpaquePointer, path: String) {
        self.handle = handle
        self.path = path
    }

    /// Runs a script of one or more statements without arguments.
    package func execute(_ sql: String) throws {
        var errorMessage: UnsafeMutablePointer<CChar>?
        let rc = sqlite3_exec(handle, sql, nil, nil, &errorMessage)
        guard rc == SQLITE_OK else {
            let message = errorMessage.map { String(cString: $0) } ?? String(cString: sqlite3_errmsg(handle))
            sqlite3_free(errorMessage)
            throw SQLiteDatabase.error(path: path, code: rc, message: message, sql: sql)
        }
    }

    /// Compiles one statement.
    package func prepare(_ sql: String) throws -> SQLiteStatement {
        var statement: OpaquePointer?
        let rc = sqlite3_prepare_v2(handle, sql, -1, &statement, nil)
        guard rc == SQLITE_OK, let statement else {
            throw SQLiteDatabase.error(
                path: path, code: rc, message: String(cString: sqlite3_errmsg(handle)), sql: sql)
        }
        return SQLiteStatement(statement: statement, connection: self, sql: sql)
    }

    /// Runs one statement with arguments and returns the number of rows it changed.
    @discardableResult
    package func run(_ sql: String, _ arguments: [any SQLiteValueConvertible] = []) throws -> Int {
        try prepare(sql).run(arguments)
    }

    /// Runs one statement with arguments and returns every row.
    package func query(_ sql: String, _ arguments: [any SQLiteValueConvertible] = []) throws -> [SQLiteRow] {
        try prepare(sql).query(arguments)
    }

    /// The first column of the first row, or nil when there is no row.
    package func scalar(_ sql: String, _ arguments: [any SQLiteValueConvertible] = []) throws -> SQLiteValue? {
        let statement = try prepare(sql)
        try statement.bind(arguments)
        guard try statement.step() else { return nil }
        return statement.value(at: 0)
    }

    /// The rowid of the most recent successful insert.
    package var lastInsertRowID: Int64 { sqlite3_last_insert_rowid(handle) }

    /// True while a transaction is open (SQLite is not in autocommit mode).
    package var inTransaction: Bool { sqlite3_get_autocommit(handle) == 0 }

    /// Rows changed by the most recent INSERT, UPDATE or DELETE.
    package var changes: Int { Int(sqlite3_changes(handle)) }

    /// `PRAGMA user_version`.
    package func userVersion() throws -> Int {
        Int(sqliteValue: try scalar("PRAGMA user_version") ?? .null) ?? 0
    }

    func error(code: Int32, sql: String?) -> AutoInterpError {
        SQLiteDatabase.error(path: path, code: code, message: String(cString: sqlite3_errmsg(handle)), sql: sql)
    }
}

/// A connection is only valid inside the closure that received it, on that closure's thread.
@available(*, unavailable)
extension SQLiteConnection: Sendable {}

// MARK: - Statement

/// A compiled statement: bind, step, read typed columns, reset, step again.
///
/// Valid only inside the ``SQLiteDatabase`` closure that prepared it.
package final class SQLiteStatement {
    private let statement: OpaquePointer
    private let connection: SQLiteConnection
    /// The statement's SQL text.
    package let sql: String

    init(statement: OpaquePointer, connection: SQLiteConnection, sql: String) {
        self.statement = statement
        self.connection = connection
        self.sql = sql
    }

    deinit {
        sqlite3_finalize(statement)
    }

    // MARK: Binding

    /// Resets the statement and binds `arguments` to parameters 1...n.
    package func bind(_ arguments: [any SQLiteValueConvertible]) throws {
        sqlite3_reset(statement)
        sqlite3_clear_bindings(statement)
        let expected = Int(sqlite3_bind_parameter_count(statement))
        guard arguments.count == expected else {
            throw AutoInterpError.database(
                connection.path,
                "statement takes \(expected) arguments, got \(arguments.count)"
                    + " (bug: check the call of \(sql.prefix(60)))"
            )
        }
        for (offset, argument) in arguments.enumerated() {
            try bind(argument.sqliteValue, at: offset + 1)
        }
    }

    /// Binds one value to the 1-based parameter `index`.
    package func bind(_ value: SQLiteValue, at index: Int) throws {
        let i = Int32(index)
        let rc: Int32
        switch value {
        case .null:
            rc = sqlite3_bind_null(statement, i)
        case .integer(let v):
            rc = sqlite3_bind_int64(statement, i, v)
        case .real(let v):
            rc = sqlite3_bind_double(statement, i, v)
        case .text(var v):
            // Explicit byte length keeps embedded NULs; an empty string must still bind '' not NULL.
            if v.isEmpty {
                rc = sqlite3_bind_text(statement, i, "", 0, csqlite_transient())
            } else {
                rc = v.withUTF8 { bytes in
                    bytes.withMemoryRebound(to: CChar.self) { chars in
                        sqlite3_bind_text(statement, i, chars.baseAddress, Int32(chars.count), csqlite_transient())
                    }
                }
            }
        case .blob(let v):
            if v.isEmpty {
                rc = sqlite3_bind_zeroblob(statement, i, 0)
            } else {
                rc = v.withUnsafeBytes { bytes in
                    sqlite3_bind_blob(statement, i, bytes.baseAddress, Int32(bytes.count), csqlite_transient())
                }
            }
        }
        guard rc == SQLITE_OK else { throw connection.error(code: rc, sql: sql) }
    }

    // MARK: Stepping

    /// Advances to the next row: true when a row is ready, false when done.
    package func step() throws -> Bool {
        switch sqlite3_step(statement) {
        case SQLITE_ROW: return true
        case SQLITE_DONE: return false
        case let rc:
            // sqlite3_reset returns the same error and frees the statement for the next use.
            sqlite3_reset(statement)
            throw connection.error(code: rc, sql: sql)
        }
    }

    /// Binds `arguments`, steps to the end and returns the number of rows changed.
    @discardableResult
    package func run(_ arguments: [any SQLiteValueConvertible] = []) throws -> Int {
        try bind(arguments)
        while try step() {}
        return connection.changes
    }

    /// Binds `arguments` and collects every row.
    package func query(_ arguments: [any SQLiteValueConvertible] = []) throws -> [SQLiteRow] {
        try bind(arguments)
        let names = columnNames
        var rows: [SQLiteRow] = []
        while try step() {
            rows.append(SQLiteRow(columns: names, values: (0..<names.count).map(value(at:))))
        }
        return rows
    }

    // MARK: Columns

    /// Number of result columns.
    package var columnCount: Int { Int(sqlite3_column_count(statement)) }

    /// Result column names in order.
    package var columnNames: [String] {
        (0..<columnCount).map { String(cString: sqlite3_column_name(statement, Int32($0))) }
    }

    /// True when column `index` (0-based) of the current row is NULL.
    package func isNull(at index: Int) -> Bool {
        sqlite3_column_type(statement, Int32(index)) == SQLITE_NULL
    }

    /// Column `index` of the current row as stored.
    package func value(at index: Int) -> SQLiteValue {
        switch sqlite3_column_type(statement, Int32(index)) {
        case SQLITE_INTEGER: return .integer(int64(at: index))
        case SQLITE_FLOAT: return .real(double(at: index))
        case SQLITE_TEXT: return .text(string(at: index))
        case SQLITE_BLOB: return .blob(data(at: index))
        default: return .null
        }
    }

    package func int64(at index: Int) -> Int64 { sqlite3_column_int64(statement, Int32(index)) }
    package func int(at index: Int) -> Int { Int(int64(at: index)) }
    package func double(at index: Int) -> Double { sqlite3_column_double(statement, Int32(index)) }
    package func bool(at index: Int) -> Bool { int64(at: index) != 0 }

    /// Column `index` as text ("" for NULL); embedded NULs are kept.
    package func string(at index: Int) -> String {
        let i = Int32(index)
        guard let text = sqlite3_column_text(statement, i) else { return "" }
        let count = Int(sqlite3_column_bytes(statement, i))
        return String(decoding: UnsafeBufferPointer(start: text, count: count), as: UTF8.self)
    }

    /// Column `index` as bytes (empty for NULL).
    package func data(at index: Int) -> Data {
        let i = Int32(index)
        guard let bytes = sqlite3_column_blob(statement, i) else { return Data() }
        return Data(bytes: bytes, count: Int(sqlite3_column_bytes(statement, i)))
    }
}

/// A statement is only valid inside the closure that prepared it.
@available(*, unavailable)
extension SQLiteStatement: Sendable {}
