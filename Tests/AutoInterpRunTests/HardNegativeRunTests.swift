import AutoInterpTestSupport
import Foundation
import Logging
import Testing

@testable import AutoInterp

/// Detection and fuzzing with hard negatives end to end on the scripted endpoint.
extension PipelineSuites {
    @Suite(.serialized) struct HardNegativeRunTests {
        @Test func detectionAndFuzzingStoreMetricsPerSubsetAndResume() async throws {
            let dir = try TemporaryDirectory()
            defer { dir.remove() }
            let (dataset, sae) = try ScriptedRun.writeDataset(in: dir, contexts: 120)
            let endpoint = try TestEndpoint(TestEndpoint.Configuration(handler: ScriptedLLM().handler))
            defer { endpoint.stop() }
            var selection = ScriptedRun.smallSelection
            selection.hardNegatives = 10
            var request = try ScriptedRun.request(
                dir: dir, dataset: dataset, sae: sae, features: "1", neurons: "none", endpoint: endpoint.baseURL, selection: selection)
            request.stages = DetectionTests.classifying
            let result = try await RunCoordinator(logger: DetectionTests.quietLogger()).run(request)
            #expect(result.summary.isComplete, "\(result.summary.text)")
            let store = result.store
            let progress = try #require(try store.progress(runID: result.run.id).first)
            #expect(progress.hardNegatives == 10)
            let explanation = try #require(progress.explanation)
            let examples = try store.classificationExamples(unitID: progress.unit.id, hard: true)
            let subsets = Dictionary(uniqueKeysWithValues: examples.map { ($0.id, $0.record.subset) })
            let stored = try store.scores(explanationID: explanation.id)
            for scorer in StoredClassification.Scorer.allCases {
                let rows = try store.classifications(explanationID: explanation.id, scorer: scorer)
                // One answer per example, the hard negatives included (label 0, asked with the same prompt).
                #expect(Set(rows.map(\.exampleID)) == Set(examples.map(\.id)))
                #expect(rows.filter { subsets[$0.exampleID] == .hard }.allSatisfy { $0.label == 0 && $0.isOK })
                // `all` is today's metric (the hard answers left out), `hard` leaves out the random silent ones.
                let all = ClassificationMetrics.scores(scorer, from: rows.filter { subsets[$0.exampleID] != .hard })
                let hard = ClassificationMetrics.scores(scorer, from: rows.filter { subsets[$0.exampleID] != .silent }, subset: .hard)
                for score in all + hard {
                    #expect(
                        stored.first { $0.metric == score.metric && $0.subset == score.subset } == score,
                        "\(score.metric.rawValue)/\(score.subset.rawValue)")
                }
                #expect(
                    hard.first { $0.metric.rawValue.hasSuffix("balanced_accuracy") }?.n == rows.count
                        - examples.count { $0.record.subset == .silent })
            }
            // The reports, the summary and summary.json show the hard sections with the drop from random negatives.
            let report = try RunReport.load(from: store, run: result.run)
            #expect(report.scorers.map(\.name).contains("detection_hard") && report.scorers.map(\.name).contains("fuzzing_hard"))
            for scorer in [DetectionStage.hardScorer, FuzzingStage.hardScorer] {
                let all = try #require(stored.first { $0.metric == scorer.metric && $0.subset == .all }?.value)
                let hard = try #require(stored.first { $0.metric == scorer.metric && $0.subset == .hard }?.value)
                let row = try #require(ScorerTable(report, scorer: scorer).rows.first { $0.first == "median all − hard per unit" })
                #expect(row[1].hasPrefix(ReportText.fixed(all - hard, 3)) && row[1].hasSuffix("(n 1)"), "\(row)")
                #expect(
                    result.summary.text.contains(
                        "\(scorer.name): median all − hard per unit: features \(ReportText.fixed(all - hard, 3))"))
            }
            #expect(MarkdownReport(report).render().contains("Detection on hard negatives: balanced accuracy"))
            let json = try String(
                contentsOf: URL(fileURLWithPath: store.path).deletingLastPathComponent().appendingPathComponent("summary.json"),
                encoding: .utf8)
            #expect(json.contains("\"baselineDrop\"") && json.contains("detection_hard"))

            // Done: a rerun asks nothing.
            let before = endpoint.requestCount
            _ = try await RunCoordinator(logger: DetectionTests.quietLogger()).run(request)
            #expect(endpoint.requestCount == before)
            // Resume: with the hard answers and metrics gone, only the hard negatives are asked again.
            try store.database.execute(
                """
                DELETE FROM classifications WHERE example_id IN (SELECT id FROM examples WHERE subset = 'hard');
                DELETE FROM scores WHERE subset = 'hard';
                """)
            let again = try await RunCoordinator(logger: DetectionTests.quietLogger()).run(request)
            #expect(again.summary.isComplete)
            let asked = endpoint.seenRequests.dropFirst(before).filter { DetectionTests.scorer($0) != nil }
            #expect(asked.count == 2)  // 10 hard negatives, one call of 10 per scorer
            let restored = try again.store.scores(explanationID: explanation.id)
            #expect(
                Set(restored.filter { $0.subset == .hard }.map(\.metric))
                    == Set(StoredClassification.Scorer.allCases.flatMap { StoredScore.Metric.classification($0) }))
            #expect(restored.filter { $0.subset == .all } == stored.filter { $0.subset == .all })
        }
    }
}
