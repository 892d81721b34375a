import AutoInterpLLM
import Foundation
import Logging

/// Runs the stages of every unit of a run with the LLM-free baseline (``PatternExplainer`` and
/// ``PatternSimulator``), through the same ``UnitPipeline`` as LLM runs.
///
/// The pattern simulator is specific to a unit, so each unit gets its own ``UnitPipeline``
/// whose simulator holds the ``PatternSet`` re-derived from the unit's stored explanation
/// examples. Re-deriving is deterministic, so a resumed run (explanation stored, simulations
/// missing) simulates exactly the patterns its explanation describes, with nothing extra
/// stored; the protocols stay as they are (the simulator sees only the explanation and the
/// records). The rubric stage, when asked for, uses `judge` (an LLM judge).
public struct BaselineRunner: Sendable {
    public let store: RunStore
    public let explainer: PatternExplainer
    public let judge: any RubricJudge
    public let stages: Set<PipelineStage>
    public let unitsInFlight: Int
    /// Totals for the progress line (the judge's calls); nil shows none.
    public let usage: (@Sendable () -> LLMUsage)?
    public let showProgress: Bool
    public let logger: Logger

    public init(
        store: RunStore, explainer: PatternExplainer = PatternExplainer(), judge: any RubricJudge = NoJudge(),
        stages: Set<PipelineStage> = [.explain, .simulate, .score], unitsInFlight: Int = 4, usage: (@Sendable () -> LLMUsage)? = nil,
        showProgress: Bool = false, logger: Logger = Logger(label: "autointerp.run")
    ) {
        self.store = store
        self.explainer = explainer
        self.judge = judge
        self.stages = stages
        self.unitsInFlight = max(1, unitsInFlight)
        self.usage = usage
        self.showProgress = showProgress
        self.logger = logger
    }

    /// The pipeline for one unit: its simulator holds the unit's pattern set.
    public func pipeline(for unit: StoredUnit) throws -> UnitPipeline {
        let examples = try store.examples(unitID: unit.id, role: .explain, subset: .top)
        return pipeline(patterns: explainer.patterns(from: examples))
    }

    private func pipeline(patterns: PatternSet) -> UnitPipeline {
        UnitPipeline(
            store: store, explainer: explainer, simulator: PatternSimulator(patterns: patterns), judge: judge, stages: stages, samples: 1,
            logger: logger)
    }

    /// The reports of every unit of `run`, and why the run stopped early (nil when it did not).
    ///
    /// Mirrors ``PipelineRunner/run(_:)``: dead and complete units are reported without work;
    /// the others run `unitsInFlight` at a time; an `LLMError` that `isFatalForRun` (from the
    /// judge) stops the run.
    public func run(_ run: RunInfo) async throws -> (reports: [UnitOutcome], stoppedEarly: String?) {
        let units = try store.units(runID: run.id)
        let checker = pipeline(patterns: PatternSet(entries: [], parameters: explainer.parameters))
        var reports: [UnitOutcome] = []
        var todo: [StoredUnit] = []
        for unit in units {
            if unit.statistics.maxActivation <= 0 {
                reports.append(try await checker.run(unit))  // dead: recorded, no work
            } else if try checker.isComplete(unit) {
                reports.append(UnitOutcome(unit: unit.unit, status: .complete))
            } else {
                todo.append(unit)
            }
        }
        logger.info("run \(run.name) (baseline \(PatternExplainer.name)): \(units.count) units, \(todo.count) with work left")
        let bar = showProgress && !todo.isEmpty ? ProgressBar("run", total: todo.count, unit: "units") : nil
        let usage = usage
        let detail: @Sendable () -> String = {
            guard let u = usage?(), u.calls > 0 else { return "" }
            return "judge calls \(u.calls), tokens \(ProgressBar.compact(Double(u.promptTokens + u.completionTokens)))"
        }
        bar?.update(0, detail: detail())

        let runner = self
        var stoppedEarly: String?
        try await withThrowingTaskGroup(of: UnitOutcome.self) { group in
            var next = 0
            var done = 0
            func addNext() {
                guard next < todo.count else { return }
                let unit = todo[next]
                next += 1
                group.addTask { try await runner.pipeline(for: unit).run(unit) }
            }
            for _ in 0..<min(unitsInFlight, todo.count) { addNext() }
            while true {
                do {
                    guard let report = try await group.next() else { break }
                    reports.append(report)
                    done += 1
                    bar?.update(done, detail: detail())
                    if report.status == .failed {
                        logger.log(
                            level: report.failureKind == "llm-call" ? .warning : .info, "unit failed",
                            metadata: ["unit": "\(report.unit)", "kind": "\(report.failureKind ?? "")", "reason": "\(report.reason ?? "")"])
                    }
                    if stoppedEarly == nil { addNext() }
                } catch let error as LLMError where error.isFatalForRun {
                    if stoppedEarly == nil {
                        stoppedEarly = error.message
                        logger.error("stopping the run", metadata: ["reason": "\(error.message)"])
                        group.cancelAll()
                    }
                }
            }
        }
        bar?.finish()
        let seen = Set(reports.map(\.unit))
        for unit in todo where !seen.contains(unit.unit) { reports.append(UnitOutcome(unit: unit.unit, status: .cancelled, reason: "the run stopped early")) }
        return (reports, stoppedEarly)
    }
}

/// The judge of a baseline run without an LLM endpoint: the rubric stage is left out of such
/// runs, so it is never asked; if it were, every verdict fails with the fix.
public struct NoJudge: RubricJudge {
    public var model: String { "none" }

    public init() {}

    public func rate(explanation: String, example: RubricExample) async throws -> RubricVerdict {
        .failed(reason: "no LLM judge: the rubric stage needs --endpoint and --model")
    }
}
