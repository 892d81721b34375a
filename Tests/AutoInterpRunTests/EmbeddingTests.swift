import AutoInterpLLM
import AutoInterpTestSupport
import Foundation
import Logging
import Testing

@testable import AutoInterp

/// The embedding scorer: the sentence embedder (pooling read from the model folder), the AUROC,
/// and the stage end to end with the LLM-free baseline (a planted feature's own explanation ranks
/// its contexts, its control does not), the plan without a model, and the store.
@Suite struct EmbeddingTests {
    static func quietLogger() -> Logger {
        var logger = Logger(label: "test.embedding")
        logger.logLevel = .critical
        return logger
    }

    @Test func aurocCountsPairsWithTiesAsHalf() {
        #expect(EmbeddingMetrics.auroc(positive: [3, 4], negative: [1, 2]) == 1)
        #expect(EmbeddingMetrics.auroc(positive: [1, 2], negative: [3, 4]) == 0)
        #expect(EmbeddingMetrics.auroc(positive: [1, 3], negative: [2, 2]) == 0.5)
        #expect(EmbeddingMetrics.auroc(positive: [2], negative: [2, 2, 1]) == (0.5 + 0.5 + 1) / 3)
        // Float rounding is no ranking: values within 1e-6 are tied.
        #expect(EmbeddingMetrics.auroc(positive: [0.7 + 3e-7, 0.1 + 2e-7], negative: [0.7, 0.1]) == 0.5)  // 0.75 if the rounding counted
        // Brute force over pairs on a seeded draw.
        var rng = SeededGenerator(seed: 3, stream: 1)
        let p = (0..<40).map { _ in Double(Int.random(in: 0..<10, using: &rng)) }
        let n = (0..<30).map { _ in Double(Int.random(in: 0..<8, using: &rng)) }
        let pairs = p.reduce(0.0) { sum, a in sum + n.reduce(0.0) { $0 + (a > $1 ? 1 : a == $1 ? 0.5 : 0) } }
        #expect(abs(EmbeddingMetrics.auroc(positive: p, negative: n) - pairs / Double(p.count * n.count)) < 1e-12)
        #expect(EmbeddingMetrics.shareAboveMedian([1, 2, 3, 4], of: [2, 2.5, 3]) == 0.5)
        let undefined = EmbeddingMetrics.scores(from: [StoredSimilarity(exampleID: 1, label: 1, similarity: 0.3)])
        #expect(undefined.count == 2 && undefined.allSatisfy { $0.value == nil && $0.undefinedReason == "no silent context" })
    }

    @Test func embedderReadsPoolingFromTheFolderAndNormalises() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        try EmbeddingFixture.write(to: dir.path("model"))
        let embedder = try SentenceEmbedder.load(directory: dir.path("model"))
        #expect(embedder.pooling == SentencePooling(mode: .mean, normalize: true, maxSequenceLength: 64))
        #expect(embedder.name == "embedding-fixture" && embedder.dimension == EmbeddingFixture.hidden)
        let vectors = try embedder.embed(["the cat sees a dog", "one two three", "the owl", ""])
        #expect(vectors.count == 4)
        for v in vectors.prefix(3) { #expect(abs(v.reduce(0) { $0 + $1 * $1 } - 1) < 1e-5) }
        // The fixture's function words and specials pool to zero: normalising a zero vector keeps it zero (no NaN).
        #expect(vectors[3].allSatisfy { $0 == 0 } && SentenceEmbedder.cosine(vectors[3], vectors[0]) == 0)
        // Mean pooling over [CLS] pieces [SEP]: the pooled vector is the mean of the last hidden state's rows.
        let ids = embedder.tokenizer.encode("the cat sees a dog").ids
        let hidden = try embedder.model.lastHiddenState([ids])
        var mean = [Float](repeating: 0, count: embedder.dimension)
        for r in 0..<ids.count { for k in 0..<mean.count { mean[k] += hidden[r * mean.count + k] / Float(ids.count) } }
        #expect(abs(SentenceEmbedder.cosine(mean, vectors[0]) - 1) < 1e-6)
        // Concepts: animals near "animal words", numbers not.
        let query = try embedder.embed(["animal words"])[0]
        #expect(SentenceEmbedder.cosine(query, vectors[0]) > SentenceEmbedder.cosine(query, vectors[1]) + 0.2)

        // CLS pooling without normalisation, from the pooling config.
        try #"{"pooling_mode_cls_token": true, "pooling_mode_mean_tokens": false}"#
            .write(to: dir.path("model/1_Pooling/config.json"), atomically: true, encoding: .utf8)
        try #"[{"path": "", "type": "sentence_transformers.models.Transformer"}, {"path": "1_Pooling", "type": "sentence_transformers.models.Pooling"}]"#
            .write(to: dir.path("model/modules.json"), atomically: true, encoding: .utf8)
        let cls = try SentenceEmbedder.load(directory: dir.path("model"))
        #expect(cls.pooling.mode == .cls && !cls.pooling.normalize)
        let first = try cls.embed(["the cat sees a dog"])[0]
        #expect(Array(hidden[0..<cls.dimension]) == first)
        // Unsupported and malformed pooling configs are one line naming the file.
        try #"{"pooling_mode_weightedmean_tokens": true}"#.write(to: dir.path("model/1_Pooling/config.json"), atomically: true, encoding: .utf8)
        let error = #expect(throws: AutoInterpError.self) { try SentenceEmbedder.load(directory: dir.path("model")) }
        #expect(error?.message.contains("1_Pooling/config.json: uses pooling_mode_weightedmean_tokens") == true)
        try "{".write(to: dir.path("model/modules.json"), atomically: true, encoding: .utf8)
        let bad = #expect(throws: AutoInterpError.self) { try SentenceEmbedder.load(directory: dir.path("model")) }
        #expect(bad?.message.contains("modules.json: not valid JSON") == true)
        // A plain checkpoint (no modules.json): mean pooling, normalised.
        try EmbeddingFixture.write(to: dir.path("plain"), modules: false)
        #expect(try SentenceEmbedder.load(directory: dir.path("plain")).pooling == SentencePooling(mode: .mean, normalize: true))
        let missing = #expect(throws: AutoInterpError.self) { try SentenceEmbedder.load(directory: dir.path("nowhere")) }
        #expect(missing?.option == .embedder)
    }

    @Test func contextTextDropsSpecialTokens() {
        #expect(EmbeddingStage.text(["[CLS]", "the", "cat", "[UNK]", "[SEP]", "[PAD]"]) == "the cat [UNK]")
        #expect(EmbeddingStage.text(["<|endoftext|>", "Ġthe", "Ġcat", "<s>"]) == "the cat")
    }
}

extension PipelineSuites {
    /// The embedding stage in runs of the LLM-free baseline on the planted dataset.
    @Suite(.serialized) struct EmbeddingRunTests {
        static func request(
            _ dir: TemporaryDirectory, embedder: URL?, stages: Set<StageName>? = [.explain, .embedding], contexts: Int = 200
        ) throws -> RunRequest {
            let dataset = dir.path("acts.safetensors")
            try EmbeddingFixture.writeTwoSlotDataset(to: dataset, contexts: contexts)
            var request = RunRequest(
                setup: RunSetup.Request(
                    name: "embed", resultsFolder: dir.path("results"), activations: dataset, sae: nil, features: try UnitSpec(parsing: "none"),
                    neurons: try UnitSpec(parsing: "0-1"), selection: ScriptedRun.smallSelection),
                endpoint: nil, stages: stages, explainer: .local)
            request.embedder = embedder
            return request
        }

        /// Two planted neurons (animal words, number words, in independent slots): each one's own
        /// explanation ranks its activating contexts above the silent ones; its control (the other
        /// neuron's explanation on the same contexts) sits near 0.5. No LLM call; a rerun does nothing.
        @Test func correctExplanationsRankHighAndControlsNearChance() async throws {
            let dir = try TemporaryDirectory()
            defer { dir.remove() }
            try EmbeddingFixture.write(to: dir.path("model"))
            let request = try Self.request(dir, embedder: dir.path("model"))
            let result = try await RunCoordinator(logger: EmbeddingTests.quietLogger()).run(request)
            #expect(result.summary.isComplete && result.summary.calls == 0, "\(result.summary.text)")
            let store = result.store
            let config = try #require(try RunConfig.decode(result.run.configJSON).pipeline)
            #expect(config.embedder?.hasPrefix("embedding-fixture sha256:") == true)
            let controls = try store.controlExplanations(runID: result.run.id)
            #expect(controls.count == 2)
            for control in controls {
                let own = try #require(try store.progress(unitID: control.unitID)?.explanation)
                let examples = try store.classificationExamples(unitID: control.unitID)
                for explanation in [own, control] {
                    let rows = try store.similarities(explanationID: explanation.id)
                    #expect(rows.count == examples.count && Set(rows.map(\.exampleID)) == Set(examples.map(\.id)))
                    let stored = try store.scores(explanationID: explanation.id).filter { $0.metric.rawValue.hasPrefix("embedding_") }
                    #expect(EmbeddingMetrics.scores(from: rows).sorted { $0.metric.rawValue < $1.metric.rawValue } == stored.sorted { $0.metric.rawValue < $1.metric.rawValue })
                }
                func auroc(_ e: StoredExplanation) throws -> Double {
                    try #require(try store.scores(explanationID: e.id).first { $0.metric == .embeddingAUROC && $0.subset == .all }?.value)
                }
                let unit = try auroc(own), floor = try auroc(control)
                #expect(unit >= 0.9, "unit \(control.unitID) (\(own.text)): \(unit)")
                #expect(abs(floor - 0.5) <= 0.15, "control of unit \(control.unitID) (\(control.text)): \(floor)")
            }
            // The summary and the reports carry the scorer.
            #expect(result.summary.scorers.contains { $0.scorer.name == "embedding" })
            let report = try RunReport.load(from: store, run: result.run, options: result.reportOptions)
            #expect(report.scorers.contains { $0.name == "embedding" })
            let markdown = MarkdownReport(report).render()
            #expect(markdown.contains("### Embedding: AUROC"))
            // Every scorer's distribution in both reports, the controls beside the units.
            #expect(markdown.split(separator: "\n").contains { $0.hasPrefix("| embedding ") && $0.contains("| neurons ") && $0.contains("| controls ") })
            let html = HTMLReport(report).render()
            for scorer in report.scorers {
                #expect(html.contains("data-scorer=\"\(scorer.name)\""), "\(scorer.name)")
            }
            // The bars of each group are its shares: they add up to 1 (2 neurons, 2 controls).
            let chart = try #require(html.components(separatedBy: "data-scorer=\"embedding\"").dropFirst().first?.components(separatedBy: "</g>").first)
            for group in ["neurons", "controls"] {
                let values = chart.components(separatedBy: "<rect").filter { $0.contains("data-group=\"\(group)\"") }.compactMap { rect in
                    rect.components(separatedBy: "data-value=\"").dropFirst().first?.components(separatedBy: "\"").first.flatMap(Double.init)
                }
                #expect(values.count == 10 && abs(values.reduce(0, +) - 1) < 1e-9, "\(group): \(values)")
            }
            // Done: a rerun stores nothing new.
            let before = try store.similarities(explanationID: try #require(controls.first).id)
            let again = try await RunCoordinator(logger: EmbeddingTests.quietLogger()).run(request)
            #expect(again.summary.isComplete)
            #expect(try store.similarities(explanationID: try #require(controls.first).id) == before)
        }

        /// Without a model the default stages leave embedding out with a note; by name it is one line naming --embedder.
        @Test func withoutAModelTheStageIsSkippedOrRefused() async throws {
            let dir = try TemporaryDirectory()
            defer { dir.remove() }
            let refused = #expect(throws: AutoInterpError.self) { try StagePlan(try Self.request(dir, embedder: nil)) }
            #expect(refused?.option == .embedder && refused?.description.contains("pass `embedder` DIR") == true)
            let plan = try StagePlan(try Self.request(dir, embedder: nil, stages: nil))
            #expect(!plan.requested.contains(.embedding) && plan.remarks.contains { $0.contains("embedding stage skipped") })
            let bad = #expect(throws: AutoInterpError.self) { try StagePlan(try Self.request(dir, embedder: dir.path("none"))) }
            #expect(bad?.option == .embedder)
        }

        /// Adding the embedder to a run made without one is no change; another model is refused on resume.
        @Test func anotherModelIsAConfigChange() async throws {
            let dir = try TemporaryDirectory()
            defer { dir.remove() }
            try EmbeddingFixture.write(to: dir.path("model"))
            let coordinator = RunCoordinator(logger: EmbeddingTests.quietLogger())
            _ = try await coordinator.run(try Self.request(dir, embedder: nil, stages: [.explain]))
            let added = try await coordinator.run(try Self.request(dir, embedder: dir.path("model")))
            #expect(added.summary.isComplete && added.summary.scorers.contains { $0.scorer.name == "embedding" })
            // The same architecture with another vocabulary (one word moved).
            try EmbeddingFixture.write(to: dir.path("other"))
            var vocab = try String(contentsOf: dir.path("other/vocab.txt"), encoding: .utf8)
            vocab = vocab.replacingOccurrences(of: "\ncat\n", with: "\ntac\n")
            try vocab.write(to: dir.path("other/vocab.txt"), atomically: true, encoding: .utf8)
            let changed = await #expect(throws: AutoInterpError.self) { try await coordinator.run(try Self.request(dir, embedder: dir.path("other"))) }
            #expect(changed?.message.contains("embedder") == true, "\(String(describing: changed))")
        }

        /// With the default stages and an embedder, the baseline fills every scorer: embedding has
        /// its column in the agreement matrix and its row in `compare`.
        @Test func defaultStagesWithAModelPutEmbeddingInTheAgreementAndCompare() async throws {
            let dir = try TemporaryDirectory()
            defer { dir.remove() }
            try EmbeddingFixture.write(to: dir.path("model"))
            let result = try await RunCoordinator(logger: EmbeddingTests.quietLogger()).run(try Self.request(dir, embedder: dir.path("model"), stages: nil, contexts: 100))
            #expect(result.summary.isComplete && result.summary.calls == 0, "\(result.summary.text)")
            #expect(result.summary.remarks.allSatisfy { !$0.contains("embedding") })
            let report = try RunReport.load(from: result.store, run: result.run, options: result.reportOptions)
            #expect(Set(report.scorers.map(\.name)) == ["simulation", "detection", "fuzzing", "embedding"])
            let (header, rows) = ScorerAgreement(report).rows()
            #expect(header.contains("embedding") && rows.contains { $0.first == "embedding" }, "\(header) \(rows)")
            let comparison = RunComparison(sides: [.init(label: "a", report: report), .init(label: "b", report: report)]).render()
            #expect(comparison.contains("| Embedding: AUROC of similarity"), "\(comparison)")
        }

        /// The metric audit of a run with embedding scores (what the demo does): given the run's
        /// model it audits the embedding scorer too; without one it leaves that scorer out instead
        /// of failing in the stage.
        @Test func theAuditOfARunWithEmbeddingScoresTakesItsModel() async throws {
            let dir = try TemporaryDirectory()
            defer { dir.remove() }
            try EmbeddingFixture.write(to: dir.path("model"))
            _ = try await RunCoordinator(logger: EmbeddingTests.quietLogger()).run(
                try Self.request(dir, embedder: dir.path("model"), stages: nil, contexts: 100))
            var audit = MetricAudit.Request(run: "embed", resultsFolder: dir.path("results"), units: 2)
            let without = try await MetricAudit(logger: EmbeddingTests.quietLogger()).run(audit)
            #expect(!without.rows.isEmpty && without.rows.allSatisfy { $0.scorer != "embedding" }, "\(without.text)")
            audit.embedder = dir.path("model")
            let with = try await MetricAudit(logger: EmbeddingTests.quietLogger()).run(audit)
            #expect(with.rows.contains { $0.scorer == "embedding" }, "\(with.text)")
        }
    }
}
