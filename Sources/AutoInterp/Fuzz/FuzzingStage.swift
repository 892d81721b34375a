import Foundation

/// The fuzzing stage (Paulo et al. 2025; EleutherAI delphi): the scorer sees the explanation and
/// the unit's `classify` examples with some tokens highlighted `<<like this>>`, and says for
/// each whether the highlighting is correct for the explanation (see ``FuzzingPlan`` for which
/// tokens are highlighted and the labels).
///
/// Stores one `classifications` row per example (scorer `fuzzing`, with the highlighted
/// positions) and the `fuzzing_*` metrics (subset `all`), as ``DetectionStage`` does.
public struct FuzzingStage: UnitStage {
    public var name: StageName { .fuzzing }
    public var needs: [StageName] { [.explain] }
    public var stores: String { "classifications (fuzzing, with highlights) + scores: fuzzing_balanced_accuracy, _f1, _precision, _recall, _auprc" }

    /// How many times an example is asked before its failure is final.
    public static let maxAttempts = 3

    private let core: ClassificationStageCore

    public init(classifierFor: @escaping @Sendable (UnitWork) throws -> any UnitClassifier) {
        core = ClassificationStageCore(
            scorer: .fuzzing, prepare: { examples, unit in FuzzingPlan.items(examples, seed: ClassificationStageCore.seed(unit)) },
            classifierFor: classifierFor, maxAttempts: Self.maxAttempts)
    }

    public init(classifier: any UnitClassifier) {
        self.init(classifierFor: { _ in classifier })
    }

    public func isDone(_ progress: UnitProgress) -> Bool { core.isDone(progress) }
    public func gap(_ progress: UnitProgress) -> String? { core.gap(progress) }
    public func run(_ work: UnitWork) async throws -> StageResult { try await core.run(work) }
}

extension FuzzingStage {
    /// The fuzzing scorer's report section.
    public static let scorer = ReportScorer(
        name: "fuzzing", title: "Fuzzing: balanced accuracy", metric: .fuzzingBalancedAccuracy, subset: .all,
        thresholds: [0.6, 0.7, 0.8],
        extras: [.init(label: "median F1", metric: .fuzzingF1), .init(label: "median AUPRC", metric: .fuzzingAUPRC)],
        chance: 0.5)

    /// The same scorer on the hard negatives (subset `hard`, ``SelectionConfig/hardNegatives``),
    /// with the drop from the random negatives (subset `all`); shown only when a run has them.
    public static let hardScorer = ReportScorer(
        name: "fuzzing_hard", title: "Fuzzing on hard negatives: balanced accuracy", metric: .fuzzingBalancedAccuracy, subset: .hard,
        thresholds: [0.6, 0.7, 0.8],
        extras: [.init(label: "median F1", metric: .fuzzingF1), .init(label: "median AUPRC", metric: .fuzzingAUPRC)],
        chance: 0.5, baseline: .all)

    /// The catalogue entry: the run's classifier for scorer `fuzzing`, prompt `fuzzing.txt`.
    public static let descriptor = StageDescriptor(
        name: .fuzzing, help: "say whether each example's highlighted tokens are the ones the explanation names",
        prompts: [ClassificationStageCore.prompt(.fuzzing)], scorers: [scorer, hardScorer],
        make: { context in FuzzingStage(classifierFor: { try context.classifierFor(.fuzzing, $0) }) })
}
