import Foundation

/// The detection stage (Paulo et al. 2025; EleutherAI delphi): the scorer sees the explanation
/// and the unit's `classify` examples, activating (label 1) and silent (label 0) shuffled
/// together a few a call, and says for each whether the unit fires in it.
///
/// Stores one `classifications` row per example (scorer `detection`; a failure with its reason,
/// asked again on the next run up to ``maxAttempts``) and the `detection_*` metrics (subset
/// `all`) recomputed from every stored row. Done when every example has an answer or used up its
/// attempts, and the metrics are stored.
public struct DetectionStage: UnitStage {
    public var name: StageName { .detection }
    public var needs: [StageName] { [.explain] }
    public var stores: String { "classifications (detection) + scores: detection_balanced_accuracy, _f1, _precision, _recall, _auprc" }

    /// How many times an example is asked before its failure is final.
    public static let maxAttempts = 3

    private let core: ClassificationStageCore

    /// A stage that asks `classifierFor` for each unit's scorer.
    public init(classifierFor: @escaping @Sendable (UnitWork) throws -> any UnitClassifier) {
        core = ClassificationStageCore(
            scorer: .detection, prepare: { examples, _ in Self.items(examples) }, classifierFor: classifierFor,
            maxAttempts: Self.maxAttempts)
    }

    /// A stage that uses `classifier` for every unit.
    public init(classifier: any UnitClassifier) {
        self.init(classifierFor: { _ in classifier })
    }

    /// The items of a unit's `classify` examples: label 1 when the unit fires somewhere in the
    /// example (read from its values), else 0; no highlighting.
    public static func items(_ examples: [StoredExample]) -> [ClassificationItem] {
        examples.map { example in
            ClassificationItem(
                exampleID: example.id, label: example.record.activations.contains { $0 > 0 } ? 1 : 0, tokens: example.record.tokens)
        }
    }

    public func isDone(_ progress: UnitProgress) -> Bool { core.isDone(progress) }
    public func gap(_ progress: UnitProgress) -> String? { core.gap(progress) }
    public func run(_ work: UnitWork) async throws -> StageResult { try await core.run(work) }
}

extension DetectionStage {
    /// The detection scorer's report section.
    public static let scorer = ReportScorer(
        name: "detection", title: "Detection: balanced accuracy", metric: .detectionBalancedAccuracy, subset: .all,
        thresholds: [0.6, 0.7, 0.8],
        extras: [.init(label: "median F1", metric: .detectionF1), .init(label: "median AUPRC", metric: .detectionAUPRC)],
        chance: 0.5)

    /// The same scorer on the hard negatives (subset `hard`, ``SelectionConfig/hardNegatives``),
    /// with the drop from the random negatives (subset `all`); shown only when a run has them.
    public static let hardScorer = ReportScorer(
        name: "detection_hard", title: "Detection on hard negatives: balanced accuracy", metric: .detectionBalancedAccuracy, subset: .hard,
        thresholds: [0.6, 0.7, 0.8],
        extras: [.init(label: "median F1", metric: .detectionF1), .init(label: "median AUPRC", metric: .detectionAUPRC)],
        chance: 0.5, baseline: .all)

    /// The catalogue entry: the run's classifier for scorer `detection`, prompt `detection.txt`.
    public static let descriptor = StageDescriptor(
        name: .detection, help: "say which contexts the unit fires in, from the explanation",
        prompts: [ClassificationStageCore.prompt(.detection)], scorers: [scorer, hardScorer],
        make: { context in DetectionStage(classifierFor: { try context.classifierFor(.detection, $0) }) })
}
