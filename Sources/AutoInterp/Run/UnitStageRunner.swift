import AutoInterpLLM
import Foundation
public import Logging
import Synchronization

/// Runs one unit's stages in order, doing only what the store does not hold yet.
///
/// The same runner scores a unit's control explanation (``ControlPass``): given a progress view
/// whose explanation is a control, it reloads that view after each stage.
///
/// For each requested stage: skip it when ``UnitStage/isDone(_:)`` says so (unless a stage it
/// needs stored something new in this invocation); wait when a stage it needs is neither done
/// nor requested; otherwise run it and reload the unit's ``UnitProgress``. Unusable results are
/// recorded as the unit's failure; a failed call leaves the stage for a rerun; an `LLMError`
/// that `isFatalForRun` is rethrown so the run stops.
public struct UnitStageRunner: Sendable {
    public let store: RunStore
    /// Every stage the run knows, in order (requested or not: a stage's needs are looked up here).
    public let stages: [any UnitStage]
    /// The names of the stages to run.
    public let requested: Set<StageName>
    public let logger: Logger
    /// In a batch run: the stages that already ran in an earlier wave of this invocation (not run
    /// again, as a real-time run runs each stage once per invocation). Nil outside batch runs.
    public let ledger: StageLedger?

    public init(store: RunStore, stages: [any UnitStage], requested: Set<StageName>? = nil, logger: Logger, ledger: StageLedger? = nil) {
        self.store = store
        self.stages = stages
        self.requested = requested ?? Set(stages.map(\.name))
        self.logger = logger
        self.ledger = ledger
    }

    /// Whether the unit has everything the requested stages produce, whole (dead units always do).
    public func isComplete(_ progress: UnitProgress) -> Bool {
        progress.isDead || stages.allSatisfy { !requested.contains($0.name) || ($0.isDone(progress) && $0.gap(progress) == nil) }
    }

    /// Whether no requested stage has anything left to do for the unit: each is done, with its
    /// results whole or with failures that used up their attempts (nothing would be asked).
    public func hasNothingToDo(_ progress: UnitProgress) -> Bool {
        progress.isDead || stages.allSatisfy { !requested.contains($0.name) || $0.isDone(progress) }
    }

    /// Runs the requested stages that the unit still lacks.
    ///
    /// - Throws: `LLMError` with `isFatalForRun`, `CancellationError`, or a store error; every
    ///   other failure is reported in the ``UnitOutcome``.
    public func run(_ start: UnitProgress) async throws -> UnitOutcome {
        var report = UnitOutcome(unit: start.unit.unit, status: .complete)
        if start.isDead {
            report.status = .dead
            report.reason = "never fires on a selectable token (max activation \(start.unit.statistics.maxActivation) <= 0)"
            return report
        }
        var progress = start
        var changed: Set<StageName> = []
        var blocked: Set<StageName> = []
        var ran: Set<StageName> = []
        var current: StageName?
        do {
            for stage in stages where requested.contains(stage.name) {
                current = stage.name
                // Ran in an earlier wave of this invocation: done for now, as in a real-time run.
                if let ledger, ledger.contains(start.unit.id, stage.name) {
                    ran.insert(stage.name)
                    continue
                }
                let forced = stage.needs.contains { changed.contains($0) }
                if stage.isDone(progress), !forced { continue }
                if let missing = stage.needs.first(where: { need in blocked.contains(need) || !(ran.contains(need) || isDone(need, progress)) }) {
                    blocked.insert(stage.name)
                    if report.status == .complete {
                        report.status = .waiting
                        report.reason = "no \(missing) results yet (add \(missing) to \(Setting.stages))"
                    }
                    continue
                }
                let work = UnitWork(store: store, progress: progress, logger: logger)
                // Calls made by the stage are logged with its unit and name (`llm_calls.unit`, `.stage`).
                let result: StageResult
                do {
                    result = try await LLMCallContext.$current.withValue(
                        LLMCallContext(unit: progress.unit.unit.description, stage: stage.name.rawValue)
                    ) { try await stage.run(work) }
                } catch let error as LLMError where error.isDeferred {
                    // Waits for a batch: nothing stored, nothing failed; the stages that need it wait too.
                    blocked.insert(stage.name)
                    report.deferredStages.insert(stage.name)
                    continue
                }
                ran.insert(stage.name)
                ledger?.insert(start.unit.id, stage.name)
                report.failedSimulations += result.failedSimulations
                report.failedRatings += result.failedRatings
                if result.stored {
                    changed.insert(stage.name)
                    report.storedSomething = true
                    progress = try reload(progress) ?? progress
                }
                if let failure = result.failure, report.status == .complete {
                    report.status = .failed
                    report.failure = .stage(stage.name)
                    report.reason = failure
                }
            }
            if !report.deferredStages.isEmpty, report.status != .failed {
                report.status = .deferred
                report.reason = "waits for a batch (\(report.deferredStages.map(\.rawValue).sorted().joined(separator: ", ")))"
                return report
            }
            if report.status == .complete {
                for stage in stages where requested.contains(stage.name) {
                    guard let gap = stage.gap(progress) else { continue }
                    return failed(report, .stage(stage.name), gap)
                }
            }
            return report
        } catch let failure as ExplanationFailure {
            current.map { ledger?.insert(start.unit.id, $0) }
            return failed(report, .stage(current ?? .explain), failure.reason)
        } catch let failure as StageFailure {
            current.map { ledger?.insert(start.unit.id, $0) }
            return failed(report, .stage(current ?? .explain), failure.reason)
        } catch let error as LLMError where !error.isFatalForRun {
            current.map { ledger?.insert(start.unit.id, $0) }
            return failed(report, .call, error.message)
        } catch is CancellationError {
            report.status = .cancelled
            return report
        }
    }

    /// The unit's progress read again for the same explanation: a control (or an audit variant) stays one.
    private func reload(_ progress: UnitProgress) throws -> UnitProgress? {
        if let explanation = progress.explanation, explanation.isControl || explanation.isAudit {
            return try store.progress(unitID: progress.unit.id, explanationID: explanation.id)
        }
        return try store.progress(unitID: progress.unit.id)
    }

    /// Whether a stage's results are there. A needed stage that ran in this invocation counts as
    /// there even if some of its records failed (its gaps are reported; later stages work with
    /// what it stored, e.g. scores that are undefined with the reason).
    private func isDone(_ name: StageName, _ progress: UnitProgress) -> Bool {
        stages.first { $0.name == name }?.isDone(progress) ?? false
    }

    private func failed(_ report: UnitOutcome, _ failure: UnitFailure, _ reason: String) -> UnitOutcome {
        var report = report
        report.status = .failed
        report.failure = failure
        report.reason = reason
        return report
    }
}

/// The (unit, stage) pairs that ran in an earlier wave of a batch run's invocation:
/// ``UnitStageRunner`` does not run them again in a later wave. One ledger per runner (the
/// control pass has its own: its views are the units' controls).
public final class StageLedger: Sendable {
    private let done = Mutex<Set<String>>([])

    public init() {}

    func contains(_ unitID: Int64, _ stage: StageName) -> Bool {
        done.withLock { $0.contains("\(unitID)/\(stage.rawValue)") }
    }

    func insert(_ unitID: Int64, _ stage: StageName) {
        _ = done.withLock { $0.insert("\(unitID)/\(stage.rawValue)") }
    }
}
