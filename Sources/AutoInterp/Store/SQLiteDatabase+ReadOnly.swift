internal import CSQLite
import AutoInterpLLM
import Foundation

extension SQLiteDatabase {
    /// Opens an existing database for reading only: never creates, migrates or writes the file.
    ///
    /// When the folder holding the file is writable, the connection is an ordinary read-only
    /// one, so it sees what a live writer commits (WAL readers do not block writers). When it is
    /// not (read-only media, a folder without write permission), SQLite could not create the
    /// `-shm` file a WAL reader needs, so the file is opened with `immutable=1`: no locks, no side
    /// files, the committed content of the main file.
    ///
    /// - Parameter url: the database file.
    /// - Throws: ``AutoInterpError`` naming the file when it is missing, unreadable or not a database.
    static func openReadOnly(url: URL) throws -> SQLiteDatabase {
        let path = url.path
        guard FileManager.default.fileExists(atPath: path) else {
            throw AutoInterpError.database(path, "no such file (check the run name and \(Setting.results))")
        }
        let folder = (path as NSString).deletingLastPathComponent
        let immutable = access(folder.isEmpty ? "." : folder, W_OK) != 0
        var db: OpaquePointer?
        let rc: Int32
        if immutable {
            rc = sqlite3_open_v2(Self.immutableURI(path), &db, SQLITE_OPEN_READONLY | SQLITE_OPEN_URI | SQLITE_OPEN_NOMUTEX, nil)
        } else {
            rc = sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, nil)
        }
        guard rc == SQLITE_OK, let db else {
            let message = db.map { String(cString: sqlite3_errmsg($0)) } ?? "out of memory"
            if let db { sqlite3_close_v2(db) }
            throw Self.error(path: path, code: rc, message: message, sql: nil)
        }
        sqlite3_extended_result_codes(db, 1)
        sqlite3_busy_timeout(db, 10_000)
        let database = SQLiteDatabase(path: path, openHandle: db)
        // Reading the schema surfaces "not a database" here rather than at the first query.
        _ = try database.scalar("SELECT count(*) FROM sqlite_master")
        return database
    }

    /// `file:<path>?immutable=1` with the characters a URI path cannot hold escaped.
    static func immutableURI(_ path: String) -> String {
        var escaped = ""
        for character in path.unicodeScalars {
            switch character {
            case "%": escaped += "%25"
            case "?": escaped += "%3f"
            case "#": escaped += "%23"
            default: escaped.unicodeScalars.append(character)
            }
        }
        return "file:\(escaped)?immutable=1"
    }
}
