import Foundation

/// The stages a run knows, in the order they run for a unit: the one list that `--stages`, the
/// default stage set, the prompt files, the summary, the reports, `compare` and the agreement
/// matrix are derived from.
public struct StageCatalog: Sendable {
    public private(set) var descriptors: [StageDescriptor]

    /// A catalogue of `descriptors` in run order.
    ///
    /// - Throws: ``AutoInterpError`` when two descriptors share a name.
    public init(_ descriptors: [StageDescriptor]) throws {
        var seen: Set<StageName> = []
        for descriptor in descriptors where !seen.insert(descriptor.name).inserted {
            throw AutoInterpError.invalidInput("two stages are named '\(descriptor.name)': give the added stage another name")
        }
        self.descriptors = descriptors
    }

    private init(unchecked descriptors: [StageDescriptor]) { self.descriptors = descriptors }

    /// The built-in stages. A new scorer adds its descriptor here.
    public static let builtIn = StageCatalog(unchecked: [
        ExplainStage.descriptor,
        SimulateStage.descriptor,
        ScoreStage.descriptor,
        RubricStage.descriptor,
        DetectionStage.descriptor,
        FuzzingStage.descriptor,
        EmbeddingStage.descriptor,
        IntruderStage.descriptor,
    ])

    /// This catalogue with `extra` stages after its own (e.g. a script's ``RunRequest/extraStages``).
    public func adding(_ extra: [StageDescriptor]) throws -> StageCatalog {
        try StageCatalog(descriptors + extra)
    }

    /// The stage names in run order.
    public var names: [StageName] { descriptors.map(\.name) }

    /// The stages a run does when `--stages` is not given (those ``StageDescriptor/inDefaults``), in run order.
    public var defaultNames: [StageName] { descriptors.filter(\.inDefaults).map(\.name) }

    /// The names as `--stages` takes them: `explain,simulate,…`.
    public var list: String { names.map(\.rawValue).joined(separator: ",") }

    public func descriptor(_ name: StageName) -> StageDescriptor? { descriptors.first { $0.name == name } }

    /// Every stage's prompt files, in stage order.
    public var promptRoles: [PromptRole] { descriptors.flatMap(\.prompts) }

    /// Every report section, in stage order (simulation, detection, fuzzing, …).
    public var scorers: [ReportScorer] { descriptors.flatMap(\.scorers) }

    /// Parses a comma-separated subset of the names (any order).
    ///
    /// - Throws: ``AutoInterpError/invalidOption(_:_:)`` for an unknown name or an empty list.
    public func parse(_ text: String) throws -> Set<StageName> {
        var stages: Set<StageName> = []
        for part in text.split(separator: ",") {
            let name = StageName(part.trimmingCharacters(in: .whitespaces).lowercased())
            guard descriptor(name) != nil else {
                throw AutoInterpError.invalidOption(.stages, "unknown stage '\(name)' (use a comma-separated subset of \(list))")
            }
            stages.insert(name)
        }
        guard !stages.isEmpty else { throw AutoInterpError.invalidOption(.stages, "is empty (use e.g. \(list))") }
        return stages
    }
}
