import AutoInterpLLM
import AutoInterpTestSupport
import Foundation
import Logging
import Testing

@testable import AutoInterp
@testable import AutoInterpDemo

/// The intruder scorer: its answer parser, its prompts (decile groups, one silent context each,
/// seeded order), and runs on the planted dataset with the local baseline and the scripted endpoint.
@Suite struct IntruderTests {
    static func quietLogger() -> Logger {
        var logger = Logger(label: "test.intruder")
        logger.logLevel = .critical
        return logger
    }

    @Test func answersParseFromJSONOrASingleNumberAndNothingElse() {
        func parsed(_ text: String) -> Int? { try? IntruderAnswer.parse(text, count: 5).get() }
        #expect(parsed(#"{"intruder": 3}"#) == 3)
        #expect(parsed(#"```json\n{"intruder": "4"}\n```"#) == 4)
        #expect(parsed(#"{"intruder": 2.0}"#) == 2)
        #expect(parsed("5") == 5)
        #expect(parsed("Example 4 is the intruder.") == 4)
        for bad in [#"{"intruder": 6}"#, #"{"intruder": 0}"#, #"{"intruder": true}"#, #"{"intruder": 2.5}"#, #"{"answer": 2}"#,
                    "{not json}", "1 or 2", "none of them", "", "Example 7"] {
            #expect(parsed(bad) == nil, "\(bad)")
        }
        guard case .failure(let failure) = IntruderAnswer.parse("1 or 2", count: 5) else { Issue.record("parsed"); return }
        #expect(failure.reason.contains("several numbers"))
    }

    /// Each prompt: four activating contexts of its decile group and one context where the unit is
    /// exactly 0 (a different one per prompt), at the stored position; the same for the same seed.
    @Test func promptsTakeFourContextsOfADecileGroupAndOneSilentOne() {
        #expect(IntruderPlan.ranges(groups: 3) == [1...3, 4...6, 7...10])
        #expect(IntruderPlan.ranges(groups: 4) == [1...2, 3...5, 6...7, 8...10])
        var examples: [StoredExample] = []
        var id: Int64 = 0
        func add(_ subset: ExampleSubset, bin: Int?, acts: [Float]) {
            id += 1
            let record = ExampleRecord(
                role: .classify, subset: subset, context: Int(id), bin: bin, tokenIDs: acts.map { _ in 0 }, tokens: acts.map { _ in "t\(id)" },
                activations: acts)
            examples.append(StoredExample(id: id, recordIndex: Int(id), record: record))
        }
        for decile in 1...10 { for _ in 0..<2 { add(.activating, bin: decile, acts: [0, Float(decile)]) } }
        for _ in 0..<4 { add(.silent, bin: nil, acts: [0, 0]) }
        add(.silent, bin: nil, acts: [0, -0.5])  // silent but not exactly 0: never an intruder
        let unit = UnitRef(.neuron, 3)
        let (prompts, skipped) = IntruderPlan.prompts(examples, unit: unit, seed: 1)
        #expect(prompts.count == 3 && skipped.isEmpty)
        let byID = Dictionary(uniqueKeysWithValues: examples.map { ($0.id, $0) })
        var intruders: Set<Int64> = []
        for prompt in prompts {
            let shown = prompt.exampleIDs.compactMap { byID[$0] }
            #expect(shown.count == 5 && Set(prompt.exampleIDs).count == 5)
            let silent = shown[prompt.intruder - 1]
            #expect(silent.record.subset == .silent && silent.record.activations.allSatisfy { $0 == 0 })
            intruders.insert(silent.id)
            let others = shown.enumerated().filter { $0.offset != prompt.intruder - 1 }.map(\.element)
            #expect(others.allSatisfy { $0.record.subset == .activating && prompt.deciles.contains($0.record.bin ?? 0) })
            #expect(prompt.contexts == shown.map(\.record.tokens))
        }
        #expect(intruders.count == 3)
        #expect(IntruderPlan.prompts(examples, unit: unit, seed: 1).prompts == prompts)
        let reseeded = (2...6).map { IntruderPlan.prompts(examples, unit: unit, seed: UInt64($0)).prompts.map(\.intruder) }
        #expect(reseeded.contains { $0 != prompts.map(\.intruder) })
        // A group without four activating contexts has no prompt, and says why.
        let (fewer, why) = IntruderPlan.prompts(examples.filter { $0.record.bin != 5 && $0.record.bin != 6 }, unit: unit, seed: 1)
        #expect(fewer.map(\.deciles) == [1...3, 7...10] && why.count == 1 && why[0].contains("deciles 4-6"))
    }

    @Test func metricsLeaveFailuresOutAndAreUndefinedWithoutAnswers() {
        let prompt = { (i: Int, d: ClosedRange<Int>) in
            IntruderPrompt(index: i, deciles: d, exampleIDs: [1, 2, 3, 4, 5], contexts: Array(repeating: ["a"], count: 5), intruder: 2)
        }
        let rows = [
            StoredIntruderAnswer(prompt: prompt(0, 1...3), outcome: .answered(2)),
            StoredIntruderAnswer(prompt: prompt(1, 4...6), outcome: .answered(4)),
            StoredIntruderAnswer(prompt: prompt(2, 7...10), outcome: .failed(reason: "no number")),
        ]
        let scores = IntruderMetrics.scores(from: rows)
        #expect(scores.first { $0.metric == .intruderAccuracy }?.value == 0.5)
        #expect(scores.first { $0.metric == .intruderAccuracy(deciles: 1...3) }?.value == 1)
        #expect(scores.first { $0.metric == .intruderAccuracy(deciles: 4...6) }?.value == 0)
        #expect(scores.first { $0.metric == .intruderAccuracy(deciles: 7...10) }?.undefinedReason?.contains("failed") == true)
        let none = IntruderMetrics.scores(from: [], skipped: ["deciles 1-3: no silent context left"])
        #expect(none.allSatisfy { $0.value == nil } && none[0].undefinedReason?.contains("no silent context") == true)
    }
}

extension PipelineSuites {
    /// The intruder stage in runs on a dataset with one planted neuron and noise neurons.
    @Suite(.serialized) struct IntruderRunTests {
        static let noiseUnits = 8

        /// Neuron 0 fires on the animal word of a context (about half of them), exactly 0 elsewhere;
        /// neurons 1… fire at one random position of a random half of the contexts, whatever the words.
        static func writeDataset(to url: URL, contexts: Int = 160, seed: UInt64 = 21) throws {
            let vocabulary = SyntheticDataset.vocabulary
            let id = Dictionary(uniqueKeysWithValues: vocabulary.enumerated().map { ($1, Int32($0)) })
            let width = 1 + noiseUnits, length = 12
            var rng = SeededGenerator(seed: seed, stream: 1)
            var tokens: [Int32] = [], activations: [Float] = []
            for _ in 0..<contexts {
                var words = (0..<10).map { _ in SyntheticDataset.function.randomElement(using: &rng)! }
                let slots = Array((0..<10).shuffled(using: &rng).prefix(2))
                let animal = Bool.random(using: &rng)
                words[slots[0]] = (animal ? SyntheticDataset.animals : SyntheticDataset.places).randomElement(using: &rng)!
                words[slots[1]] = (Bool.random(using: &rng) ? SyntheticDataset.numbers : SyntheticDataset.colours).randomElement(using: &rng)!
                let noisy = (0..<noiseUnits).map { _ in Bool.random(using: &rng) ? Int.random(in: 1...10, using: &rng) : -1 }
                for (p, word) in (["[CLS]"] + words + ["[SEP]"]).enumerated() {
                    tokens.append(id[word]!)
                    activations.append(animal && p - 1 == slots[0] ? Float.random(in: 0.5...1.5, using: &rng) : 0)
                    for n in 0..<noiseUnits { activations.append(noisy[n] == p ? Float.random(in: 0.5...1.5, using: &rng) : 0) }
                }
            }
            let specials = SyntheticDataset.special.compactMap { id[$0] }.map(String.init).joined(separator: ",")
            let writer = try DatasetWriter(
                url: url, contextLength: length, width: width, tokens: tokens, mask: nil, dtype: .F32, vocabulary: vocabulary,
                metadata: ["model": "intruder", "layer": "0", "hook": "planted", "special_token_ids": "[\(specials)]"])
            try writer.append(activations)
            try writer.finish()
        }

        static var neurons: String { "0-\(noiseUnits)" }

        /// Accuracy of neuron 0 and the mean over the noise neurons; checks every stored row on the way.
        static func accuracies(_ store: RunStore, runID: Int64, noiseUnits: Int = noiseUnits) throws -> (planted: Double, noise: Double) {
            var planted = 0.0, noise: [Double] = []
            for progress in try store.progress(runID: runID) {
                // (The scripted explainer refuses some noise neurons: the same explanation as too many others.)
                guard let explanation = progress.explanation else { continue }
                let rows = try store.intruderAnswers(unitID: progress.unit.id)
                #expect(rows.count == IntruderPlan.defaultGroups, "\(progress.unit.unit)")
                let examples = Dictionary(uniqueKeysWithValues: try store.classificationExamples(unitID: progress.unit.id).map { ($0.id, $0) })
                for row in rows {
                    let intruder = try #require(examples[row.prompt.exampleIDs[row.prompt.intruder - 1]])
                    #expect(intruder.record.activations.allSatisfy { $0 == 0 })
                    #expect(row.prompt.contexts == row.prompt.exampleIDs.map { examples[$0]?.record.tokens ?? [] })
                }
                let stored = try store.scores(explanationID: explanation.id).filter { $0.metric.rawValue.hasPrefix("intruder_") }
                #expect(stored.sorted { $0.metric.rawValue < $1.metric.rawValue }
                    == IntruderMetrics.scores(from: rows).sorted { $0.metric.rawValue < $1.metric.rawValue })
                let value = try #require(stored.first { $0.metric == .intruderAccuracy }?.value)
                if progress.unit.unit.index == 0 { planted = value } else { noise.append(value) }
            }
            #expect(noise.count >= noiseUnits / 2)
            return (planted, noise.reduce(0, +) / Double(max(1, noise.count)))
        }

        static func localRequest(_ dir: TemporaryDirectory, stages: Set<StageName>? = [.explain, .detection, .intruder]) throws -> RunRequest {
            let dataset = dir.path("acts.safetensors")
            if !FileManager.default.fileExists(atPath: dataset.path) { try writeDataset(to: dataset) }
            var request = RunRequest(
                setup: RunSetup.Request(
                    name: "intruder", resultsFolder: dir.path("results"), activations: dataset, sae: nil, features: try UnitSpec(parsing: "none"),
                    neurons: try UnitSpec(parsing: neurons), selection: ScriptedRun.smallSelection),
                endpoint: nil, stages: stages, explainer: .local)
            request.controls = .none  // the intruder scores no control; the detection controls only cost time here
            return request
        }

        /// The local baseline (the pattern set, no embedder) finds the planted neuron's intruder and
        /// sits near chance on noise; the summary, both reports (section, chart with the chance line),
        /// the agreement matrix and `compare` carry the scorer; a rerun asks nothing.
        @Test func baselineFindsThePlantedIntruderAndNoiseIsNearChance() async throws {
            let dir = try TemporaryDirectory()
            defer { dir.remove() }
            let request = try Self.localRequest(dir)
            let result = try await RunCoordinator(logger: IntruderTests.quietLogger()).run(request)
            #expect(result.summary.isComplete && result.summary.calls == 0, "\(result.summary.text)")
            let (planted, noise) = try Self.accuracies(result.store, runID: result.run.id)
            #expect(planted >= 2.0 / 3, "planted neuron: \(planted)")
            #expect(noise <= 0.45, "noise neurons: \(noise)")
            #expect(result.summary.scorers.contains { $0.scorer.name == "intruder" })
            let report = try RunReport.load(from: result.store, run: result.run, options: result.reportOptions)
            #expect(report.scorers.contains { $0.name == "intruder" })
            let markdown = MarkdownReport(report).render()
            #expect(markdown.contains("### Intruder: accuracy") && markdown.contains("chance 0.2"))
            let html = HTMLReport(report).render()
            #expect(html.contains("data-scorer=\"intruder\""))
            let (header, rows) = ScorerAgreement(report).rows()
            #expect(header.contains("intruder") && rows.contains { $0.first == "intruder" }, "\(header)")
            let comparison = RunComparison(sides: [.init(label: "a", report: report), .init(label: "b", report: report)]).render()
            #expect(comparison.contains("| Intruder: accuracy"), "\(comparison)")
            let before = try result.store.intruderAnswers(unitID: try #require(try result.store.progress(runID: result.run.id).first).unit.id)
            let again = try await RunCoordinator(logger: IntruderTests.quietLogger()).run(request)
            #expect(again.summary.isComplete)
            #expect(try again.store.intruderAnswers(unitID: try #require(try again.store.progress(runID: again.run.id).first).unit.id) == before)
        }

        /// Not in the default stages (it adds calls per unit); by name it runs, and it scores no control.
        @Test func optInByNameAndNoControl() throws {
            let dir = try TemporaryDirectory()
            defer { dir.remove() }
            let defaults = try StagePlan(try Self.localRequest(dir, stages: nil))
            #expect(!defaults.requested.contains(.intruder) && defaults.requested.contains(.detection))
            #expect(try StageCatalog.builtIn.parse("explain,intruder") == [.explain, .intruder])
            #expect(!IntruderStage(answerer: { _ in LocalIntruderAnswerer(embedder: nil) }).scoresControls)
        }

        /// The demo runs every scorer: the defaults and the opt-in intruder (the rubric only with an endpoint).
        @Test func theDemoAsksForEveryScorer() {
            let local = DemoRunner.stages(withEndpoint: false)
            #expect(local.isSuperset(of: [.explain, .simulate, .score, .detection, .fuzzing, .embedding, .intruder]) && !local.contains(.rubric))
            #expect(DemoRunner.stages(withEndpoint: true).contains(.rubric))
        }

        /// With the embedding model (what the demo has), the local answerer reads the contexts' embeddings;
        /// with controls on, the printed floor table gives the intruder's floor as chance.
        @Test func embeddingAnswererAndChanceAsTheFloor() async throws {
            let dir = try TemporaryDirectory()
            defer { dir.remove() }
            try EmbeddingFixture.write(to: dir.path("model"))
            // (The model is loaded for the embedding stage, as in the demo.)
            var request = try Self.localRequest(dir, stages: [.explain, .detection, .embedding, .intruder])
            request.setup.neurons = try UnitSpec(parsing: "0-3")
            request.controls = .default
            request.embedder = dir.path("model")
            let result = try await RunCoordinator(logger: IntruderTests.quietLogger()).run(request)
            #expect(result.summary.isComplete, "\(result.summary.text)")
            let config = try #require(try RunConfig.decode(result.run.configJSON).pipeline)
            #expect(config.embedder != nil)
            let report = try RunReport.load(from: result.store, run: result.run, options: result.reportOptions)
            let text = RunComparison(sides: [.init(label: "a", report: report)]).render()
            let row = try #require(text.split(separator: "\n").first { $0.hasPrefix("| Intruder: accuracy") })
            #expect(row.contains("chance 0.2"), "\(row)")
            for progress in try result.store.progress(runID: result.run.id) {
                #expect(try result.store.intruderAnswers(unitID: progress.unit.id).allSatisfy { $0.isCorrect != nil })
            }
        }

        /// The scripted endpoint names the planted neuron's intruder every time and is near chance on
        /// noise: one call per prompt, answers stored with the positions shown.
        @Test func scriptedEndpointFindsThePlantedIntruder() async throws {
            let dir = try TemporaryDirectory()
            defer { dir.remove() }
            let dataset = dir.path("acts.safetensors")
            try Self.writeDataset(to: dataset)
            let endpoint = try TestEndpoint(TestEndpoint.Configuration(handler: ScriptedLLM().handler))
            defer { endpoint.stop() }
            // Five noise neurons: the scripted explainer refuses a seventh unit with the same explanation.
            var request = try ScriptedRun.request(dir: dir, dataset: dataset, neurons: "0-5", endpoint: endpoint.baseURL)
            request.stages = [.explain, .intruder]
            let result = try await RunCoordinator(logger: IntruderTests.quietLogger()).run(request)
            #expect(result.summary.failures.keys.allSatisfy { $0 == .explanation }, "\(result.summary.text)")
            let (planted, noise) = try Self.accuracies(result.store, runID: result.run.id, noiseUnits: 5)
            #expect(planted == 1, "planted neuron: \(planted)")
            #expect(noise <= 0.45, "noise neurons: \(noise)")
            let asked = endpoint.seenRequests.count { $0.request?.messages.contains { $0.content.contains("{\"intruder\"") } == true }
            let explained = try result.store.progress(runID: result.run.id).count { $0.explanation != nil }
            #expect(asked == explained * IntruderPlan.defaultGroups)
        }

        /// Through batch files (`--batch file`) the intruder's requests are collected in the waves like
        /// every LLM stage's, and the run stores the same rows as in real time.
        @Test func batchFilesStoreTheSameIntruderRowsAsRealTime() async throws {
            let dir = try TemporaryDirectory()
            defer { dir.remove() }
            let dataset = dir.path("acts.safetensors")
            try Self.writeDataset(to: dataset, contexts: 120)
            let scripted = ScriptedLLM()
            let endpoint = try TestEndpoint(TestEndpoint.Configuration(handler: scripted.handler))
            defer { endpoint.stop() }
            var live = try ScriptedRun.request(name: "rt", dir: dir, dataset: dataset, neurons: "0-2", endpoint: endpoint.baseURL)
            live.stages = [.explain, .intruder]
            let realtime = try await RunCoordinator(logger: IntruderTests.quietLogger()).run(live)
            var batched = try ScriptedRun.request(name: "bt", dir: dir, dataset: dataset, neurons: "0-2", endpoint: endpoint.baseURL)
            batched.stages = [.explain, .intruder]
            batched.batch = BatchSettings(backend: .file(nil))
            var result = try await RunCoordinator(logger: IntruderTests.quietLogger()).run(batched)
            var waves = 0
            while result.summary.stoppedEarly != nil, waves < 6 {
                _ = try FileBatchRunner.answerOpenBatches(of: result.store, handler: scripted.handler)
                waves += 1
                result = try await RunCoordinator(logger: IntruderTests.quietLogger()).run(batched)
            }
            #expect(result.summary.stoppedEarly == nil && waves >= 2, "\(waves) waves")
            #expect(try result.store.llmCalls().contains { $0.tier == "batch" && $0.stage == "intruder" })
            var expected = try contents(of: URL(fileURLWithPath: realtime.store.path))
            var got = try contents(of: URL(fileURLWithPath: result.store.path))
            for table in ["llm_calls", "llm_cache", "llm_pending", "llm_batches", "runs"] {
                expected[table] = nil
                got[table] = nil
            }
            #expect(!(expected["intruder_prompts"] ?? []).isEmpty)
            #expect(got["intruder_prompts"] == expected["intruder_prompts"] && got["scores"] == expected["scores"])
        }

        /// Unusable answers (no number, a number outside 1-5) are failed rows, asked again up to three
        /// times; the accuracy is undefined with the reason, never a score.
        @Test(arguments: [ScriptedLLM.IntruderBehaviour.garbage, .outOfRange])
        func unusableAnswersAreFailuresNeverScores(_ behaviour: ScriptedLLM.IntruderBehaviour) async throws {
            let dir = try TemporaryDirectory()
            defer { dir.remove() }
            let dataset = dir.path("acts.safetensors")
            try Self.writeDataset(to: dataset, contexts: 120)
            var script = ScriptedLLM()
            script.intruder = behaviour
            let endpoint = try TestEndpoint(TestEndpoint.Configuration(handler: script.handler))
            defer { endpoint.stop() }
            var request = try ScriptedRun.request(dir: dir, dataset: dataset, neurons: "0", endpoint: endpoint.baseURL)
            request.stages = [.explain, .intruder]
            var asked: [Int] = []
            for run in 1...4 {
                let before = endpoint.seenRequests.count
                let summary = try await RunCoordinator(logger: IntruderTests.quietLogger()).run(request).summary
                asked.append(endpoint.seenRequests.dropFirst(before).count { $0.request?.messages.first { $0.role == "user" }?.content.contains("{\"intruder\"") == true })
                #expect(!summary.isComplete && (summary.failures["intruder"] ?? 0) > 0, "run \(run): \(summary.text)")
            }
            // Each prompt twice a run (the retry shows the reason), three runs, then done.
            #expect(asked == [6, 6, 6, 0], "\(asked)")
            let store = try RunStore(url: request.setup.databaseURL)
            let run = try #require(try store.run(named: "run"))
            let progress = try #require(try store.progress(runID: run.id).first)
            let rows = try store.intruderAnswers(unitID: progress.unit.id)
            let expected = behaviour == .garbage ? "names no number" : "is not one of the examples"
            #expect(rows.count == 3 && rows.allSatisfy { row in
                guard case .failed(let reason) = row.outcome else { return false }
                return reason.contains(expected) && reason.hasSuffix("(after one retry)") && row.attempts == IntruderStage.maxAttempts
            })
            let scores = try store.scores(explanationID: try #require(progress.explanation).id).filter { $0.metric.rawValue.hasPrefix("intruder_") }
            #expect(scores.count == 4 && scores.allSatisfy { $0.value == nil && $0.undefinedReason?.contains("failed") == true })
            let stage = IntruderStage(answerer: { _ in LocalIntruderAnswerer(embedder: nil) })
            #expect(stage.isDone(progress) && stage.gap(progress)?.contains("failed 3 times") == true)
        }
    }
}
