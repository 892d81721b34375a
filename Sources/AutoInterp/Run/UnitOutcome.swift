import Foundation

/// What happened to one unit in one invocation of the pipeline.
public struct UnitOutcome: Sendable, Equatable {
    public enum Status: String, Sendable, Codable {
        /// Every requested stage is stored for the unit.
        case complete
        /// The unit never fires (max activation <= 0): nothing to explain; skipped.
        case dead
        /// A stage could not finish (see ``UnitOutcome/failure``); a rerun tries again.
        case failed
        /// A stage was skipped because an earlier one is missing (e.g. `--stages simulate` before any explanation).
        case waiting
        /// The run stopped before the unit finished.
        case cancelled
        /// A batch wave (collect mode): some of the unit's requests wait for a batch; nothing
        /// was recorded as failed and the stages run again once the batch is ingested.
        case deferred
    }

    public var unit: UnitRef
    public var status: Status
    /// What failed, when `status` is `failed`.
    public var failure: UnitFailure?
    /// Why the unit failed, is dead, waits or was cancelled.
    public var reason: String?
    /// Whether this invocation stored anything for the unit.
    public var storedSomething: Bool
    /// The stages that deferred their requests to a batch (status `deferred`).
    public var deferredStages: Set<StageName> = []
    /// Simulations and rubric verdicts that failed in this invocation.
    public var failedSimulations: Int
    public var failedRatings: Int

    public init(
        unit: UnitRef, status: Status, failure: UnitFailure? = nil, reason: String? = nil, storedSomething: Bool = false,
        failedSimulations: Int = 0, failedRatings: Int = 0
    ) {
        self.unit = unit
        self.status = status
        self.failure = failure
        self.reason = reason
        self.storedSomething = storedSomething
        self.failedSimulations = failedSimulations
        self.failedRatings = failedRatings
    }

    /// How the outcome is listed in the summary's notes: the failure's label, else the status.
    public var kind: String { failure?.label ?? status.rawValue }
}

/// What made a unit fail in an invocation.
public enum UnitFailure: Sendable, Equatable, Hashable {
    /// A stage could not produce a usable result (an unusable answer, records that failed).
    case stage(StageName)
    /// An LLM call failed in a way that does not stop the run (after its retries).
    case call

    /// `explain`, `simulate`, … or `llm-call`: the kind in the summary and logs.
    public var label: String {
        switch self {
        case .stage(let name): name.rawValue
        case .call: "llm-call"
        }
    }
}
