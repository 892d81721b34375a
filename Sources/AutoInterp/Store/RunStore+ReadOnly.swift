public import Foundation

extension RunStore {
    /// Opens an existing run database for reading (reports, exports, comparisons).
    ///
    /// Takes no run lock and writes nothing, so it works while a run is being written and on
    /// read-only media (see ``SQLiteDatabase/openReadOnly(url:)``). A database of an older schema
    /// is migrated first when its folder is writable; otherwise the error says how to upgrade it.
    ///
    /// - Throws: ``AutoInterpError`` naming the file when it is missing, not a database, or of
    ///   a schema this build cannot read without writing.
    public convenience init(readingAt url: URL) throws {
        let database = try SQLiteDatabase.openReadOnly(url: url)
        let version = try database.userVersion()
        if version == Self.schemaVersion {
            self.init(database: database)
        } else if version > Self.schemaVersion {
            throw AutoInterpError.database(
                url.path, "schema version \(version) is newer than this build knows (\(Self.schemaVersion)) (use a newer autointerp)")
        } else if access(url.deletingLastPathComponent().path, W_OK) == 0 {
            try self.init(url: url)
        } else {
            throw AutoInterpError.database(
                url.path,
                "schema version \(version) is older than this build's (\(Self.schemaVersion)) and the folder is read-only (copy the run folder somewhere writable and open it there once to upgrade it)"
            )
        }
    }
}
