import AutoInterpLLM
import Foundation
public import Logging
import Synchronization

/// Schedules the units of a run: each unit's stages (``UnitStageRunner``) run in a task group,
/// several units at once; progress is told to the run's ``RunObserver``.
///
/// Independent of the stages used. At most `unitsInFlight` units run at a time (the LLM client
/// caps the requests). An `LLMError` that `isFatalForRun` (bad key, wrong URL or model) cancels
/// the remaining units and is reported as `stoppedEarly`; results stored until then are kept.
public struct UnitScheduler: Sendable {
    public let runner: UnitStageRunner
    public let unitsInFlight: Int
    /// Told of each pass, each unit finished (nil: nobody listens).
    public let observer: (any RunObserver)?
    public let logger: Logger

    public init(runner: UnitStageRunner, unitsInFlight: Int = 8, observer: (any RunObserver)? = nil, logger: Logger) {
        self.runner = runner
        self.unitsInFlight = max(1, unitsInFlight)
        self.observer = observer
        self.logger = logger
    }
    /// The outcome of every unit of `run`, and why the run stopped early (nil when it did not).
    ///
    /// - Parameters:
    ///   - units: the progress views to work on (default: every unit's headline progress; the
    ///     control pass gives the units' control views).
    ///   - label: what the log line and the observer call the pass (`run`, `controls`).
    public func run(_ run: RunInfo, units given: [UnitProgress]? = nil, label: String = "run") async throws
        -> (reports: [UnitOutcome], stoppedEarly: String?)
    {
        let units = try given ?? runner.store.progress(runID: run.id)
        var reports: [UnitOutcome] = []
        var todo: [UnitProgress] = []
        for unit in units {
            if unit.isDead {
                reports.append(try await runner.run(unit))  // dead: recorded, no work
            } else if runner.isComplete(unit) {
                reports.append(UnitOutcome(unit: unit.unit.unit, status: .complete))
            } else {
                todo.append(unit)
            }
        }
        logger.info("\(label) \(run.name): \(units.count) units, \(todo.count) with work left")
        observer?.passStarted(label, units: todo.count)

        let runner = runner
        var stoppedEarly: String?
        var stoppedByLatch = false
        try await withThrowingTaskGroup(of: UnitOutcome.self) { group in
            var next = 0
            var done = 0
            func addNext() {
                guard next < todo.count else { return }
                let unit = todo[next]
                next += 1
                group.addTask { try await runner.run(unit) }
            }
            for _ in 0..<min(unitsInFlight, todo.count) { addNext() }
            while true {
                do {
                    guard let report = try await group.next() else { break }
                    reports.append(report)
                    done += 1
                    observer?.unitFinished(label, done: done, outcome: report)
                    if report.status == .failed {
                        // Counted and listed in the summary; warn only for failed calls.
                        logger.log(
                            level: report.failure == .call ? .warning : .info, "unit failed",
                            metadata: ["unit": "\(report.unit)", "kind": "\(report.failure?.label ?? "")", "reason": "\(report.reason ?? "")"])
                    }
                    if stoppedEarly == nil { addNext() }
                } catch let error as LLMError where error.isFatalForRun {
                    // The first refusal names the cause; calls refused after it only say so.
                    if stoppedEarly != nil, stoppedByLatch, !error.isHalted {
                        stoppedEarly = error.message
                        stoppedByLatch = false
                    }
                    if stoppedEarly == nil {
                        stoppedByLatch = error.isHalted
                        stoppedEarly = error.message
                        logger.error("stopping the run", metadata: ["reason": "\(error.description)"])
                        group.cancelAll()
                    }
                }
            }
        }
        observer?.passFinished(label)
        // Units never started (stopped early) are reported as cancelled.
        let seen = Set(reports.map(\.unit))
        for unit in todo where !seen.contains(unit.unit.unit) {
            reports.append(UnitOutcome(unit: unit.unit.unit, status: .cancelled, reason: "the run stopped early"))
        }
        return (reports, stoppedEarly)
    }
}
