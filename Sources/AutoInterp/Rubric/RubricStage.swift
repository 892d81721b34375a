import Foundation
import Logging

/// The rubric stage: the judge rates the unit's `score/quantile` examples (activation bins
/// 1...10 and non-activating bin 0) 0-3, and every readable rating is stored.
///
/// Done when every quantile example has a rating; unreadable answers leave the unit `failed`
/// (kind `rubric`) and are asked again on the next run.
public struct RubricStage: UnitStage {
    public var name: StageName { .rubric }
    public var needs: [StageName] { [.explain] }
    public var stores: String { "rubric_ratings: one 0-3 rating per score/quantile example" }

    public let judge: any RubricJudge

    public init(judge: any RubricJudge) {
        self.judge = judge
    }

    public func isDone(_ progress: UnitProgress) -> Bool {
        progress.explanation != nil && progress.ratings.count >= progress.rubricExamples
    }

    public func run(_ work: UnitWork) async throws -> StageResult {
        guard let explanation = work.progress.explanation else { return .nothing }
        let examples = try work.store.examples(unitID: work.unit.id, role: .score, subset: .quantile)
        let missing = examples.enumerated().filter { work.progress.ratings[$0.offset] == nil }.map { index, example in
            RubricExample(
                recordIndex: index, bin: example.bin ?? 0, context: example.context, tokens: example.tokens,
                activations: example.activations)
        }
        guard !missing.isEmpty else { return .nothing }
        let (ratings, failed) = try await rate(explanation: explanation.text, missing, logger: work.logger)
        if !ratings.isEmpty { try work.store.saveRubricRatings(explanationID: explanation.id, ratings) }
        return StageResult(
            stored: !ratings.isEmpty, failedRatings: failed,
            failure: failed > 0 ? "\(failed) rubric answer(s) could not be read" : nil)
    }

    /// Rates `examples` (the judge batches them); returns the readable ratings and the count of unreadable ones.
    private func rate(explanation: String, _ examples: [RubricExample], logger: Logger) async throws -> ([StoredRubricRating], Int) {
        let verdicts = try await judge.rate(explanation: explanation, examples: examples)
        var ratings: [StoredRubricRating] = []
        var failed = 0
        for (example, verdict) in zip(examples, verdicts) {
            switch verdict {
            case .rated(let rating, let reason):
                ratings.append(StoredRubricRating(
                    recordIndex: example.recordIndex, bin: example.bin, activation: example.activation, rating: rating,
                    context: example.context, tokens: example.tokens, activations: example.activations, judgeModel: judge.model,
                    reason: reason))
            case .failed(let reason):
                failed += 1
                logger.info("rubric answer unreadable", metadata: ["record": "\(example.recordIndex)", "reason": "\(reason)"])
            }
        }
        failed += max(0, examples.count - verdicts.count)
        return (ratings, failed)
    }
}
