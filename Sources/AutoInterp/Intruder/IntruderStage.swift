import Foundation
import Logging

extension StageName {
    /// The intruder scorer (``IntruderStage``).
    public static let intruder: StageName = "intruder"
}

/// The intruder scorer (Paulo & Belrose 2025, arXiv 2507.08473): per unit, one prompt per decile
/// group (``IntruderPlan``: four activating `classify` contexts of the group and one silent
/// context, where the unit is exactly 0, in an order seeded by the run's seed); the answerer names
/// the intruder. No explanation is shown: the score measures how coherent the unit's firing is,
/// not the explainer. Chance is 0.2.
///
/// Stores one `intruder_prompts` row per prompt, keyed by unit (a failure with its reason, asked
/// again on the next run up to ``maxAttempts``), and the `intruder_*` accuracies under the unit's
/// headline explanation, where the reports read every scorer (which is why it waits for
/// `explain`; the text is never read). A control (another unit's explanation) means nothing here,
/// so it scores none: its floor is chance, drawn as the chart's chance line.
public struct IntruderStage: UnitStage {
    public var name: StageName { .intruder }
    public var needs: [StageName] { [.explain] }
    public var stores: String { "intruder_prompts + scores: intruder_accuracy, intruder_accuracy_deciles_*" }
    public var scoresControls: Bool { false }

    /// How many times a prompt is asked before its failure is final.
    public static let maxAttempts = 3

    let answerer: @Sendable (UnitWork) throws -> any IntruderAnswerer
    let groups: IntruderGroups

    /// A stage asking `answerer` for each unit, with `groups` decile groups (one prompt each).
    public init(groups: IntruderGroups = .default, answerer: @escaping @Sendable (UnitWork) throws -> any IntruderAnswerer) {
        self.groups = groups
        self.answerer = answerer
    }

    /// Done when the accuracy is stored for the headline explanation and no failed prompt has attempts left.
    public func isDone(_ progress: UnitProgress) -> Bool {
        progress.explanation != nil && progress.explanation?.isControl != true && progress.explanation?.auditOf == nil
            && progress.hasScore(.intruderAccuracy, .all) && progress.failedIntruderAttempts.values.allSatisfy { $0 >= Self.maxAttempts }
    }

    public func gap(_ progress: UnitProgress) -> String? {
        let failed = progress.failedIntruderAttempts.count
        guard failed > 0 else { return nil }
        return "\(failed) of \(progress.intruderPrompts.count) intruder prompts failed \(Self.maxAttempts) times (see intruder_prompts.error)"
    }

    public func run(_ work: UnitWork) async throws -> StageResult {
        guard let explanation = work.progress.explanation, !explanation.isControl, explanation.auditOf == nil else { return .nothing }
        let seed = try work.store.config(runID: work.unit.runID).selection.seed
        let (prompts, skipped) = IntruderPlan.prompts(
            try work.store.classificationExamples(unitID: work.unit.id), unit: work.unit.unit, seed: seed, groups: groups)
        let progress = work.progress
        let missing = prompts.filter {
            !progress.intruderPrompts.contains($0.index) || (progress.failedIntruderAttempts[$0.index] ?? Self.maxAttempts) < Self.maxAttempts
        }
        guard !missing.isEmpty || !progress.hasScore(.intruderAccuracy, .all) else { return .nothing }
        let outcomes = missing.isEmpty ? [] : try await answerer(work).answer(missing, for: work)
        let rows = missing.enumerated().map { i, prompt in
            StoredIntruderAnswer(prompt: prompt, outcome: i < outcomes.count ? outcomes[i] : .failed(reason: "the answerer returned no answer"))
        }
        // The metrics over every prompt stored for the unit once these are saved.
        var merged = Dictionary(try work.store.intruderAnswers(unitID: work.unit.id).map { ($0.prompt.index, $0) }, uniquingKeysWith: { a, _ in a })
        for row in rows { merged[row.prompt.index] = row }
        let all = merged.values.sorted { $0.prompt.index < $1.prompt.index }
        try work.store.saveIntruderAnswers(
            unitID: work.unit.id, rows, explanationID: explanation.id, scores: IntruderMetrics.scores(from: all, skipped: skipped, groups: groups))
        let failures = rows.filter { $0.isCorrect == nil }
        var failure: String?
        if case .failed(let reason)? = failures.first?.outcome {
            failure = "\(failures.count) of \(rows.count) intruder answers failed (rerun to retry): \(reason)"
            work.logger.info("intruder answers unusable", metadata: ["count": "\(failures.count)", "reason": "\(reason)"])
        }
        return StageResult(stored: true, failure: failure)
    }
}

extension IntruderStage {
    /// The intruder scorer's report section: accuracy, chance 0.2, and the medians per decile group.
    public static let scorer = ReportScorer(
        name: "intruder", title: "Intruder: accuracy (4 activating + 1 silent context, no explanation; chance 0.2)",
        metric: .intruderAccuracy, subset: .all, thresholds: [0.4, 0.6, 0.8],
        extras: IntruderPlan.ranges(groups: IntruderPlan.defaultGroups).map {
            .init(label: "median accuracy, deciles \($0.lowerBound)-\($0.upperBound)", metric: .intruderAccuracy(deciles: $0))
        },
        chance: IntruderMetrics.chance)

    /// The prompt file: `intruder.txt`, with the five numbered examples.
    public static let prompt = PromptRole(role: "intruder", file: "intruder.txt", required: ["examples"], placeholders: ["examples", "count"])

    /// The catalogue entry: the run's LLM (the simulator's model), or the local answerer with the
    /// baseline; not in the default stages (about 3 calls a unit: ask for it with `--stages …,intruder`).
    public static let descriptor = StageDescriptor(
        name: .intruder, help: "find the silent context among four activating ones (no explanation)", inDefaults: false,
        prompts: [prompt], scorers: [scorer],
        make: { context in
            if context.isBaseline || context.llm == nil {
                let local = LocalIntruderAnswerer(embedder: context.embedder)
                return IntruderStage(groups: context.settings.intruderGroups ?? .default, answerer: { _ in local })
            }
            guard let llm = context.llm else { throw StageFailure("the intruder stage has no endpoint") }
            let llmAnswerer = LLMIntruderAnswerer(
                client: llm.client, template: try llm.prompts.template(for: prompt.role), model: context.settings.simulatorModel,
                structuredOutput: llm.capabilities.structuredOutput)
            return IntruderStage(groups: context.settings.intruderGroups ?? .default, answerer: { _ in llmAnswerer })
        })
}
