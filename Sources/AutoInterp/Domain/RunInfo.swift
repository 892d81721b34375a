public import Foundation

/// One row of `runs`: a named run and the configuration it was started with.
public struct RunInfo: Sendable, Equatable {
    public var id: Int64
    /// Unique within the database.
    public var name: String
    public var createdAt: Date
    /// The configuration as given to ``RunStore/createRun(name:configJSON:)``.
    public var configJSON: String
    /// Lower-case hex SHA-256 of the UTF-8 bytes of `configJSON`, exactly as stored.
    public var configHash: String
    /// Where the run is (starts as ``RunStatus/created``).
    public var status: RunStatus

    public init(id: Int64, name: String, createdAt: Date, configJSON: String, configHash: String, status: RunStatus) {
        self.id = id
        self.name = name
        self.createdAt = createdAt
        self.configJSON = configJSON
        self.configHash = configHash
        self.status = status
    }
}

/// `runs.status`: how far a run got.
public enum RunStatus: String, Sendable, Codable, CaseIterable {
    /// Stored, nothing selected yet.
    case created
    /// Its units and examples are stored (`select`, or the start of `run`).
    case selected
    /// `run` finished with every unit's results.
    case done
    /// `run` finished with failed or missing results (a rerun retries them).
    case incomplete
    /// `run` stopped early (a refused key, a wrong model or URL).
    case stopped

    /// The status stored as `text`; an unknown word (a newer version's) reads as ``created``.
    public init(stored text: String) { self = RunStatus(rawValue: text) ?? .created }
}

/// One row of `units`: a unit of a run, its database id and its statistics.
public struct StoredUnit: Sendable, Equatable {
    /// `units.id`.
    public var id: Int64
    public var runID: Int64
    public var statistics: UnitStatistics

    public init(id: Int64, runID: Int64, statistics: UnitStatistics) {
        self.id = id
        self.runID = runID
        self.statistics = statistics
    }

    /// The unit's kind and index.
    public var unit: UnitRef { statistics.unit }
}
