import AutoInterpLLM
public import Foundation

// MARK: - Shard

/// One of `count` contiguous slices of a run's unit list (`run --shard k/N`), for many machines.
///
/// The resolved units are sorted by (kind, index) and cut into `count` contiguous ranges of near
/// equal size; shard `index` (0-based) studies range `index`, so it reads only its features'
/// encoder columns. Its database is `<results>/<run>/shards/<k>-of-<N>/autointerp.sqlite`; it
/// skips the control pass, which runs after `autointerp merge` on the merged run.
public struct RunShard: Sendable, Equatable, Codable, CustomStringConvertible {
    /// 0-based position, below `count`.
    public var index: Int
    public var count: Int

    /// The most shards of one run.
    public static let maxCount = 100_000

    /// - Throws: ``AutoInterpError`` when `count` is not 1...100000 or `index` not in 0..<count.
    public init(index: Int, count: Int) throws {
        guard (1...Self.maxCount).contains(count) else {
            throw AutoInterpError.invalidInput("\(Setting.shard): the shard count must be 1-\(Self.maxCount), got \(count)")
        }
        guard (0..<count).contains(index) else {
            throw AutoInterpError.invalidInput(
                "\(Setting.shard): the shard index must be 0-\(count - 1) (0-based; a Slurm array is --array=0-\(count - 1)), got \(index)")
        }
        self.index = index
        self.count = count
    }

    /// Reads `--shard k/N`, or `--shard N` with the index from the variable `indexVariable`
    /// (`SLURM_ARRAY_TASK_ID`, Kubernetes' `JOB_COMPLETION_INDEX`).
    ///
    /// - Throws: ``AutoInterpError`` naming the option or variable and the form expected.
    public static func parse(_ text: String, indexVariable: String?, environment: [String: String]) throws -> RunShard {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
        switch (parts.count, indexVariable) {
        case (2, nil):
            guard let index = Int(parts[0]), let count = Int(parts[1]) else {
                throw AutoInterpError.invalidInput("\(Setting.shard) takes k/N (e.g. 0/8), or N with \(Setting.shardIndexEnv) VAR; got '\(text)'")
            }
            return try RunShard(index: index, count: count)
        case (1, let variable?):
            guard let count = Int(parts[0]) else {
                throw AutoInterpError.invalidInput("\(Setting.shard) with \(Setting.shardIndexEnv) takes the shard count N (e.g. 8); got '\(text)'")
            }
            guard let value = environment[variable]?.trimmingCharacters(in: .whitespaces), !value.isEmpty else {
                throw AutoInterpError.invalidInput(
                    "\(Setting.shardIndexEnv) \(variable): the variable is not set (run inside a Slurm array or a Kubernetes Indexed Job, or pass \(Setting.shard) k/N)")
            }
            guard let index = Int(value) else {
                throw AutoInterpError.invalidInput("\(Setting.shardIndexEnv) \(variable): '\(value.prefix(40))' is not a shard index")
            }
            return try RunShard(index: index, count: count)
        case (2, _?):
            throw AutoInterpError.invalidInput("\(Setting.shard) k/N and \(Setting.shardIndexEnv) do not go together: pass \(Setting.shard) N with the variable")
        default:
            throw AutoInterpError.invalidInput("\(Setting.shard) takes k/N (e.g. 0/8), or N with \(Setting.shardIndexEnv) VAR; got '\(text)'")
        }
    }

    public var description: String { "\(index)/\(count)" }

    /// The shard's folder under `<results>/<run>/shards/`: `k-of-N`.
    public var folderName: String { "\(index)-of-\(count)" }

    /// This shard's contiguous range of `total` sorted units.
    public func range(of total: Int) -> Range<Int> {
        // total * index / count without overflow: both factors are far below 2^31 in practice, checked anyway.
        func bound(_ k: Int) -> Int {
            let (product, overflow) = total.multipliedReportingOverflow(by: k)
            return overflow ? Int((Double(total) * Double(k) / Double(count)).rounded(.down)) : product / count
        }
        return bound(index)..<bound(index + 1)
    }

    /// This shard's units of `units` (sorted by kind, then index).
    public func slice(of units: [UnitRef]) -> [UnitRef] {
        let sorted = units.sorted()
        return Array(sorted[range(of: sorted.count)])
    }

    /// The folder of shard `folderName` (`k-of-N`) parsed back, or nil for another name.
    public static func parse(folderName: String) -> RunShard? {
        let parts = folderName.split(separator: "-")
        guard parts.count == 3, parts[1] == "of", let index = Int(parts[0]), let count = Int(parts[2]),
            String(index) == parts[0], String(count) == parts[2] else { return nil }
        return try? RunShard(index: index, count: count)
    }
}

// MARK: - Shard plan file

/// `shard.json` beside a shard's database: which plan the shard is a slice of, so the merge can
/// check that the shards' units are disjoint and together exactly the planned list.
package struct ShardPlan: Codable, Sendable, Equatable {
    package var index: Int
    package var count: Int
    /// Units in the whole (unsharded) plan.
    package var plannedUnits: Int
    /// Hex SHA-256 of the plan's sorted units, one `kind index` per line.
    package var planSHA256: String

    package static let fileName = "shard.json"

    package init(shard: RunShard, plan: [UnitRef]) {
        index = shard.index
        count = shard.count
        plannedUnits = plan.count
        planSHA256 = Self.hash(plan)
    }

    package static func hash(_ units: [UnitRef]) -> String {
        SHA256.hex(units.sorted().map { "\($0.kind.rawValue) \($0.index)\n" }.joined())
    }

    /// Writes the file atomically into `folder`.
    package func write(into folder: URL) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let url = folder.appendingPathComponent(Self.fileName)
        do {
            try encoder.encode(self).write(to: url, options: .atomic)
        } catch {
            throw AutoInterpError.io(url.path, "cannot write the shard plan: \(error.localizedDescription)")
        }
    }

    /// Reads `shard.json` in `folder`.
    package static func read(from folder: URL) throws -> ShardPlan {
        let url = folder.appendingPathComponent(fileName)
        guard let data = try? Data(contentsOf: url), let plan = try? JSONDecoder().decode(ShardPlan.self, from: data) else {
            throw AutoInterpError.invalidFile(url.path, "missing or unreadable shard plan: this folder was not written by run \(Setting.shard)")
        }
        return plan
    }
}
