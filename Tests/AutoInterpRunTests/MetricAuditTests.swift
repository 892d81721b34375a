import AutoInterpLLM
import AutoInterpTestSupport
import Foundation
import Testing

@testable import AutoInterp

/// Issue 22, item 3: `autointerp audit` makes a broader and a narrower variant of a sample of a
/// run's explanations, scores them with every scorer the run has, reports per scorer the share
/// of units whose score drops, and keeps the variants out of every headline.
extension PipelineSuites {
@Suite(.serialized) struct MetricAuditTests {
    /// A unit's own score and each variant's, by scorer name.
    static func scores(_ store: RunStore, runID: Int64, unit: UnitRef, scorers: [ReportScorer]) throws
        -> (own: [String: Double], variants: [String: [String: Double]])
    {
        let id = try #require(try store.unitID(runID: runID, unit: unit))
        let own = try #require(try store.progress(unitID: id))
        var mine: [String: Double] = [:]
        for s in scorers { if let v = own.value(s.metric, s.subset) ?? nil { mine[s.name] = v } }
        var variants: [String: [String: Double]] = [:]
        for audit in try store.auditExplanations(runID: runID) where audit.unitID == id {
            let view = try #require(try store.progress(unitID: id, explanationID: audit.id))
            for s in scorers { if let v = view.value(s.metric, s.subset) ?? nil { variants[audit.auditVariant ?? "", default: [:]][s.name] = v } }
        }
        return (mine, variants)
    }

    /// Nothing of the audit shows in a headline: progress, summary, report, export.
    static func expectAuditRowsHidden(_ result: RunResult, summaryBefore: RunSummary) throws {
        let store = result.store, run = result.run
        #expect(try store.progress(runID: run.id).allSatisfy { $0.explanation?.isAudit != true })
        #expect(try store.explanations(runID: run.id).allSatisfy { !$0.isAudit })
        let summary = try RunSummary.collect(store: store, run: run, reports: [], usage: nil, stoppedEarly: nil, simulatorMode: nil)
        #expect(summary.scorers == summaryBefore.scorers && summary.scored == summaryBefore.scored)
        let report = try RunReport.load(from: store, run: run)
        #expect(report.explainerCounts["audit"] == nil && report.units.allSatisfy { $0.explanation?.explainer != "audit" })
        #expect(try ExplanationExport.rows(store: store, run: run).allSatisfy { $0.explainer != "audit" })
    }

    @Test func scriptedEndpointNarrowerDropsSimulationAndBroaderDropsFuzzing() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let (dataset, sae) = try ScriptedRun.writeDataset(in: dir, contexts: 120)
        let endpoint = try TestEndpoint(TestEndpoint.Configuration(handler: ScriptedLLM().handler))
        defer { endpoint.stop() }
        var request = try ScriptedRun.request(dir: dir, dataset: dataset, sae: sae, features: "0-2", neurons: "0", endpoint: endpoint.baseURL)
        request.stages = [.explain, .simulate, .score, .detection, .fuzzing]
        request.controls = .none
        let result = try await RunCoordinator(logger: DetectionTests.quietLogger()).run(request)
        #expect(result.summary.isComplete, "\(result.summary.text)")
        let before = result.summary

        var audit = MetricAudit.Request(run: "run", resultsFolder: dir.path("results"), units: 3, endpoint: request.endpoint)
        audit.prompts = ScriptedRun.promptsFolder
        let outcome = try await MetricAudit(logger: DetectionTests.quietLogger()).run(audit)
        #expect(outcome.units == 3 && outcome.variants == ["broader": 3, "narrower": 3], "\(outcome.text)")
        #expect(outcome.method == "test-model" && outcome.notes.isEmpty, "\(outcome.notes)")
        #expect(Set(outcome.rows.map(\.scorer)) == ["simulation", "detection", "fuzzing"])

        // The planted animal feature: "only the word ..." misses the other animals, "any word" fires everywhere.
        let store = result.store
        let planted = try Self.scores(store, runID: result.run.id, unit: UnitRef(.feature, 0), scorers: result.catalog.scorers)
        let ownSimulation = try #require(planted.own["simulation"]), ownFuzzing = try #require(planted.own["fuzzing"])
        let narrower = try #require(planted.variants["narrower"]), broader = try #require(planted.variants["broader"])
        #expect(try #require(narrower["simulation"]) < ownSimulation - 0.1, "\(planted)")
        #expect(try #require(broader["fuzzing"]) < ownFuzzing - 0.1, "\(planted)")
        let texts = try store.auditExplanations(runID: result.run.id).map(\.text)
        #expect(texts.contains("any word") && texts.contains { $0.hasPrefix("only the word") }, "\(texts)")
        // The table counts these drops, with intervals.
        let simulationNarrower = try #require(outcome.rows.first { $0.scorer == "simulation" && $0.variant == .narrower })
        #expect(simulationNarrower.pairs >= 1 && (simulationNarrower.drops ?? 0) > 0 && simulationNarrower.dropsCI != nil)
        #expect(outcome.text.contains("narrower (too specific)") && outcome.text.contains("simulation"))
        #expect(FileManager.default.fileExists(atPath: dir.path("results/run/audit.json").path))

        // Kept out of every headline; a rerun of the audit asks nothing and stores nothing new.
        try Self.expectAuditRowsHidden(result, summaryBefore: before)
        let calls = endpoint.requestCount
        let again = try await MetricAudit(logger: DetectionTests.quietLogger()).run(audit)
        #expect(again.rows == outcome.rows && endpoint.requestCount == calls)
        #expect(try store.auditExplanations(runID: result.run.id).count == 6)
        // The run itself resumes as done, with the same headline.
        let rerun = try await RunCoordinator(logger: DetectionTests.quietLogger()).run(request)
        #expect(rerun.summary.scorers == before.scorers && rerun.summary.isComplete)

        // A run explained by an LLM needs its endpoint again, with its model.
        let missing = await #expect(throws: AutoInterpError.self) {
            _ = try await MetricAudit(logger: DetectionTests.quietLogger()).run(MetricAudit.Request(run: "run", resultsFolder: dir.path("results")))
        }
        #expect(missing?.option == .endpoint && missing?.problem.contains("`model` test-model") == true)
    }

    @Test func localBaselineVariantsAreTheBaselinesOwnAndNarrowerDropsSimulation() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let (dataset, sae) = try BaselinePipelineTests.dataset(dir)
        var request = try BaselinePipelineTests.request(dir, dataset: dataset, sae: sae, features: "0-5", neurons: "0-3")
        request.controls = .none
        let result = try await RunCoordinator(logger: BaselinePipelineTests.quietLogger()).run(request)
        #expect(result.summary.isComplete, "\(result.summary.text)")
        let before = result.summary

        let outcome = try await MetricAudit(logger: BaselinePipelineTests.quietLogger())
            .run(MetricAudit.Request(run: "local", resultsFolder: dir.path("results"), units: 6))
        #expect(outcome.units == 6 && outcome.method == "local-n2g", "\(outcome.text)")
        #expect((outcome.variants["broader"] ?? 0) >= 4, "\(outcome.text)")
        let store = result.store
        // Every variant is scored without a failure (the simulator re-derives the varied patterns).
        for audit in try store.auditExplanations(runID: result.run.id) {
            #expect(audit.explainer == "audit" && audit.model == "none")
            #expect(try store.simulations(explanationID: audit.id).allSatisfy(\.isOK))
        }
        // Too specific: the narrower patterns miss part of where the unit fires, and the simulation notices.
        let narrower = try #require(outcome.rows.first { $0.scorer == "simulation" && $0.variant == .narrower })
        #expect(narrower.pairs >= 1 && (narrower.drops ?? 0) >= 0.5, "\(outcome.text)")
        // Too generic: the broader patterns fire on the records' other tokens; fuzzing notices.
        let broader = try #require(outcome.rows.first { $0.scorer == "fuzzing" && $0.variant == .broader })
        #expect(broader.pairs >= 4 && (broader.drops ?? 0) >= 0.5, "\(outcome.text)")
        try Self.expectAuditRowsHidden(result, summaryBefore: before)

        // A changed units count audits more units, reusing the stored variants.
        let more = try await MetricAudit(logger: BaselinePipelineTests.quietLogger())
            .run(MetricAudit.Request(run: "local", resultsFolder: dir.path("results"), units: 10))
        #expect(more.units == 10)
        let bad = await #expect(throws: AutoInterpError.self) {
            _ = try await MetricAudit(logger: BaselinePipelineTests.quietLogger())
                .run(MetricAudit.Request(run: "local", resultsFolder: dir.path("results"), units: 0))
        }
        #expect(bad?.option == .auditUnits)
    }
}
}
