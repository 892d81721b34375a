import Foundation

/// What happened to one unit in one invocation of the pipeline.
public struct UnitOutcome: Sendable, Equatable {
    public enum Status: String, Sendable, Codable {
        /// Every requested stage is stored for the unit.
        case complete
        /// The unit never fires (max activation <= 0): nothing to explain; skipped.
        case dead
        /// A stage could not finish (see `failure`); a rerun tries again.
        case failed
        /// A stage was skipped because an earlier one is missing (e.g. `--stages simulate` before any explanation).
        case waiting
        /// The run stopped before the unit finished.
        case cancelled
    }

    public var unit: UnitRef
    public var status: Status
    /// The failure kind (`explain`, `llm-call`) and reason when `status` is `failed`, or why it is `dead`/`waiting`.
    public var failureKind: String?
    public var reason: String?
    /// Whether this invocation stored anything for the unit.
    public var storedSomething: Bool
    /// Simulations and rubric verdicts that failed in this invocation.
    public var failedSimulations: Int
    public var failedRatings: Int

    public init(
        unit: UnitRef, status: Status, failureKind: String? = nil, reason: String? = nil, storedSomething: Bool = false,
        failedSimulations: Int = 0, failedRatings: Int = 0
    ) {
        self.unit = unit
        self.status = status
        self.failureKind = failureKind
        self.reason = reason
        self.storedSomething = storedSomething
        self.failedSimulations = failedSimulations
        self.failedRatings = failedRatings
    }
}
