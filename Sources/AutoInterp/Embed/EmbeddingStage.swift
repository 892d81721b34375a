import Foundation
import Logging

extension StageName {
    /// The embedding scorer (``EmbeddingStage``).
    public static let embedding: StageName = "embedding"
}

/// The embedding scorer (delphi's embedding scoring, Paulo et al. 2025 §3.3.4): the explanation
/// and the unit's `classify` contexts (activating across deciles and silent: the examples
/// detection sees) go through a local sentence-embedding model (``SentenceEmbedder``,
/// all-MiniLM-L6-v2 by default); the score is the AUROC of their cosine similarity to the
/// explanation, activating against silent. No LLM call.
///
/// Stores one `embedding_similarities` row per example and the `embedding_*` scores (subset
/// `all`). Done when the scores are stored for the explanation in the progress view, so the
/// same stage scores a control.
public struct EmbeddingStage: UnitStage {
    public var name: StageName { .embedding }
    public var needs: [StageName] { [.explain] }
    public var stores: String { "embedding_similarities + scores: embedding_auroc, embedding_above_median_silent" }

    let embedder: SentenceEmbedder?

    /// A stage embedding with `embedder`; without one, running it is a failure naming `--embedder`
    /// (the plan leaves the stage out when no model is given).
    package init(embedder: SentenceEmbedder?) {
        self.embedder = embedder
    }

    public func isDone(_ progress: UnitProgress) -> Bool {
        progress.explanation != nil && StoredScore.Metric.embedding.allSatisfy { progress.hasScore($0, .all) }
    }

    public func run(_ work: UnitWork) async throws -> StageResult {
        guard let explanation = work.progress.explanation else { return .nothing }
        guard let embedder else {
            throw AutoInterpError.invalidOption(.embedder, "the embedding stage needs a sentence-embedding model folder (e.g. all-MiniLM-L6-v2)")
        }
        let examples = try work.store.classificationExamples(unitID: work.unit.id)
        let items = DetectionStage.items(examples)
        // The contexts through the reuse cache (the intruder's local answerer reads them next).
        let query = try embedder.embed([explanation.text])[0]
        let vectors = try embedder.embedContexts(items.map { Self.text($0.tokens) })
        let rows = zip(items, vectors).map { item, vector in
            let cosine = min(1, max(-1, SentenceEmbedder.cosine(query, vector)))
            return StoredSimilarity(exampleID: item.exampleID, label: item.label, similarity: cosine)
        }
        try work.store.saveSimilarities(explanationID: explanation.id, rows, scores: EmbeddingMetrics.scores(from: rows))
        return StageResult(stored: true)
    }

    /// A context as the embedder reads it: its tokens joined as text (``TokenText/join(_:marked:)``),
    /// without the tokenizer's special tokens (`[CLS]`, `[SEP]`, `[PAD]`, `<|endoftext|>`, `<s>`, …),
    /// which the embedder adds itself where its model wants them.
    package static func text(_ tokens: [String]) -> String {
        TokenText.join(tokens.filter { !isSpecial($0) }).replacingOccurrences(of: "\n", with: " ")
    }

    /// `[UPPER]` (but `[UNK]`, which stands for text), `<|…|>`, `<s>`, `</s>`, `<pad>`, `<bos>`, `<eos>`.
    static func isSpecial(_ token: String) -> Bool {
        if token == "[UNK]" { return false }
        if token.hasPrefix("<|") && token.hasSuffix("|>") { return true }
        if ["<s>", "</s>", "<pad>", "<bos>", "<eos>"].contains(token) { return true }
        guard token.count >= 3, token.hasPrefix("["), token.hasSuffix("]") else { return false }
        return token.dropFirst().dropLast().allSatisfy { $0.isUppercase || $0 == "_" }
    }
}

extension EmbeddingStage {
    /// The embedding scorer's report section: AUROC of similarity, activating vs silent contexts.
    public static let scorer = ReportScorer(
        name: "embedding", title: "Embedding: AUROC of similarity (activating vs silent)", metric: .embeddingAUROC, subset: .all,
        thresholds: [0.6, 0.7, 0.8],
        extras: [.init(label: "median share above the median silent", metric: .embeddingAboveMedianSilent)], chance: 0.5)

    /// The catalogue entry: no LLM; the run's sentence-embedding model (`--embedder`).
    public static let descriptor = StageDescriptor(
        name: .embedding, help: "rank the contexts by embedding similarity to the explanation (no LLM)", asksLLM: false,
        needsEmbedder: true, scorers: [scorer], make: { context in EmbeddingStage(embedder: context.embedder) })
}
