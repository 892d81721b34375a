import Foundation

/// The intruder scorer without an LLM (`--explainer local`, the demo): in each prompt, the context
/// least like the unit's firing. With the run's sentence-embedding model, the context whose
/// embedding is least similar on average to the other four (it sees only the five contexts, like
/// the LLM; the vectors the embedding stage made for the same contexts are reused,
/// ``SentenceEmbedder/embedContexts(_:)``); without one, the context whose tokens the unit fired on least in its other stored
/// examples (explain and score records, never the `classify` ones the prompts show: each token's
/// mean activation there, the context's best token; a unigram reading of what the pattern baseline
/// learns). Ties are broken by a seeded draw, so a unit the
/// measure cannot tell apart scores chance, not the intruder's position.
public struct LocalIntruderAnswerer: IntruderAnswerer {
    let embedder: SentenceEmbedder?

    /// Values closer than this count as tied.
    static let tolerance = 1e-6

    package init(embedder: SentenceEmbedder?) {
        self.embedder = embedder
    }

    /// Each token's mean activation over its occurrences in `records`.
    static func tokenMeans(_ records: [ExampleRecord]) -> [String: Double] {
        var sums: [String: (total: Double, count: Int)] = [:]
        for record in records {
            for (token, value) in zip(record.tokens, record.activations) {
                let entry = sums[token] ?? (0, 0)
                sums[token] = (entry.total + Double(max(0, value)), entry.count + 1)
            }
        }
        return sums.mapValues { $0.total / Double($0.count) }
    }

    public func answer(_ prompts: [IntruderPrompt], for work: UnitWork) async throws -> [IntruderOutcome] {
        guard !prompts.isEmpty else { return [] }
        let typicality: [[Double]]
        if let embedder {
            let texts = prompts.flatMap { $0.contexts.map(EmbeddingStage.text) }
            // The embedding stage's vectors where it embedded these contexts in this process.
            let vectors = try embedder.embedContexts(texts)
            var offset = 0
            typicality = prompts.map { prompt in
                let group = Array(vectors[offset..<offset + prompt.contexts.count])
                offset += prompt.contexts.count
                return group.indices.map { i in
                    let others = group.indices.filter { $0 != i }
                    guard !others.isEmpty else { return 0 }
                    return others.reduce(0.0) { $0 + SentenceEmbedder.cosine(group[i], group[$1]) } / Double(others.count)
                }
            }
        } else {
            let means = Self.tokenMeans(try work.store.examples(unitID: work.unit.id).filter { $0.role != .classify })
            typicality = prompts.map { prompt in prompt.contexts.map { context in context.map { means[$0] ?? 0 }.max() ?? 0 } }
        }
        return zip(prompts, typicality).map { prompt, values in
            guard let lowest = values.min() else { return .failed(reason: "the prompt has no context") }
            let tied = values.indices.filter { values[$0] - lowest <= Self.tolerance }
            var rng = SeededGenerator(seed: ClassificationStageCore.seed(work.unit.unit), stream: 7_000 &+ UInt64(prompt.index))
            return .answered((tied.randomElement(using: &rng) ?? tied[0]) + 1)
        }
    }
}
