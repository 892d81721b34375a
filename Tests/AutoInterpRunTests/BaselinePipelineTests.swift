import AutoInterpLLM
import AutoInterpTestSupport
import Foundation
import Logging
import Testing

@testable import AutoInterp

/// `--explainer local` end to end on the planted dataset: the LLM-free baseline is stored like
/// LLM results, scores the planted units near 1, resumes, and needs no network.
struct BaselinePipelineTests {
    static func quietLogger() -> Logger {
        var logger = Logger(label: "test.baseline")
        logger.logLevel = .critical
        return logger
    }

    /// A planted dataset (300 contexts × 16 tokens, width 16) and its SAE.
    static func dataset(_ dir: TemporaryDirectory) throws -> (dataset: URL, sae: URL) {
        let dataset = dir.path("acts.safetensors")
        try SyntheticDataset.write(to: dataset, contexts: 300, length: 16, width: 16, seed: 11)
        try SyntheticDataset.writeSAE(to: dir.path("sae"), width: 16, seed: 11)
        return (dataset, dir.path("sae"))
    }

    /// A local run request with no endpoint.
    static func request(_ dir: TemporaryDirectory, dataset: URL, sae: URL, features: String = "all", neurons: String = "0-3") throws -> RunRequest {
        RunRequest(
            setup: RunSetup.Request(
                name: "local", resultsFolder: dir.path("results"), activations: dataset, sae: sae, features: try UnitSpec(parsing: features),
                neurons: try UnitSpec(parsing: neurons), selection: ScriptedRun.smallSelection),
            endpoint: nil, explainer: .local)
    }

    @Test func plantedUnitsScoreNearOneAndRerunsDoNothing() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let (dataset, sae) = try Self.dataset(dir)
        let request = try Self.request(dir, dataset: dataset, sae: sae)
        let summary = try await RunCoordinator(logger: Self.quietLogger()).run(request).summary
        #expect(summary.stoppedEarly == nil && summary.failures.isEmpty, "\(summary.text)")
        #expect(summary.units == 11 && summary.scored == 11, "\(summary.text)")
        #expect(summary.simulatorMode == "pattern" && summary.calls == 0)
        #expect(summary.remarks.contains { $0.contains("rubric stage skipped") })
        #expect(summary.text.contains("note: rubric stage skipped"))
        // The summary carries each column's 95% bootstrap intervals (summary.json too) and prints them.
        let simulation = try #require(summary.scorers.first { $0.scorer.name == "simulation" })
        let features = try #require(simulation.byKind["feature"])
        let medianCI = try #require(features.medianCI)
        #expect(medianCI.contains(try #require(features.median)) && features.shareAboveCI.count == simulation.scorer.thresholds.count)
        #expect(simulation.featuresMinusNeuronsCI?.contains(try #require(simulation.featuresMinusNeurons)) == true)
        #expect(summary.text.contains("simulation median \(RunSummary.number(features.median)) ["))
        #expect(summary.text.contains("features − neurons"))
        let json = String(decoding: try JSONEncoder().encode(summary), as: UTF8.self)
        #expect(json.contains("\"medianCI\":[") && json.contains("\"featuresMinusNeuronsCI\":["))

        let store = try RunStore(url: request.setup.databaseURL)
        let run = try #require(try store.run(named: "local"))
        #expect(run.status == .done)
        let pipeline = try #require(try RunConfig.decode(run.configJSON).pipeline)
        #expect(pipeline.explainer == "local-n2g" && pipeline.model == "none" && pipeline.endpoint == "none")
        #expect(pipeline.baseline == PatternSet.Parameters() && pipeline.prompts.isEmpty)

        var spearman: [UnitRef: Double] = [:]
        for unit in try store.units(runID: run.id) {
            let explanations = try store.explanations(unitID: unit.id)
            let explanation = try #require(explanations.first)
            #expect(explanations.count == 1)
            #expect(explanation.explainer == "local-n2g" && explanation.model == "none" && explanation.text.hasPrefix("fires on "))
            #expect(explanation.text.count <= 200)
            // Simulations: every scored record, ok, one prediction per token, mode "pattern".
            let simulations = try store.simulations(explanationID: explanation.id)
            let wanted = try store.examples(unitID: unit.id, role: .score, subset: .top).count
                + store.examples(unitID: unit.id, role: .score, subset: .random).count
            #expect(simulations.count == wanted)
            #expect(simulations.allSatisfy { $0.isOK && $0.mode == "pattern" && $0.predicted?.count == $0.tokens.count })
            #expect(simulations.allSatisfy { $0.predicted!.allSatisfy { (0...10).contains($0) } })
            // Scores: the six, recomputable from the stored simulations.
            let scores = try store.scores(explanationID: explanation.id).filter { StoredScore.Metric.allCases.contains($0.metric) }
            #expect(scores.count == 6)
            for score in scores {
                #expect(score.value == PipelineSuites.PipelineTests.recomputed(simulations, subset: score.subset, metric: score.metric))
            }
            #expect(try store.rubricRatings(explanationID: explanation.id).isEmpty)
            spearman[unit.unit] = scores.first { $0.metric == .spearman && $0.subset == .all }?.value ?? -2
        }
        // Feature i is planted concept i: 0 = animal (a token unit), 4 = after-comma (a context unit).
        let animal = try #require(spearman[UnitRef(.feature, 0)])
        let afterComma = try #require(spearman[UnitRef(.feature, 4)])
        let afterThe = try #require(spearman[UnitRef(.feature, 3)])
        #expect(animal > 0.8, "animal \(animal)")
        #expect(afterComma > 0.8, "after-comma \(afterComma)")
        #expect(afterThe > 0.8, "after-the \(afterThe)")
        // The neurons past 0 mix several concepts: the baseline explains them worse.
        for n in 1...3 {
            let mixed = try #require(spearman[UnitRef(.neuron, n)])
            #expect(mixed < min(animal, afterComma) - 0.1, "neuron \(n): \(mixed) vs \(animal), \(afterComma)")
        }
        let commaID = try #require(try store.unitID(runID: run.id, unit: UnitRef(.feature, 4)))
        #expect(try store.explanations(unitID: commaID).first?.text.contains(#"any token after ",""#) == true)

        // Running again: nothing to do, nothing duplicated.
        let again = try await RunCoordinator(logger: Self.quietLogger()).run(request).summary
        #expect(again.unitsWorked == 0 && again.scored == 11)
        #expect(try store.explanations(runID: run.id).count == 11)
        #expect(FileManager.default.fileExists(atPath: dir.path("results/local/summary.json").path))

        // A changed baseline setting is a changed config.
        var changed = request
        changed.baseline.maxContext = 1
        do {
            _ = try await RunCoordinator(logger: Self.quietLogger()).run(changed).summary
            Issue.record("a changed baseline setting was accepted")
        } catch let error as AutoInterpError {
            #expect(error.message.contains("baseline settings") && error.description.contains("`force new`"))
        }
        // So is switching to the LLM explainer.
        let stored = try #require(try RunConfig.decode(run.configJSON).pipeline)
        var llm = stored
        llm.explainer = "llm"
        llm.baseline = nil
        #expect(llm.differences(from: stored) == ["baseline settings", "explainer"])
    }

    @Test func explanationsFirstThenSimulationsRederiveThePatterns() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let (dataset, sae) = try Self.dataset(dir)
        var request = try Self.request(dir, dataset: dataset, sae: sae, features: "0,4", neurons: "none")
        request.stages = [.explain]
        let first = try await RunCoordinator(logger: Self.quietLogger()).run(request).summary
        #expect(first.scored == 0 && first.unitsWorked == 2)
        let store = try RunStore(url: request.setup.databaseURL)
        let run = try #require(try store.run(named: "local"))
        let texts = try store.explanations(runID: run.id).map(\.text)

        // A later invocation simulates from the patterns re-derived from the stored examples.
        request.stages = [.explain, .simulate, .score]
        let second = try await RunCoordinator(logger: Self.quietLogger()).run(request).summary
        #expect(second.scored == 2 && second.failures.isEmpty, "\(second.text)")
        #expect(try store.explanations(runID: run.id).map(\.text) == texts)
        for explanation in try store.explanations(runID: run.id) {
            #expect(try store.simulations(explanationID: explanation.id).allSatisfy(\.isOK))
        }
        #expect(second.remarks.isEmpty)  // no rubric asked, none skipped
    }

    @Test func localRunsWithAJudgeRateWithTheLLM() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let (dataset, sae) = try Self.dataset(dir)
        let endpoint = try TestEndpoint(TestEndpoint.Configuration(handler: ScriptedLLM().handler))
        defer { endpoint.stop() }
        var request = try ScriptedRun.request(dir: dir, dataset: dataset, sae: sae, features: "0", neurons: "none", endpoint: endpoint.baseURL)
        request.explainer = .local
        let summary = try await RunCoordinator(logger: Self.quietLogger()).run(request).summary
        // The only note: no --embedder, so the embedding scorer is left out.
        #expect(summary.scored == 1 && summary.remarks.allSatisfy { $0.contains("embedding stage skipped") }, "\(summary.text)")
        // The judge rates up to 10 examples a call (the other calls probe the endpoint's structured outputs).
        let rated = summary.ratings.values.reduce(0, +)
        let judged = try RunStore(url: request.setup.databaseURL).llmCalls().count { $0.stage == "rubric" }
        #expect(summary.calls > judged && judged == (rated + LLMRubricJudge.defaultBatchSize - 1) / LLMRubricJudge.defaultBatchSize)
        let store = try RunStore(url: request.setup.databaseURL)
        let run = try #require(try store.run(named: "run"))
        let pipeline = try #require(try RunConfig.decode(run.configJSON).pipeline)
        #expect(pipeline.judgeModel == "test-model" && pipeline.model == "none" && pipeline.prompts.keys.sorted() == ["rubric"])
        let explanation = try #require(try store.explanations(runID: run.id).first)
        #expect(try store.rubricRatings(explanationID: explanation.id).allSatisfy { $0.judgeModel == "test-model" })
        // Only the judge talked to the endpoint, after one structured-output probe.
        let probes = endpoint.seenRequests.filter { $0.request?.responseFormat?.type == "json_schema" && $0.request?.messages.contains { $0.content.contains("\"color\"") } == true }
        #expect(probes.count == 1)
        #expect(endpoint.seenRequests.count == probes.count + judged)
        #expect(endpoint.seenRequests.filter { seen in !probes.contains { $0.number == seen.number } }.allSatisfy { $0.request?.messages.contains { $0.content.contains("[[") } == true })
    }

    @Test func cliRunsWithoutAnEndpoint() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let (dataset, sae) = try Self.dataset(dir)
        let args = [
            "run", "--explainer", "local", "--activations", dataset.path, "--sae", sae.path, "--features", "0,4", "--neurons", "1",
            "--name", "cli", "--results", dir.path("results").path, "--quiet",
        ]
        let result = try CLIRunner.run(args)
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("3 units, 3 scored"), "\(result.stdout)")
        #expect(result.stdout.contains("simulator mode pattern") && result.stdout.contains("note: rubric stage skipped"))
        #expect(result.stdout.contains("report: "))
        #expect(FileManager.default.fileExists(atPath: dir.path("results/cli/report.html").path))
        #expect(FileManager.default.fileExists(atPath: dir.path("results/cli/report.md").path))
        let again = try CLIRunner.run(args)
        #expect(again.status == 0 && again.stdout.contains("3 units, 3 scored"), "\(again.stderr)")

        let rubric = try CLIRunner.run(args.map { $0 == "cli" ? "cli2" : $0 } + ["--stages", "explain,rubric"])
        #expect(rubric.status == 1 && rubric.stderr.split(separator: "\n").count == 1, "\(rubric.stderr)")
        #expect(rubric.stderr.contains("rubric stage needs an LLM judge") && rubric.stderr.contains("--endpoint"))
        let changed = try CLIRunner.run(args + ["--pattern-context", "1"])
        #expect(changed.status == 1 && changed.stderr.contains("baseline settings"), "\(changed.stderr)")
    }
}
