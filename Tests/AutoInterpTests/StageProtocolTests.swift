import AutoInterpTestSupport
import Foundation
import Logging
import Synchronization
import Testing

@testable import AutoInterp

/// A stage added from outside the library, through the public ``UnitStage`` protocol only:
/// it runs after the stages it needs, resumes, and is skipped once done.
struct StageProtocolTests {
    /// Stores the metric `constant` (subset `all`) = 0.5 for each unit, counting its calls.
    struct ConstantStage: UnitStage {
        let box: Box
        var name: StageName { "constant" }
        var needs: [StageName] { [.score] }
        var stores: String { "scores: constant/all" }

        func isDone(_ progress: UnitProgress) -> Bool { progress.hasScore("constant", .all) }

        func run(_ work: UnitWork) async throws -> StageResult {
            guard let explanation = work.progress.explanation else { return .nothing }
            box.calls.withLock { $0.append(work.unit.unit) }
            try work.store.saveScores(explanationID: explanation.id, [StoredScore(metric: "constant", subset: .all, value: 0.5, n: 1)])
            return StageResult(stored: true)
        }
    }

    final class Box: Sendable {
        let calls = Mutex<[UnitRef]>([])
        var stage: ConstantStage { ConstantStage(box: self) }
        var count: Int { calls.withLock { $0.count } }
    }

    static func quietLogger() -> Logger {
        var logger = Logger(label: "test.stage")
        logger.logLevel = .critical
        return logger
    }

    @Test func addedStageRunsResumesAndIsSkippedWhenDone() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let (dataset, sae) = try BaselinePipelineTests.dataset(dir)
        let box = Box()
        var request = try BaselinePipelineTests.request(dir, dataset: dataset, sae: sae)
        request.extraStages = [box.stage]

        // Without the stage it needs, the added stage waits (and stores nothing).
        request.stages = [.explain]
        let first = try await RunCoordinator(logger: Self.quietLogger()).run(request)
        #expect(box.count == 0)
        #expect(!first.summary.isComplete)
        #expect(first.summary.notes.contains { $0.kind == "waiting" && $0.reason.contains("add score to --stages") })

        // Resumed with the stages it needs: it runs once for every live unit, after the score
        // stage, and (a scorer by default) once for the unit's control.
        request.stages = nil
        let second = try await RunCoordinator(logger: Self.quietLogger()).run(request)
        #expect(second.summary.isComplete)
        let live = try second.store.progress(runID: second.run.id).filter { !$0.isDead }
        let controls = try second.store.controlProgress(runID: second.run.id)
        #expect(!live.isEmpty && controls.count == live.count && box.count == 2 * live.count)
        #expect(controls.allSatisfy { $0.score("constant", .all) == .some(0.5) })
        for unit in live {
            #expect(unit.score("constant", .all) == .some(0.5))
            #expect(unit.hasScore(.spearman, .all))
        }

        // Done: a third run does not call it again.
        let third = try await RunCoordinator(logger: Self.quietLogger()).run(request)
        #expect(third.summary.isComplete && box.count == 2 * live.count)

        // One unit loses its constant score: only that unit runs the stage again.
        let lost = try #require(live.first)
        try lostScore(store: second.store, explanationID: try #require(lost.explanation).id)
        _ = try await RunCoordinator(logger: Self.quietLogger()).run(request)
        #expect(box.count == 2 * live.count + 1)
        #expect(box.calls.withLock { $0.last } == lost.unit.unit)
    }

    /// Deletes the `constant` score of one explanation (as a crash before the stage's commit would leave it).
    private func lostScore(store: RunStore, explanationID: Int64) throws {
        _ = try store.database.run("DELETE FROM scores WHERE explanation_id = ? AND metric = 'constant'", [explanationID])
    }
}
