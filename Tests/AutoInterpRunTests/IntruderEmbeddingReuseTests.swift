import AutoInterpTestSupport
import Foundation
import Testing

@testable import AutoInterp

extension PipelineSuites.IntruderRunTests {
    /// The intruder's local answerer takes the vectors the embedding stage made for the same
    /// contexts: each distinct context goes through the model once (counted), and the answers and
    /// scores are the same as with no reuse at all.
    @Test func theLocalAnswererReusesTheEmbeddingStagesVectors() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        try EmbeddingFixture.write(to: dir.path("model"))
        var outcomes: [[StoredIntruderAnswer]] = []
        var scores: [[StoredScore]] = []
        var counts: [Int] = []
        var perUnit = 0
        var distinct = Set<String>()
        var units = 0
        for (name, cache) in [("reused", EmbeddingCache.defaultCapacity), ("fresh", 0)] {
            var request = try Self.localRequest(dir, stages: [.explain])
            request.setup.name = name
            request.setup.neurons = try UnitSpec(parsing: "0-3")
            let result = try await RunCoordinator(logger: IntruderTests.quietLogger()).run(request)
            let embedder = try SentenceEmbedder.load(directory: dir.path("model"), contextCache: cache)
            let embedding = EmbeddingStage(embedder: embedder)
            let intruder = IntruderStage(answerer: { _ in LocalIntruderAnswerer(embedder: embedder) })
            var answers: [StoredIntruderAnswer] = []
            var stored: [StoredScore] = []
            perUnit = 0
            distinct = []
            units = 0
            for progress in try result.store.progress(runID: result.run.id) {
                let work = UnitWork(store: result.store, progress: progress, logger: IntruderTests.quietLogger())
                _ = try await embedding.run(work)
                _ = try await intruder.run(UnitWork(
                    store: result.store, progress: try #require(try result.store.progress(unitID: progress.unit.id)),
                    logger: IntruderTests.quietLogger()))
                let contexts = DetectionStage.items(try result.store.classificationExamples(unitID: progress.unit.id))
                let texts = Set(contexts.map { EmbeddingStage.text($0.tokens) })
                perUnit += 1 + texts.count
                units += 1
                distinct.formUnion(texts)
                answers += try result.store.intruderAnswers(unitID: progress.unit.id)
                stored += try result.store.scores(explanationID: try #require(progress.explanation).id)
                    .filter { $0.metric.rawValue.hasPrefix("intruder_") }
            }
            outcomes.append(answers)
            scores.append(stored)
            counts.append(embedder.textsEmbedded)
        }
        #expect(!outcomes[0].isEmpty && outcomes[0].map(\.outcome) == outcomes[1].map(\.outcome))
        #expect(outcomes[0].map(\.prompt) == outcomes[1].map(\.prompt))
        #expect(scores[0].map(\.value) == scores[1].map(\.value) && scores[0].map(\.metric) == scores[1].map(\.metric))
        // Reused: each explanation and each distinct context of the run once (units share contexts);
        // without: every unit's contexts, and the intruder's 5 per prompt again.
        #expect(counts[0] == units + distinct.count, "\(counts), \(distinct.count) contexts")
        #expect(counts[1] == perUnit + 5 * outcomes[1].count, "\(counts)")
    }
}
