import AutoInterpLLM
import AutoInterpTestSupport
import Foundation
import Logging
import Testing

@testable import AutoInterp

/// The stage logic with explainer, simulator and judge that are not LLMs: what a local baseline
/// plugs in through the same protocols is stored exactly like LLM results; dead units are skipped.
struct PipelineStubTests {
    struct StubExplainer: UnitExplainer {
        var name: String { "local" }
        var model: String { "pattern" }
        func explain(unit: UnitRef, examples: [ExampleRecord], sample: Int) async throws -> ExplanationResult {
            ExplanationResult(text: "the word cat")
        }
    }

    struct StubSimulator: ActivationSimulator {
        var mode: String { "pattern" }
        func simulate(explanation: String, records: [[String]]) async throws -> [SimulationOutcome] {
            records.enumerated().map { i, tokens in
                i == 1 ? .failed(reason: "stub failure") : .predicted(tokens.map { $0 == "cat" ? 1 : 0 })
            }
        }
    }

    struct StubJudge: RubricJudge {
        var model: String { "stub-judge" }
        func rate(explanation: String, example: RubricExample) async throws -> RubricVerdict {
            example.tokens[example.markedIndex] == "cat" ? .rated(3, reason: "cat") : .rated(0, reason: nil)
        }
    }

    static func record(_ role: ExampleRole, _ subset: ExampleSubset, _ context: Int, bin: Int? = nil, _ acts: [Float]) -> ExampleRecord {
        let tokens = ["the", "cat", "runs"]
        return ExampleRecord(role: role, subset: subset, context: context, bin: bin, tokenIDs: [0, 1, 2], tokens: tokens, activations: acts)
    }

    @Test func pluggableImplementationsAreStoredLikeLLMOnes() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let store = try RunStore(url: dir.path("r.sqlite"))
        let run = try store.createRun(name: "r", configJSON: "{}")
        let live = UnitStatistics(unit: UnitRef(.feature, 3), maxActivation: 2, density: 0.1, tokenCount: 30, histogram: ActivationHistogram(max: 2, counts: [], zeroCount: 0))
        let dead = UnitStatistics(unit: UnitRef(.neuron, 7), maxActivation: 0, density: 0, tokenCount: 30, histogram: ActivationHistogram(max: 0, counts: [], zeroCount: 30))
        try store.saveUnit(runID: run.id, statistics: live, examples: [
            Self.record(.explain, .top, 0, [0, 2, 0]),
            Self.record(.score, .top, 1, [0, 1.5, 0]), Self.record(.score, .top, 2, [0.1, 1, 0]),
            Self.record(.score, .random, 3, [0, 0, 0.2]), Self.record(.score, .random, 4, [0, 0.5, 0]),
            Self.record(.score, .quantile, 5, bin: 10, [0, 2, 0]), Self.record(.score, .quantile, 6, bin: 0, [0, 0, 0]),
        ])
        try store.saveUnit(runID: run.id, statistics: dead, examples: [])
        var logger = Logger(label: "test.stub")
        logger.logLevel = .critical
        let stages: [any UnitStage] = [
            ExplainStage(explainer: StubExplainer()), SimulateStage(simulator: StubSimulator()), ScoreStage(), RubricStage(judge: StubJudge()),
        ]
        let runner = UnitStageRunner(store: store, stages: stages, logger: logger)
        let (reports, stopped) = try await UnitScheduler(runner: runner, unitsInFlight: 2, logger: logger).run(run)
        #expect(stopped == nil)
        let deadReport = try #require(reports.first { $0.unit == UnitRef(.neuron, 7) })
        #expect(deadReport.status == .dead && deadReport.reason?.contains("never fires") == true)

        let unitID = try #require(try store.unitID(runID: run.id, unit: live.unit))
        let explanation = try #require(try store.explanations(unitID: unitID).first)
        #expect(explanation.explainer == "local" && explanation.model == "pattern" && explanation.text == "the word cat")
        let simulations = try store.simulations(explanationID: explanation.id)
        #expect(simulations.count == 4 && simulations.allSatisfy { $0.mode == "pattern" })
        #expect(simulations.filter { !$0.isOK }.map(\.outcome) == [.failed(reason: "stub failure"), .failed(reason: "stub failure")])
        let scores = try store.scores(explanationID: explanation.id)
        #expect(scores.count == 6)
        // Record 1 of each subset failed: no subset is scored over part of its records.
        for score in scores {
            #expect(score.value == nil && score.undefinedReason?.contains("failed to simulate") == true, "\(score)")
        }
        let ratings = try store.rubricRatings(explanationID: explanation.id)
        #expect(ratings.map(\.rating) == [3, 0] && ratings.map(\.bin) == [10, 0] && ratings.map(\.activation) == [2, 0])
        #expect(ratings.allSatisfy { $0.judgeModel == "stub-judge" })

        let summary = try RunSummary.collect(store: store, run: run, reports: reports, usage: nil, stoppedEarly: nil, simulatorMode: nil)
        #expect(summary.failures["dead"] == 1 && summary.failures["simulation"] == 2)
        #expect(summary.notes.map(\.kind) == ["simulate", "dead"])
        #expect(summary.notes.first?.reason.contains("rerun to retry") == true)
        #expect(!summary.isComplete)
        let histogram = try #require(summary.rubricByKind["feature"])
        #expect(histogram.counts[10] == [0, 0, 0, 1] && histogram.counts[0] == [1, 0, 0, 0])
        #expect(histogram.markdown.contains("| 10 | 0 | 0 | 0 | 1 | 1.00 |"))

        // A second pass asks again for the failed records only (one per subset now, which the
        // stub answers), then scores the whole subsets.
        let again = try await UnitScheduler(runner: runner, logger: logger).run(run)
        #expect(again.reports.first { $0.unit == live.unit }?.status == .complete)
        let retried = try store.simulations(explanationID: explanation.id)
        #expect(retried.count == 4 && retried.allSatisfy(\.isOK))
        #expect(try store.scores(explanationID: explanation.id).allSatisfy { $0.value != nil })
        #expect(try store.explanations(unitID: unitID).count == 1)
        // A third pass finds nothing to do.
        let third = try await UnitScheduler(runner: runner, logger: logger).run(run)
        #expect(third.reports.allSatisfy { $0.storedSomething == false })
    }
}
