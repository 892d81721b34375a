import AutoInterpTestSupport
import AutoInterpLLM
import Foundation
import Logging
import Synchronization
import Testing

@testable import AutoInterp

/// A stage added from outside the library, through the public ``UnitStage`` protocol and one
/// ``StageDescriptor``: it runs after the stages it needs, resumes, is skipped once done, and
/// shows in every place the built-in scorers do.
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
        request.extraStages = [StageDescriptor(stage: box.stage)]

        // Without the stage it needs, the added stage waits (and stores nothing).
        request.stages = [.explain]
        let first = try await RunCoordinator(logger: Self.quietLogger()).run(request)
        #expect(box.count == 0)
        #expect(!first.summary.isComplete)
        #expect(first.summary.notes.contains { $0.kind == "waiting" && Setting.plain($0.reason).contains("add score to `stages`") })
        // summary.json names the setting in words, without the mention's delimiters.
        let json = try String(contentsOf: request.setup.databaseURL.deletingLastPathComponent().appendingPathComponent("summary.json"), encoding: .utf8)
        #expect(json.contains("add score to `stages`") && !json.unicodeScalars.contains("\u{E000}"))

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

    /// A throwaway scorer: `length` = the explanation's length in characters / 100 (subset `all`).
    struct LengthStage: UnitStage {
        var name: StageName { "length" }
        var needs: [StageName] { [.explain] }
        var stores: String { "scores: length/all" }

        func isDone(_ progress: UnitProgress) -> Bool { progress.hasScore("length", .all) }

        func run(_ work: UnitWork) async throws -> StageResult {
            guard let explanation = work.progress.explanation else { return .nothing }
            let value = Double(explanation.text.count) / 100
            try work.store.saveScores(explanationID: explanation.id, [StoredScore(metric: "length", subset: .all, value: value, n: 1)])
            return StageResult(stored: true)
        }
    }

    /// Its one catalogue entry: the name, the report section and the factory.
    static let length = StageDescriptor(
        name: "length", help: "the explanation's length",
        scorers: [ReportScorer(name: "length", title: "Length: characters / 100", metric: "length", thresholds: [0.2])],
        make: { _ in LengthStage() })

    @Test func aScorerAddedByOneDescriptorAppearsInEveryReport() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let (dataset, sae) = try BaselinePipelineTests.dataset(dir)
        var request = try BaselinePipelineTests.request(dir, dataset: dataset, sae: sae)
        request.extraStages = [Self.length]
        let result = try await RunCoordinator(logger: Self.quietLogger()).run(request)
        #expect(result.summary.isComplete, "\(result.summary.text)")

        // `--stages` knows it.
        #expect(try result.catalog.parse("explain, length") == [.explain, "length"])
        #expect(throws: AutoInterpError.self) { try StageCatalog.builtIn.parse("length") }

        // The summary and summary.json carry its figures (and every built-in scorer's), the
        // same statistics the report builds, for the units and their controls.
        let summary = try #require(result.summary.scorer("length"))
        let features = try result.store.progress(runID: result.run.id).filter { !$0.isDead && $0.unit.unit.kind == .feature }
        let values = features.compactMap { $0.score("length", .all) ?? nil }.sorted()
        #expect(!values.isEmpty && summary.byKind["feature"]?.defined == values.count)
        #expect(summary.byKind["feature"]?.median == ScorerColumn.quantile(values, 0.5))
        #expect((summary.control?.defined ?? 0) > 0)
        for scorer in ["simulation", "detection", "fuzzing"] { #expect(result.summary.scorer(scorer) != nil, "\(scorer)") }
        let json = try String(contentsOf: dir.path("results/local/summary.json"), encoding: .utf8)
        #expect(json.contains("Length: characters / 100") && json.contains("detection_balanced_accuracy"))
        #expect(result.summary.text.contains("length median"))

        // Both reports, the agreement matrix and `compare`.
        let report = try RunReport.load(from: result.store, run: result.run, options: result.reportOptions)
        let table = try #require(ScorerTable.all(report).first { $0.scorer.name == "length" })
        #expect(table.columns.first?.median == summary.byKind["feature"]?.median)
        #expect(ScorerAgreement(report).axes.map(\.name).contains("length"))
        let output = try ReportWriter.write(report, folder: dir.path("report"))
        #expect(try String(contentsOf: output.markdown, encoding: .utf8).contains("Length: characters / 100"))
        #expect(try String(contentsOf: output.html, encoding: .utf8).contains("Length: characters / 100"))
        let comparison = RunComparison(sides: [.init(label: "a", report: report), .init(label: "b", report: report)]).render()
        #expect(comparison.contains("Length: characters / 100"))
        // Without its descriptor a report does not know the scorer.
        #expect(try !RunReport.load(from: result.store, run: result.run).scorers.contains { $0.name == "length" })
    }

    @Test func theScriptedEndpointAnswersEveryStageThatAsksTheLLM() {
        let answered = Set(ScriptedLLM.responders.flatMap { $0.stage.split(separator: ",").map { String($0.split(separator: "-")[0]) } })
        for descriptor in StageCatalog.builtIn.descriptors where descriptor.asksLLM {
            #expect(answered.contains(descriptor.name.rawValue), "no scripted answer for the \(descriptor.name) stage's prompts")
        }
        #expect(!StageCatalog.builtIn.descriptors.contains { $0.name == .score && $0.asksLLM })
    }

    /// Deletes the `constant` score of one explanation (as a crash before the stage's commit would leave it).
    private func lostScore(store: RunStore, explanationID: Int64) throws {
        _ = try store.database.run("DELETE FROM scores WHERE explanation_id = ? AND metric = 'constant'", [explanationID])
    }
}
