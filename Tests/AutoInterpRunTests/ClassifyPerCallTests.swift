import AutoInterpLLM
import AutoInterpTestSupport
import Foundation
import Testing

@testable import AutoInterp

/// Issue 22, item 4 (cost): detection and fuzzing examples per call (`--classify-per-call`, 5 vs
/// the default 10) on the scripted endpoint, and the explainer asked once when its first answer
/// is good.
extension PipelineSuites {
@Suite(.serialized) struct ClassifyPerCallTests {
    /// Per scorer and unit: each example's predicted label, keyed by example id.
    static func answers(_ result: RunResult) throws -> [String: Int] {
        var answers: [String: Int] = [:]
        for explanation in try result.store.explanations(runID: result.run.id) {
            for scorer in StoredClassification.Scorer.allCases {
                for row in try result.store.classifications(explanationID: explanation.id, scorer: scorer) {
                    if case .answered(let predicted, _) = row.outcome {
                        answers["\(explanation.unitID) \(scorer.rawValue) \(row.exampleID)"] = predicted
                    }
                }
            }
        }
        return answers
    }

    @Test func tenExamplesPerCallGiveTheSameAnswersWithHalfTheCalls() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let (dataset, sae) = try ScriptedRun.writeDataset(in: dir)
        let endpoint = try TestEndpoint(TestEndpoint.Configuration(handler: ScriptedLLM().handler))
        defer { endpoint.stop() }
        var results: [Int: RunResult] = [:]
        for perCall in [5, 10] {
            var request = try ScriptedRun.request(
                name: "per-call-\(perCall)", dir: dir, dataset: dataset, sae: sae, features: "0-2", neurons: "0-1", endpoint: endpoint.baseURL)
            request.stages = DetectionTests.classifying
            request.controls = .none
            request.classifyPerCall = perCall
            let result = try await RunCoordinator(logger: DetectionTests.quietLogger()).run(request)
            #expect(result.summary.isComplete, "\(result.summary.text)")
            #expect(try result.store.config(runID: result.run.id).pipeline?.classifyPerCall == perCall)
            results[perCall] = result
        }
        let five = try #require(results[5]), ten = try #require(results[10])
        // The same answers, so the same metrics (the units are selected alike: same ids).
        let fiveAnswers = try Self.answers(five), tenAnswers = try Self.answers(ten)
        #expect(fiveAnswers.count > 100 && fiveAnswers == tenAnswers)
        for scorer in ["detection", "fuzzing"] {
            let a = try #require(five.summary.scorer(scorer)?.byKind["feature"]), b = try #require(ten.summary.scorer(scorer)?.byKind["feature"])
            #expect(a.median == b.median && a.mean == b.mean && (a.median ?? 0) > 0.9, "\(scorer): \(a) vs \(b)")
        }
        // Half the calls, fewer prompt tokens (the instructions sent half as often).
        let usage = { (result: RunResult, stage: String) in try #require(try result.store.stageUsage().first { $0.stage == stage }) }
        for stage in ["detection", "fuzzing"] {
            let a = try usage(five, stage), b = try usage(ten, stage)
            #expect(b.calls * 2 <= a.calls + a.units && b.calls < a.calls, "\(stage) calls: \(a.calls) vs \(b.calls)")
            #expect(b.promptTokens < a.promptTokens, "\(stage) prompt tokens: \(a.promptTokens) vs \(b.promptTokens)")
        }
        // A good first explanation is asked once: one explain call per unit.
        let explain = try usage(ten, "explain")
        #expect(explain.calls == 5 && explain.units == 5)
    }
}
}
