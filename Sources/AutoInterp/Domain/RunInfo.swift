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
    /// Free-form stage marker set by the pipeline (starts as ``RunInfo/created``).
    public var status: String

    /// The status of a freshly created run.
    public static let created = "created"

    public init(id: Int64, name: String, createdAt: Date, configJSON: String, configHash: String, status: String) {
        self.id = id
        self.name = name
        self.createdAt = createdAt
        self.configJSON = configJSON
        self.configHash = configHash
        self.status = status
    }
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
