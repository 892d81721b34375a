import AutoInterpLLM
import AutoInterpTestSupport
import Foundation
import Logging
import Testing

@testable import AutoInterp

/// The heavy pipeline suites. Each suite runs its tests one at a time (they send hundreds of
/// requests and spawn processes), but the suites run side by side with each other and the rest of
/// the run: one chain of them all was the test run's critical path (issue 24).
@Suite struct PipelineSuites {}

/// `autointerp run` end to end in process, against the local test endpoint scripted by ``ScriptedLLM``.
extension PipelineSuites {
@Suite(.serialized) struct PipelineTests {
    static func quietLogger() -> Logger {
        var logger = Logger(label: "test.pipeline")
        logger.logLevel = .critical
        return logger
    }

    /// Recomputes the six scores of an explanation from its stored simulations.
    static func recomputed(_ simulations: [StoredSimulation], subset: StoredScore.Subset, metric: StoredScore.Metric) -> Double? {
        let records = simulations.filter { subset == .all || $0.subset.rawValue == subset.rawValue }
            .compactMap { s in s.predicted.map { (true: s.trueActivations, pred: $0) } }
        let result = CorrelationScorer.score(records: records)
        return metric == .spearman ? result.spearman.value : result.pearson.value
    }

    @Test(arguments: [SimulatorMode.sparse, .auto, .json])
    func endToEndCleanUnitOutscoresMixedUnit(mode: SimulatorMode) async throws {
        let fixture = try ScriptedRunFixture()
        defer { fixture.remove() }
        let endpoint = try fixture.endpoint()
        var request = try fixture.request(features: "0", neurons: "0-2", endpoint: endpoint.baseURL)
        request.simulatorMode = mode
        let summary = try await RunCoordinator(logger: Self.quietLogger()).run(request).summary
        #expect(summary.stoppedEarly == nil)
        #expect(summary.simulatorMode == (mode == .auto ? "logprobs" : mode.rawValue))
        #expect(summary.units == 4 && summary.scored == 4, "\(summary.text)")
        #expect(summary.failures.isEmpty, "\(summary.text)")

        let store = try RunStore(url: request.setup.databaseURL)
        let run = try #require(try store.run(named: "run"))
        #expect(run.status == .done)
        let config = try RunConfig.decode(run.configJSON)
        let pipeline = try #require(config.pipeline)
        // The templates and, since the few-shot examples are files, their few-shot files.
        #expect(pipeline.prompts.keys.sorted() == [
            "detection", "explainer", "few-shot-explainer", "few-shot-simulator-json", "few-shot-simulator-logprobs", "fuzzing", "intruder",
            "rubric", "simulator-json", "simulator-logprobs", "simulator-sparse",
        ])
        #expect(pipeline.prompts["explainer"]?.sha256.count == 64)

        var spearman: [UnitRef: Double] = [:]
        for unit in try store.units(runID: run.id) {
            let explanations = try store.explanations(unitID: unit.id)
            #expect(explanations.count == 1)
            let explanation = try #require(explanations.first)
            #expect(explanation.promptHash == pipeline.prompts["explainer"]?.sha256)
            #expect(explanation.requestHash != nil && explanation.explainer == "llm" && explanation.model == "test-model")
            let simulations = try store.simulations(explanationID: explanation.id)
            #expect(simulations.count == 15)
            #expect(simulations.allSatisfy { $0.isOK && $0.mode == summary.simulatorMode && $0.predicted?.count == $0.tokens.count })
            // The score stage's six (the detection and fuzzing metrics are checked in DetectionTests).
            let scores = try store.scores(explanationID: explanation.id).filter { StoredScore.Metric.allCases.contains($0.metric) }
            #expect(scores.count == 6)
            for score in scores {
                let again = Self.recomputed(simulations, subset: score.subset, metric: score.metric)
                #expect(score.value == again, "\(unit.unit) \(score.metric) \(score.subset)")
            }
            spearman[unit.unit] = scores.first { $0.metric == .spearman && $0.subset == .all }?.value ?? -2
            let ratings = try store.rubricRatings(explanationID: explanation.id)
            let quantile = try store.examples(unitID: unit.id, role: .score, subset: .quantile)
            #expect(ratings.count == quantile.count && !ratings.isEmpty)
            #expect(Set(ratings.map(\.bin)).contains(0))
            #expect(ratings.allSatisfy { $0.judgeModel == "test-model" && (0...3).contains($0.rating) })
        }
        // The clean units fire on animal words and are explained as such. The SAE feature (exact
        // zeros elsewhere) outscores the neurons that mix several concepts; neuron 0 carries the
        // animal direction alone but with noise on every other token, which caps its Spearman.
        for clean in [UnitRef(.feature, 0), UnitRef(.neuron, 0)] {
            let id = try #require(try store.unitID(runID: run.id, unit: clean))
            #expect(try store.explanations(unitID: id).first?.text == "animal words")
        }
        let clean = try #require(spearman[UnitRef(.feature, 0)])
        #expect(clean > 0.9)
        #expect(clean > spearman[UnitRef(.neuron, 1)]! + 0.2 && clean > spearman[UnitRef(.neuron, 2)]! + 0.2)
        // Histogram view: per unit and bin, rating counts add up to the ratings stored.
        let histogram = try store.rubricHistogram(runID: run.id)
        #expect(histogram.reduce(0) { $0 + $1.count } == summary.ratings.values.reduce(0, +))
        // The clean unit's activating examples are rated 3, its non-activating ones lower.
        let cleanRows = histogram.filter { $0.unit == UnitRef(.feature, 0) }
        #expect(cleanRows.filter { $0.bin >= 1 }.allSatisfy { $0.rating == 3 })
        #expect(cleanRows.filter { $0.bin == 0 }.allSatisfy { $0.rating < 3 })

        // Running again: nothing left, no network request, nothing duplicated.
        let before = endpoint.requestCount
        let again = try await RunCoordinator(logger: Self.quietLogger()).run(request).summary
        #expect(endpoint.requestCount == before)
        #expect(again.scored == 4 && again.unitsWorked == 0)
        #expect(try store.explanations(runID: run.id).count == 4)
        #expect(FileManager.default.fileExists(atPath: fixture.dir.path("results/run/summary.json").path))
    }

    @Test func garbageSimulatorGivesFailedSimulationsAndUndefinedScores() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let (dataset, _) = try ScriptedRun.writeDataset(in: dir)
        let endpoint = try TestEndpoint(TestEndpoint.Configuration(handler: ScriptedLLM(simulator: .badJSON, judge: .garbage).handler))
        defer { endpoint.stop() }
        var request = try ScriptedRun.request(dir: dir, dataset: dataset, neurons: "1", endpoint: endpoint.baseURL)
        request.simulatorMode = .json
        let summary = try await RunCoordinator(logger: Self.quietLogger()).run(request).summary
        let store = try RunStore(url: request.setup.databaseURL)
        let run = try #require(try store.run(named: "run"))
        let quantile = try store.units(runID: run.id).reduce(0) { $0 + (try store.examples(unitID: $1.id, role: .score, subset: .quantile).count) }
        #expect(summary.stoppedEarly == nil)
        #expect(summary.failures["simulation"] == 15)
        #expect(summary.failures["undefined-score"] == 1)
        #expect(summary.failures["rubric"] == quantile)
        #expect(summary.ratings.isEmpty)
        #expect(!summary.isComplete)
        #expect(summary.text.contains("run finished with failures"))
        #expect(run.status == .incomplete)
        for score in try store.scores(runID: run.id) where StoredScore.Metric.allCases.contains(score.score.metric) {
            #expect(score.score.value == nil)
            #expect(score.score.undefinedReason?.contains("failed") == true)
        }
        // The five top records are one batch (asked and retried); the ten random ones, still
        // failing after their retry, are asked again in two halves of five.
        let garbage = "the simulator's answer is not valid JSON: {\"1\": [[\"the\", 0], oops (after one retry)"
        var reasons: [String: Int] = [:]
        for explanation in try store.explanations(runID: run.id) {
            for simulation in try store.simulations(explanationID: explanation.id) {
                #expect(simulation.predicted == nil)
                if case .failed(let reason) = simulation.outcome { reasons[reason, default: 0] += 1 }
            }
        }
        #expect(reasons == [garbage: 5, garbage + " (asked again in a batch of 5)": 10])
    }

    /// The sparse simulator gives the same Spearman as the dense JSON one on the scripted endpoint,
    /// unit by unit, and its stage costs are in the summary and the report.
    @Test func sparseAndDenseSimulationsAgree() async throws {
        var spearman: [SimulatorMode: [UnitRef: Double?]] = [:]
        for mode in [SimulatorMode.sparse, .json] {
            let fixture = try ScriptedRunFixture()
            defer { fixture.remove() }
            let endpoint = try fixture.endpoint()
            var request = try fixture.request(features: "0-3", neurons: "0-3", endpoint: endpoint.baseURL)
            request.simulatorMode = mode
            let result = try await RunCoordinator(logger: Self.quietLogger()).run(request)
            for unit in try result.store.progress(runID: result.run.id) {
                spearman[mode, default: [:]][unit.unit.unit] = unit.score(.spearman, .all) ?? nil
            }
            // Calls and tokens per stage, in the summary and in the report; the controls' simulations
            // (as many as the units') are counted under simulate.
            let stages = Dictionary(uniqueKeysWithValues: result.summary.stages.map { ($0.stage, $0) })
            #expect(stages["explain"]?.calls == 8 && stages["simulate"]?.calls == 2 * 8 * 2 && (stages["rubric"]?.calls ?? 0) >= 8)
            #expect(result.summary.controls?.scored == 8)
            #expect(result.summary.text.contains("LLM by stage"))
            let report = try RunReport.load(from: result.store, run: result.run)
            #expect(report.stages == result.summary.stages)
            #expect(MarkdownReport(report).render().contains("tokens per unit"))
        }
        #expect(spearman[.sparse]?.count == 8)
        #expect(spearman[.sparse] == spearman[.json])
    }

    /// A probe that fails for a passing reason pins nothing; the next run probes again and pins.
    @Test func capabilitiesArePinnedOnlyFromASuccessfulProbe() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let (dataset, _) = try ScriptedRun.writeDataset(in: dir, contexts: 40)
        // The first four requests (both attempts of both probe questions) get 503.
        let endpoint = try TestEndpoint(TestEndpoint.Configuration(faults: TestFaultPlan { $0 <= 4 ? .status(503) : nil }, handler: ScriptedLLM().handler))
        defer { endpoint.stop() }
        var request = try ScriptedRun.request(dir: dir, dataset: dataset, neurons: "0", endpoint: endpoint.baseURL)
        request.stages = [.explain]
        _ = try await RunCoordinator(logger: Self.quietLogger()).run(request)
        let store = try RunStore(url: request.setup.databaseURL)
        let first = try #require(try store.run(named: "run"))
        #expect(try store.capabilities(runID: first.id) == nil)
        // The next run has work left (the other stages), so it probes again.
        request.stages = nil
        _ = try await RunCoordinator(logger: Self.quietLogger()).run(request)
        let second = try #require(try store.run(named: "run"))
        let pinned = try #require(try store.capabilities(runID: second.id))
        #expect(pinned.structuredOutput == .jsonSchema && pinned.simulatorMode == .sparse)
    }

    @Test func failuresAreStoredAndAskedAgainAtMostThreeTimes() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let (dataset, _) = try ScriptedRun.writeDataset(in: dir)
        let endpoint = try TestEndpoint(TestEndpoint.Configuration(handler: ScriptedLLM(simulator: .badJSON, judge: .garbage).handler))
        defer { endpoint.stop() }
        let request = try ScriptedRun.request(dir: dir, dataset: dataset, neurons: "1", endpoint: endpoint.baseURL)
        var requests: [Int] = []
        for _ in 0..<4 {
            let before = endpoint.requestCount
            let summary = try await RunCoordinator(logger: Self.quietLogger()).run(request).summary
            requests.append(endpoint.requestCount - before)
            #expect(!summary.isComplete && summary.failures["simulation"] == 15)
        }
        // Each run asks the failed simulations and ratings again (nothing replayed from the cache)
        // until they failed three times; the fourth run has nothing left to ask.
        #expect(requests[1] > 0 && requests[2] == requests[1] && requests[3] == 0, "\(requests)")
        let store = try RunStore(url: request.setup.databaseURL)
        let attempts = try store.database.query("SELECT DISTINCT attempts FROM simulations").compactMap { $0.int("attempts") }
        #expect(attempts == [SimulateStage.maxAttempts])
        let run = try #require(try store.run(named: "run"))
        let explanation = try #require(try store.explanations(runID: run.id).first)
        let failures = try store.rubricFailures(explanationID: explanation.id)
        #expect(!failures.isEmpty && failures.allSatisfy { $0.attempts == RubricStage.maxAttempts && $0.reason.contains("not valid JSON") })
        #expect(run.status == .incomplete)
        // The report says why the rubric is empty.
        let report = try RunReport.load(from: store, run: run)
        #expect(report.rubricFailureSummary?.hasPrefix("All \(failures.count) rubric ratings failed: the judge's answer is not valid JSON") == true)
    }

    @Test func emptyExplanationsAreCountedAndRetriedOnRerun() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let (dataset, _) = try ScriptedRun.writeDataset(in: dir, contexts: 40)
        let endpoint = try TestEndpoint(TestEndpoint.Configuration(handler: ScriptedLLM(emptyExplanations: true).handler))
        defer { endpoint.stop() }
        let request = try ScriptedRun.request(dir: dir, dataset: dataset, neurons: "0", endpoint: endpoint.baseURL)
        let summary = try await RunCoordinator(logger: Self.quietLogger()).run(request).summary
        #expect(summary.failures["explanation"] == 1)
        #expect(summary.notes.first?.kind == "explain")
        #expect(summary.notes.first?.reason.contains("asked twice") == true)
        // The structured-output probe and two explainer requests; the unusable answers are not
        // cached, so a rerun asks the explainer again (the probe's answer is).
        #expect(endpoint.requestCount == 3)
        _ = try await RunCoordinator(logger: Self.quietLogger()).run(request).summary
        #expect(endpoint.requestCount == 5)
    }

    @Test func changedConfigIsRefusedButStagesAndLimitsAreNot() async throws {
        let fixture = try ScriptedRunFixture(contexts: 40)
        defer { fixture.remove() }
        let endpoint = try fixture.endpoint()
        var request = try fixture.request(neurons: "0", endpoint: endpoint.baseURL)
        request.stages = [.explain]
        let first = try await RunCoordinator(logger: Self.quietLogger()).run(request).summary
        #expect(first.scored == 0)
        // Other stages, limits and concurrency are not config changes: the run resumes.
        request.stages = Set(StageCatalog.builtIn.names)
        // Every built-in stage: the embedding scorer needs its model (adding one is no config change either).
        try EmbeddingFixture.write(to: fixture.dir.path("embedder"))
        request.embedder = fixture.dir.path("embedder")
        request.endpoint?.maxInFlight = 3
        request.unitsInFlight = 1
        let second = try await RunCoordinator(logger: Self.quietLogger()).run(request).summary
        #expect(second.scored == 1)
        // A different simulator model is.
        var changed = request
        changed.simulatorModel = "other-model"
        await #expect(throws: AutoInterpError.self) { try await RunCoordinator(logger: Self.quietLogger()).run(changed).summary }
        do {
            _ = try await RunCoordinator(logger: Self.quietLogger()).run(changed).summary
        } catch let error as AutoInterpError {
            #expect(error.message.contains("simulator model") && error.description.contains("`force new`"))
        }
        changed.setup.forceNew = true
        let replaced = try await RunCoordinator(logger: Self.quietLogger()).run(changed).summary
        #expect(replaced.scored == 1)
        // `select` on the same run leaves the pipeline settings alone.
        let prepared = try RunSetup(logger: Self.quietLogger()).prepare(request.setup)
        #expect(try RunConfig.decode(prepared.run.configJSON).pipeline?.simulatorModel == "other-model")
    }

    @Test func fatalEndpointErrorStopsTheRun() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let (dataset, _) = try ScriptedRun.writeDataset(in: dir, contexts: 40)
        let endpoint = try TestEndpoint(TestEndpoint.Configuration(faults: TestFaultPlan { $0 >= 2 ? .status(401) : nil }, handler: ScriptedLLM().handler))
        defer { endpoint.stop() }
        let request = try ScriptedRun.request(dir: dir, dataset: dataset, neurons: "0-3", endpoint: endpoint.baseURL)
        let summary = try await RunCoordinator(logger: Self.quietLogger()).run(request).summary
        #expect(summary.stoppedEarly?.contains("HTTP 401") == true, "\(summary.text)")
        #expect(summary.text.contains("stopped early"))
        // After the first refusal only requests already in flight (at most --max-in-flight) reach the endpoint.
        #expect(endpoint.requestCount <= 1 + (request.endpoint?.maxInFlight ?? 0))
        #expect(summary.scored == 0)
        let store = try RunStore(url: request.setup.databaseURL)
        #expect(try store.run(named: "run")?.status == .stopped)
    }

    @Test func bestOfSamplesKeepsOneExplanation() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let (dataset, _) = try ScriptedRun.writeDataset(in: dir, contexts: 40)
        let endpoint = try TestEndpoint(TestEndpoint.Configuration(handler: ScriptedLLM().handler))
        defer { endpoint.stop() }
        var request = try ScriptedRun.request(dir: dir, dataset: dataset, neurons: "0", endpoint: endpoint.baseURL)
        request.explainerSamples = 3
        request.stages = [.explain, .simulate, .score]
        let summary = try await RunCoordinator(logger: Self.quietLogger()).run(request).summary
        #expect(summary.scored == 1)
        // The three samples in one call (n), seeded by its first sample.
        let seeded = endpoint.seenRequests.compactMap(\.request).filter { $0.seed != nil }
        #expect(seeded.count == 1 && seeded.first?.seed == 0 && seeded.first?.n == 3)
        let store = try RunStore(url: request.setup.databaseURL)
        let run = try #require(try store.run(named: "run"))
        #expect(try store.explanations(runID: run.id).count == 1)
        // The winner's six test-half scores, its validation Spearman and Pearson and the first sample's
        // test Spearman (the winner itself here: the samples tie); each other sample's two validation scores.
        let headline = try #require(try store.explanations(runID: run.id).first)
        let scores = try store.scores(runID: run.id)
        #expect(scores.filter { $0.explanationID == headline.id }.count == 6 + 2 + 1)
        #expect(scores.filter { $0.explanationID != headline.id }.allSatisfy { $0.score.subset == .validation })
        #expect(scores.count == 9 + 2 * 2)
    }
}
}
