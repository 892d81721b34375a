import Foundation
import Logging

/// The rubric stage: the judge rates the unit's `score/quantile` examples (activation bins
/// 1...10 and non-activating bin 0) 0-3, and every readable rating is stored.
///
/// Done when every quantile example has a rating, or failed ``maxAttempts`` times. An unreadable
/// answer is a `rubric_failures` row with its reason; it leaves the unit `failed` (kind `rubric`)
/// and is asked again on the next run.
public struct RubricStage: UnitStage {
    public var name: StageName { .rubric }
    public var needs: [StageName] { [.explain] }
    /// The floor is measured by the simulation and classification scorers, not by the judge.
    public var scoresControls: Bool { false }
    public var stores: String { "rubric_ratings: one 0-3 rating per score/quantile example" }

    public let judge: any RubricJudge
    /// How many times an example is asked before its failure is final.
    public static let maxAttempts = 3

    public init(judge: any RubricJudge) {
        self.judge = judge
    }

    public func isDone(_ progress: UnitProgress) -> Bool {
        let exhausted = progress.failedRatingAttempts.values.count { $0 >= Self.maxAttempts }
        return progress.explanation != nil && progress.ratings.count + exhausted >= progress.rubricExamples
    }

    public func gap(_ progress: UnitProgress) -> String? {
        guard progress.failedRatings > 0 else { return nil }
        return "\(progress.failedRatings) of \(progress.rubricExamples) rubric examples could not be rated in \(Self.maxAttempts) attempts (see rubric_failures)"
    }

    public func run(_ work: UnitWork) async throws -> StageResult {
        guard let explanation = work.progress.explanation else { return .nothing }
        let examples = try work.store.examples(unitID: work.unit.id, role: .score, subset: .quantile)
        let progress = work.progress
        let missing = examples.enumerated().filter { index, _ in
            progress.ratings[index] == nil && (progress.failedRatingAttempts[index] ?? 0) < Self.maxAttempts
        }.map { index, example in
            RubricExample(
                recordIndex: index, bin: example.bin ?? 0, context: example.context, tokens: example.tokens,
                activations: example.activations)
        }
        guard !missing.isEmpty else { return .nothing }
        let (ratings, failures) = try await rate(explanation: explanation.text, missing, logger: work.logger)
        if !ratings.isEmpty { try work.store.saveRubricRatings(explanationID: explanation.id, ratings) }
        if !failures.isEmpty { try work.store.saveRubricFailures(explanationID: explanation.id, failures) }
        return StageResult(
            stored: !ratings.isEmpty, failedRatings: failures.count,
            failure: failures.first.map { "\(failures.count) rubric answer(s) could not be read (rerun to retry): \($0.reason)" })
    }

    /// Rates `examples` (the judge batches them); returns the readable ratings and the failures.
    private func rate(explanation: String, _ examples: [RubricExample], logger: Logger) async throws -> ([StoredRubricRating], [RubricFailure]) {
        let verdicts = try await judge.rate(explanation: explanation, examples: examples)
        var ratings: [StoredRubricRating] = []
        var failures: [RubricFailure] = []
        for (example, verdict) in zip(examples, verdicts) {
            switch verdict {
            case .rated(let rating, let reason):
                ratings.append(StoredRubricRating(
                    recordIndex: example.recordIndex, bin: example.bin, activation: example.activation, rating: rating,
                    context: example.context, tokens: example.tokens, activations: example.activations, judgeModel: judge.model,
                    reason: reason))
            case .failed(let reason):
                failures.append(RubricFailure(recordIndex: example.recordIndex, bin: example.bin, reason: reason))
                logger.info("rubric answer unreadable", metadata: ["record": "\(example.recordIndex)", "reason": "\(reason)"])
            }
        }
        for example in examples.dropFirst(verdicts.count) {
            failures.append(RubricFailure(recordIndex: example.recordIndex, bin: example.bin, reason: "the judge returned no verdict"))
        }
        return (ratings, failures)
    }
}

extension RubricStage {
    /// The catalogue entry: needs an LLM judge even with the local baseline.
    public static let descriptor = StageDescriptor(
        name: .rubric, help: "rate examples across activation levels 0-3", needsEndpoint: true,
        make: { context in RubricStage(judge: context.judge) })
}
