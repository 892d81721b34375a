import Foundation
import Logging

/// What the detection and fuzzing stages share: which examples are missing, asking the
/// classifier, storing the answers and the scorer's metrics recomputed from every stored row.
///
/// Everything is keyed by the explanation in ``UnitWork/progress`` (never looked up by unit), so
/// the same stage scores whichever explanation row the progress view carries.
struct ClassificationStageCore: Sendable {
    let scorer: StoredClassification.Scorer
    /// The scorer's items for a unit's `classify` examples (deterministic for a unit).
    let prepare: @Sendable ([StoredExample], UnitRef) -> [ClassificationItem]
    let classifierFor: @Sendable (UnitWork) throws -> any UnitClassifier
    let maxAttempts: Int

    /// Done when every classify example has an answer (or failed `maxAttempts` times) and the
    /// metrics are stored.
    func isDone(_ progress: UnitProgress) -> Bool {
        guard progress.explanation != nil else { return false }
        let failed = progress.failedClassificationAttempts[scorer] ?? [:]
        return (progress.classified[scorer]?.count ?? 0) >= progress.classifyExamples
            && failed.values.allSatisfy { $0 >= maxAttempts }
            && metricsStored(progress)
    }

    /// Whether every metric is stored on every subset the unit has.
    func metricsStored(_ progress: UnitProgress) -> Bool {
        let metrics = StoredScore.Metric.classification(scorer)
        return Self.subsets(progress).allSatisfy { subset in metrics.allSatisfy { progress.hasScore($0, subset) } }
    }

    /// The subsets the metrics are stored on: `all`, and `hard` when the unit has hard negatives.
    static func subsets(_ progress: UnitProgress) -> [StoredScore.Subset] {
        progress.hardNegatives > 0 ? [.all, .hard] : [.all]
    }

    func gap(_ progress: UnitProgress) -> String? {
        let failed = progress.failedClassifications(scorer)
        guard failed > 0 else { return nil }
        return "\(failed) of \(progress.classifyExamples) \(scorer.rawValue) examples failed \(maxAttempts) times (see classifications.error)"
    }

    func run(_ work: UnitWork) async throws -> StageResult {
        guard let explanation = work.progress.explanation else { return .nothing }
        let progress = work.progress
        let done = progress.classified[scorer] ?? []
        let failed = progress.failedClassificationAttempts[scorer] ?? [:]
        let examples = try work.store.classificationExamples(unitID: work.unit.id, hard: true)
        let items = prepare(examples, work.unit.unit)
        var missing = items.filter { !done.contains($0.exampleID) || (failed[$0.exampleID] ?? maxAttempts) < maxAttempts }
        guard !missing.isEmpty || !metricsStored(progress) else { return .nothing }
        // Activating and silent examples mixed in a seeded order, so every call holds both kinds.
        var rng = SeededGenerator(seed: Self.seed(work.unit.unit), stream: scorer == .detection ? 11 : 12)
        missing.shuffle(using: &rng)
        let outcomes = missing.isEmpty ? [] : try await classifierFor(work).classify(explanation: explanation.text, items: missing)
        var rows: [StoredClassification] = []
        for (i, item) in missing.enumerated() {
            let outcome = i < outcomes.count ? outcomes[i] : .failed(reason: "the scorer returned no answer")
            rows.append(StoredClassification(exampleID: item.exampleID, label: item.label, outcome: outcome, highlighted: item.highlighted))
        }
        // The metrics over every row stored for the explanation once these are saved.
        var merged = Dictionary(
            try work.store.classifications(explanationID: explanation.id, scorer: scorer).map { ($0.exampleID, $0) },
            uniquingKeysWith: { a, _ in a })
        for row in rows { merged[row.exampleID] = row }
        let subsets = Dictionary(examples.map { ($0.id, $0.record.subset) }, uniquingKeysWith: { a, _ in a })
        let scores = ClassificationMetrics.scores(scorer, from: Array(merged.values), subsets: subsets)
        try work.store.saveClassifications(explanationID: explanation.id, scorer: scorer, rows, scores: scores)
        let failures = rows.filter { !$0.isOK }
        var failure: String?
        if case .failed(let reason)? = failures.first?.outcome {
            failure = "\(failures.count) of \(rows.count) \(scorer.rawValue) answers failed (rerun to retry): \(reason)"
            work.logger.info("\(scorer.rawValue) answers unusable", metadata: ["count": "\(failures.count)", "reason": "\(reason)"])
        }
        return StageResult(stored: true, failure: failure)
    }

    /// A unit's seed for its shuffles and random highlights (the same for every run of it).
    static func seed(_ unit: UnitRef) -> UInt64 {
        UInt64(unit.index) &* 2 &+ (unit.kind == .feature ? 0 : 1)
    }
}

extension ClassificationStageCore {
    /// A classification scorer's prompt file: `<scorer>.txt`, with the explanation and the examples.
    static func prompt(_ scorer: StoredClassification.Scorer) -> PromptRole {
        PromptRole(
            role: scorer.rawValue, file: "\(scorer.rawValue).txt", required: ["explanation", "examples"],
            placeholders: ["explanation", "examples", "count"])
    }
}
