import AutoInterpLLM
import Foundation
public import Logging

/// One step of a unit's work in `autointerp run` (explain, simulate, score, rubric, …).
///
/// A stage says which earlier stages it needs, what it stores, and how to tell from the store
/// that it is done for a unit (``isDone(_:)`` over the unit's ``UnitProgress``). The
/// ``UnitStageRunner`` runs the requested stages of a unit in list order, skips those that are
/// done, and re-runs a stage whose needed stage stored something new in this invocation (its
/// results derive from what changed). Each stage stores its rows in one transaction through the
/// typed methods of ``RunStore``.
///
/// To add a scorer: a type conforming to this protocol in its own folder, and one line where
/// ``StagePlan`` builds the stage list.
public protocol UnitStage: Sendable {
    /// The name used in `--stages`, logs and ``UnitOutcome``.
    var name: StageName { get }
    /// The stages whose results this one reads; they come earlier in the list.
    var needs: [StageName] { get }
    /// What the stage stores, in words (e.g. `scores: spearman, pearson × all, top, random`).
    var stores: String { get }
    /// Whether the stage also scores a unit's *control* explanation (another unit's explanation:
    /// the random-explanation floor, see ``ControlPass``). True by default: a scorer reads only
    /// `work.progress.explanation`, so the same stage object runs on the control. The explain
    /// and rubric stages say false.
    var scoresControls: Bool { get }

    /// Whether the store already holds this stage's results for the unit (or all it will ever
    /// hold: failures that used up their attempts count as done, see ``gap(_:)``).
    func isDone(_ progress: UnitProgress) -> Bool

    /// Why the unit's results from this stage are incomplete although nothing is left to try
    /// (e.g. records that failed every attempt); nil when they are whole. Such a unit is
    /// reported `failed`, never complete.
    func gap(_ progress: UnitProgress) -> String?

    /// Does the stage's work for one unit and stores it.
    ///
    /// - Throws: ``ExplanationFailure`` or ``StageFailure`` for an unusable result (the unit is
    ///   recorded as failed and retried on the next run), `LLMError` for a failed call (fatal
    ///   ones stop the run), `CancellationError`, or a store error.
    func run(_ work: UnitWork) async throws -> StageResult
}

extension UnitStage {
    public func gap(_ progress: UnitProgress) -> String? { nil }
    public var scoresControls: Bool { true }
}

/// What a stage gets for one unit: the store, the unit's progress as loaded just before the
/// stage, and a logger.
public struct UnitWork: Sendable {
    public var store: RunStore
    public var progress: UnitProgress
    public var logger: Logger

    public init(store: RunStore, progress: UnitProgress, logger: Logger) {
        self.store = store
        self.progress = progress
        self.logger = logger
    }

    public var unit: StoredUnit { progress.unit }
}

/// What a stage did for a unit.
public struct StageResult: Sendable, Equatable {
    /// Whether the stage stored anything (later stages that need it re-run).
    public var stored: Bool
    /// Simulations and ratings that failed in this invocation (counted in the summary).
    public var failedSimulations: Int
    public var failedRatings: Int
    /// A reason the unit is not finished although the stage ran (e.g. unreadable ratings): the
    /// unit is reported `failed` with the stage's name as the kind.
    public var failure: String?

    public init(stored: Bool, failedSimulations: Int = 0, failedRatings: Int = 0, failure: String? = nil) {
        self.stored = stored
        self.failedSimulations = failedSimulations
        self.failedRatings = failedRatings
        self.failure = failure
    }

    /// Nothing to do, nothing stored.
    public static let nothing = StageResult(stored: false)
}

/// A stage that could not produce a usable result for a unit (recorded as a failure of the
/// stage's kind; the next run tries again).
public struct StageFailure: Error, Sendable, Equatable, CustomStringConvertible {
    public var reason: String

    public init(_ reason: String) { self.reason = reason }

    public var description: String { reason }
}
