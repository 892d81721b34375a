import AutoInterpLLM
public import Foundation
public import Logging
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// MARK: - Merge

/// `autointerp merge --run R`: the finished shards of run R (`results/R/shards/<k>-of-<N>/`) as
/// one run database, `results/R/autointerp.sqlite`, equal to the run made without `--shard`
/// (same config hash, same rows); the next `run` without `--shard` then does the control pass.
///
/// Checks first, writes nothing on a refusal: every shard `k-of-N` present, finished (`done`, or
/// `selected` with nothing explained yet: a `select --shard`),
/// of this build's schema, holding run R only, no controls and no open batch; the same config apart from the
/// unit lists; units disjoint and together exactly the planned list (`shard.json`). Then every
/// row is copied into a temporary file with its INTEGER ids and foreign keys offset past the rows
/// already there (one transaction per shard), response caches are united (a hash answered
/// differently by two shards keeps the first answer, counted as a conflict), the file is checked
/// (`foreign_key_check`, `integrity_check`), synced and renamed into place.
public struct ShardMerge {
    /// What a merge did.
    public struct Outcome: Sendable {
        public var shards: Int
        public var units: Int
        /// Cached answers under one hash that differed between shards (the first was kept).
        public var cacheConflicts: Int
        public var database: URL
        public var configHash: String
    }

    public var logger: Logger

    public init(logger: Logger? = nil) {
        self.logger = logger ?? .silent
    }

    /// Merges the shards of run `name` in `resultsFolder`.
    ///
    /// - Throws: ``AutoInterpError`` naming what is wrong and what to do; nothing is written then.
    public func merge(run name: String, resultsFolder: URL) throws -> Outcome {
        guard !name.isEmpty, !name.contains("/"), name != ".", name != ".." else {
            throw AutoInterpError.invalidInput("run name '\(name)' must be a plain folder name (no '/')")
        }
        let runFolder = resultsFolder.appendingPathComponent(name, isDirectory: true)
        let target = runFolder.appendingPathComponent("autointerp.sqlite")
        let shards = try Self.findShards(runFolder: runFolder, name: name)
        try RunLock.acquire(runFolder: runFolder, name: name)
        if FileManager.default.fileExists(atPath: target.path) {
            let existing = try RunStore(readingAt: target)
            if try existing.run(named: name) != nil {
                throw AutoInterpError.invalidInput(
                    "run '\(name)' already has a database at \(target.path) (merged before, or run without \(Setting.shard)): remove it to merge again")
            }
        }

        // Read and check every shard before writing anything.
        var loaded: [LoadedShard] = []
        for (shard, folder) in shards { loaded.append(try LoadedShard(shard: shard, folder: folder, name: name)) }
        try Self.checkConfigs(loaded, name: name)
        let plan = loaded[0].plan
        var seen: [UnitRef: RunShard] = [:]
        for shard in loaded {
            guard shard.plan.planSHA256 == plan.planSHA256, shard.plan.plannedUnits == plan.plannedUnits else {
                throw AutoInterpError.invalidInput(
                    "shard \(shard.shard.folderName) of run '\(name)' is a slice of another unit plan than shard \(loaded[0].shard.folderName) (other \(Setting.features)/\(Setting.neurons) or seed): rerun it with the same options")
            }
            for unit in shard.units {
                if let other = seen.updateValue(shard.shard, forKey: unit) {
                    throw AutoInterpError.invalidInput(
                        "shards \(other.folderName) and \(shard.shard.folderName) of run '\(name)' both hold \(unit): shards must be disjoint; rerun the wrong one with its own \(Setting.shard) k/N")
                }
            }
        }
        let union = Array(seen.keys).sorted()
        guard union.count == plan.plannedUnits, ShardPlan.hash(union) == plan.planSHA256 else {
            throw AutoInterpError.invalidInput(
                "the shards of run '\(name)' hold \(union.count) units, but the plan has \(plan.plannedUnits): a shard is missing units; rerun the unfinished shard")
        }

        var config = loaded[0].config
        config.setUnits(union)
        let configJSON = try config.canonicalJSON()

        let temporary = runFolder.appendingPathComponent("autointerp.sqlite.merging")
        Self.removeDatabaseFiles(temporary)
        let conflicts: Int
        do {
            conflicts = try Self.write(loaded, name: name, configJSON: configJSON, to: temporary)
            try Self.sync(temporary.path)
            if FileManager.default.fileExists(atPath: target.path) { Self.removeDatabaseFiles(target) }
            guard rename(temporary.path, target.path) == 0 else {
                throw AutoInterpError.io(target.path, "cannot move the merged database into place (errno \(errno))")
            }
            try Self.sync(runFolder.path)
        } catch {
            Self.removeDatabaseFiles(temporary)
            throw error
        }
        if conflicts > 0 {
            logger.warning("\(conflicts) cached answers differed between shards; the first shard's answer was kept")
        }
        return Outcome(
            shards: loaded.count, units: union.count, cacheConflicts: conflicts, database: target, configHash: SHA256.hex(configJSON))
    }

    // MARK: - Finding and checking

    /// The shard folders `k-of-N`, all of one N, every k present, in k order.
    private static func findShards(runFolder: URL, name: String) throws -> [(RunShard, URL)] {
        let folder = runFolder.appendingPathComponent("shards", isDirectory: true)
        let names = (try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []
        let shards = names.compactMap { RunShard.parse(folderName: $0) }.sorted { $0.index < $1.index }
        guard let first = shards.first else {
            throw AutoInterpError.invalidInput(
                "run '\(name)' has no shards in \(folder.path): run it with \(Setting.shard) k/N first (or check \(Setting.results) and \(Setting.run))")
        }
        if let other = shards.first(where: { $0.count != first.count }) {
            throw AutoInterpError.invalidInput(
                "run '\(name)' has shards of different counts (\(first.folderName) and \(other.folderName)) in \(folder.path): remove the folders of the old split")
        }
        let present = Set(shards.map(\.index))
        if let missing = (0..<first.count).first(where: { !present.contains($0) }) {
            throw AutoInterpError.invalidInput(
                "shard \(missing)-of-\(first.count) of run '\(name)' is missing in \(folder.path): run it (\(Setting.shard) \(missing)/\(first.count)) before merging")
        }
        return shards.map { ($0, folder.appendingPathComponent($0.folderName, isDirectory: true)) }
    }

    /// One shard's database, read and checked.
    private struct LoadedShard {
        var shard: RunShard
        var database: URL
        var plan: ShardPlan
        var config: RunConfig
        var units: [UnitRef]

        init(shard: RunShard, folder: URL, name: String) throws {
            self.shard = shard
            database = folder.appendingPathComponent("autointerp.sqlite")
            let label = "shard \(shard.folderName) of run '\(name)'"
            guard FileManager.default.fileExists(atPath: database.path) else {
                throw AutoInterpError.invalidInput("\(label) has no database (\(database.path)): run it before merging")
            }
            plan = try ShardPlan.read(from: folder)
            guard plan.index == shard.index, plan.count == shard.count else {
                throw AutoInterpError.invalidFile(
                    folder.appendingPathComponent(ShardPlan.fileName).path, "written for shard \(plan.index)-of-\(plan.count), not \(shard.folderName)")
            }
            let store = try RunStore(readingAt: database)
            let version = try store.database.userVersion()
            guard version == RunStore.schemaVersion else {
                throw AutoInterpError.invalidInput(
                    "\(label) has schema version \(version), this build writes \(RunStore.schemaVersion): rerun the shard with this build (it resumes)")
            }
            let runs = try store.database.query("SELECT name, status FROM runs")
            guard runs.count == 1, let run = try store.run(named: name) else {
                throw AutoInterpError.invalidInput("\(label): \(database.path) should hold run '\(name)' only, found \(runs.compactMap { $0.string("name") })")
            }
            // `select --shard` (selection only, the LLM stages after the merge) leaves `selected`.
            let explained = Int(sqliteValue: try store.database.scalar("SELECT COUNT(*) FROM explanations") ?? .null) ?? 0
            guard run.status == .done || (run.status == .selected && explained == 0) else {
                throw AutoInterpError.invalidInput(
                    "\(label) is not finished (status \(run.status)): rerun it with the same command (it resumes), then merge")
            }
            let controls = Int(sqliteValue: try store.database.scalar(
                "SELECT COUNT(*) FROM explanations WHERE control_of IS NOT NULL OR explainer = 'control'") ?? .null) ?? 0
            guard controls == 0 else {
                throw AutoInterpError.invalidInput(
                    "\(label) holds \(controls) control explanations: controls are drawn over the whole run, after the merge; rerun the shard with \(Setting.shard) (which skips them) in a fresh folder")
            }
            let open = try store.batches().filter { !$0.isSettled }.count
            let waiting = try store.pendingCounts().filter { $0.key == "pending" || $0.key == "submitted" }.values.reduce(0, +)
            guard open == 0, waiting == 0 else {
                throw AutoInterpError.invalidInput(
                    "\(label) has \(open) open batch(es) and \(waiting) request(s) waiting for one: rerun the shard with the same command until its batches are in, then merge")
            }
            config = try RunConfig.decode(run.configJSON)
            units = try store.units(runID: run.id).map(\.unit)
        }
    }

    /// Refuses shards whose configs differ in anything but their unit lists.
    private static func checkConfigs(_ shards: [LoadedShard], name: String) throws {
        func stripped(_ config: RunConfig) throws -> [String: Any] {
            var config = config
            config.setUnits([])
            let json = try config.canonicalJSON()
            return (try? JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any]) ?? [:]
        }
        let first = try stripped(shards[0].config)
        for shard in shards.dropFirst() {
            let other = try stripped(shard.config)
            let keys = Set(first.keys).union(other.keys).sorted()
            func text(_ value: Any?) -> Data? {
                value.flatMap { try? JSONSerialization.data(withJSONObject: ["v": $0], options: [.sortedKeys]) }
            }
            var differing = keys.filter { text(first[$0]) != text(other[$0]) }
            if let a = shards[0].config.pipeline, let b = shard.config.pipeline {
                let named = b.differences(from: a)
                if !named.isEmpty { differing = differing.filter { $0 != "pipeline" } + named.map { "pipeline \($0)" } }
            }
            guard differing.isEmpty else {
                throw AutoInterpError.invalidInput(
                    "shard \(shard.shard.folderName) of run '\(name)' was run with another config than shard \(shards[0].shard.folderName) (\(differing.joined(separator: ", "))): rerun it with the same options")
            }
        }
    }

    // MARK: - Writing

    /// A table to copy: its columns, whether `id` is its INTEGER key, and its foreign keys.
    private struct Table {
        var name: String
        var columns: [String]
        var hasIntegerID: Bool
        /// Column → referenced table.
        var references: [String: String]
    }

    /// Writes the merged database to `url`; returns the cache conflicts.
    private static func write(_ shards: [LoadedShard], name: String, configJSON: String, to url: URL) throws -> Int {
        let store = try RunStore(url: url)
        let database = store.database
        let run = try store.createRun(name: name, configJSON: configJSON)
        let tables = try copiedTables(database)
        var conflicts = 0
        var earliest: String?
        for shard in shards {
            try database.run("ATTACH DATABASE ? AS shard", [shard.database.path])
            defer { try? database.execute("DETACH DATABASE shard") }
            try database.transaction { db in
                if let created = try db.scalar("SELECT created_at FROM shard.runs").flatMap(String.init(sqliteValue:)) {
                    earliest = min(earliest ?? created, created)
                }
                var offsets: [String: Int64] = [:]
                for table in tables where table.hasIntegerID {
                    let last = try db.scalar("SELECT COALESCE(MAX(id), 0) FROM main.\(table.name)")
                    offsets[table.name] = Int64(sqliteValue: last ?? .null) ?? 0
                }
                for table in tables {
                    let columns = table.columns.map { "\"\($0)\"" }.joined(separator: ", ")
                    guard table.hasIntegerID else {
                        // A keyed cache: keep the first answer; count the hashes answered differently.
                        if table.name == "llm_cache" {
                            conflicts += Int(sqliteValue: try db.scalar(
                                "SELECT COUNT(*) FROM shard.llm_cache s JOIN main.llm_cache m USING (request_hash) WHERE s.response IS NOT m.response")
                                ?? .null) ?? 0
                        }
                        // A row keyed by the run (`run_state`) belongs to the merged run; the first shard's is kept.
                        let values = table.columns.map { table.references[$0] == "runs" ? "\(run.id)" : "\"\($0)\"" }.joined(separator: ", ")
                        try db.run("INSERT OR IGNORE INTO main.\(table.name) (\(columns)) SELECT \(values) FROM shard.\(table.name)")
                        continue
                    }
                    let values = table.columns.map { column -> String in
                        if column == "id" { return "id + \(offsets[table.name] ?? 0)" }
                        guard let referenced = table.references[column] else { return "\"\(column)\"" }
                        if referenced == "runs" { return "\(run.id)" }
                        return "\"\(column)\" + \(offsets[referenced] ?? 0)"
                    }.joined(separator: ", ")
                    try db.run("INSERT INTO main.\(table.name) (\(columns)) SELECT \(values) FROM shard.\(table.name) ORDER BY id")
                }
            }
        }
        try database.run("UPDATE runs SET status = 'incomplete', created_at = COALESCE(?, created_at) WHERE id = ?", [earliest, run.id])
        let violations = try database.query("PRAGMA foreign_key_check")
        guard violations.isEmpty else {
            throw AutoInterpError.database(url.path, "the merged database has \(violations.count) foreign key violations (bug: report it)")
        }
        let integrity = try database.scalar("PRAGMA integrity_check").flatMap(String.init(sqliteValue:))
        guard integrity == "ok" else {
            throw AutoInterpError.database(url.path, "the merged database fails its integrity check: \(integrity ?? "no answer")")
        }
        try database.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        return conflicts
    }

    /// Every table but `runs`, parents before children.
    private static func copiedTables(_ database: SQLiteDatabase) throws -> [Table] {
        let names = try database.query("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")
            .compactMap { $0.string("name") }.filter { $0 != "runs" }
        var tables: [String: Table] = [:]
        for name in names {
            let info = try database.query("PRAGMA table_info(\"\(name)\")")
            let columns = info.compactMap { $0.string("name") }
            let integerID = info.contains { column in
                column.string("name") == "id" && (column.int("pk") ?? 0) == 1 && column.string("type")?.uppercased() == "INTEGER"
            }
            var references: [String: String] = [:]
            for key in try database.query("PRAGMA foreign_key_list(\"\(name)\")") {
                if let from = key.string("from"), let table = key.string("table") { references[from] = table }
            }
            tables[name] = Table(name: name, columns: columns, hasIntegerID: integerID, references: references)
        }
        var ordered: [Table] = []
        var placed = Set<String>()
        while ordered.count < tables.count {
            let ready = tables.values.filter { table in
                !placed.contains(table.name)
                    && table.references.values.allSatisfy { $0 == table.name || $0 == "runs" || placed.contains($0) || tables[$0] == nil }
            }.sorted { $0.name < $1.name }
            guard !ready.isEmpty else {
                throw AutoInterpError.database(database.path, "cyclic foreign keys between tables (bug: report it)")
            }
            for table in ready {
                ordered.append(table)
                placed.insert(table.name)
            }
        }
        return ordered
    }

    /// fsync of a file or folder.
    private static func sync(_ path: String) throws {
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { throw AutoInterpError.io(path, "cannot open to sync (errno \(errno))") }
        defer { close(fd) }
        guard fsync(fd) == 0 else { throw AutoInterpError.io(path, "fsync failed (errno \(errno))") }
    }

    /// Removes a database file with its `-wal` and `-shm` companions.
    private static func removeDatabaseFiles(_ url: URL) {
        for suffix in ["", "-wal", "-shm", "-journal"] { try? FileManager.default.removeItem(atPath: url.path + suffix) }
    }
}
