public import AutoInterpLLM
import Foundation

/// Everything the run needs to know about one stage, in one value: its name, whether it can run
/// without an LLM endpoint, its prompt files, its report sections, and how to build it.
///
/// The plan (`--stages`, defaults, the no-endpoint policy), the prompt loading and the recorded
/// prompt hashes, the summary, both reports, `compare` and the agreement matrix all read the
/// descriptors of a ``StageCatalog``; a stage that is not in the catalogue does not exist for
/// them. Adding a scorer is a folder with its ``UnitStage`` and its descriptor, plus one entry
/// in ``StageCatalog/builtIn`` (or in ``RunRequest/extraStages`` from a script).
public struct StageDescriptor: Sendable {
    /// The name in `--stages`, logs, `llm_calls.stage` and ``UnitOutcome``.
    public var name: StageName
    /// One line for help texts: what the stage does.
    public var help: String
    /// Whether the stage needs an LLM endpoint even with the local baseline (the rubric's judge):
    /// without an endpoint it is left out of the default stages (said in the summary), and
    /// refused with the fix when asked for by name.
    public var needsEndpoint: Bool
    /// Whether the stage's worker calls the LLM in an LLM run (false for local scorers such as
    /// `score`): what a transport that collects calls (batches) or a scripted test endpoint must serve.
    public var asksLLM: Bool
    /// Whether the stage needs a sentence-embedding model (`--embedder`, ``RunRequest/embedder``):
    /// without one it is left out of the default stages (said in the summary), and refused with
    /// the fix when asked for by name.
    public var needsEmbedder: Bool
    /// Whether the stage runs when `--stages` is not given (false: opt-in by name, e.g. the
    /// intruder scorer, which adds calls per unit).
    public var inDefaults: Bool
    /// The prompt files the stage's LLM worker reads, loaded with the run's prompts and
    /// recorded with their hashes in the run config.
    public var prompts: [PromptRole]
    /// The report sections of the stage's scores (none for explain, simulate or rubric).
    public var scorers: [ReportScorer]
    /// Builds the stage from the run's workers.
    public var make: @Sendable (StageContext) throws -> any UnitStage

    public init(
        name: StageName, help: String, needsEndpoint: Bool = false, asksLLM: Bool = true, needsEmbedder: Bool = false,
        inDefaults: Bool = true, prompts: [PromptRole] = [], scorers: [ReportScorer] = [], make: @escaping @Sendable (StageContext) throws -> any UnitStage
    ) {
        self.name = name
        self.help = help
        self.needsEndpoint = needsEndpoint
        self.asksLLM = asksLLM
        self.needsEmbedder = needsEmbedder
        self.inDefaults = inDefaults
        self.prompts = prompts
        self.scorers = scorers
        self.make = make
    }

    /// A descriptor for a stage object made elsewhere (a script's own stage, with no prompts or report section).
    public init(stage: any UnitStage, help: String? = nil, scorers: [ReportScorer] = []) {
        self.init(name: stage.name, help: help ?? stage.stores, asksLLM: false, scorers: scorers, make: { _ in stage })
    }
}

/// A prompt file a stage reads (e.g. `detection` → `prompts/detection.txt`).
public struct PromptRole: Sendable, Equatable {
    /// The key of the file's reference in the run config (`pipeline.prompts`).
    public var role: String
    /// The file name inside the prompts folder; a folder without it uses the default folder's.
    public var file: String
    /// Placeholders the template must contain, and every placeholder it may use.
    public var required: [String]
    public var placeholders: [String]

    public init(role: String, file: String, required: [String], placeholders: [String]) {
        self.role = role
        self.file = file
        self.required = required
        self.placeholders = placeholders
    }
}

/// What a stage's factory gets: the run's settings and the workers the coordinator built once
/// (the LLM explainer, simulator, judge and classifiers, or the pattern baseline's).
public struct StageContext: Sendable {
    /// The settings stored in the run's identity.
    public var settings: PipelineConfig
    /// The stages this invocation runs.
    public var requested: Set<StageName>
    public var explainer: any UnitExplainer
    /// The simulator for a unit: the shared LLM simulator, or the unit's own pattern simulator.
    public var simulatorFor: @Sendable (UnitWork) throws -> any ActivationSimulator
    /// The rubric judge (``NoJudge`` without an endpoint).
    public var judge: any RubricJudge
    /// A classification scorer's classifier for a unit (LLM, or the unit's pattern classifier).
    public var classifierFor: @Sendable (StoredClassification.Scorer, UnitWork) throws -> any UnitClassifier
    /// The endpoint side when the run has one: the client, the loaded prompts and the pinned
    /// capabilities, for a stage that builds its own LLM worker; nil without an endpoint.
    public var llm: LLM?
    /// Whether units are explained by the LLM-free pattern baseline (`--explainer local`).
    public var isBaseline: Bool
    /// The run's sentence-embedding model (``RunRequest/embedder``), loaded once; nil without one.
    package var embedder: SentenceEmbedder?

    /// The endpoint side of a ``StageContext``.
    public struct LLM: Sendable {
        public var client: LLMClient
        public var prompts: PromptSet
        public var capabilities: PinnedCapabilities

        public init(client: LLMClient, prompts: PromptSet, capabilities: PinnedCapabilities) {
            self.client = client
            self.prompts = prompts
            self.capabilities = capabilities
        }
    }

    public init(
        settings: PipelineConfig, requested: Set<StageName>, explainer: any UnitExplainer,
        simulatorFor: @escaping @Sendable (UnitWork) throws -> any ActivationSimulator, judge: any RubricJudge,
        classifierFor: @escaping @Sendable (StoredClassification.Scorer, UnitWork) throws -> any UnitClassifier,
        llm: LLM?, isBaseline: Bool
    ) {
        self.settings = settings
        self.requested = requested
        self.explainer = explainer
        self.simulatorFor = simulatorFor
        self.judge = judge
        self.classifierFor = classifierFor
        self.llm = llm
        self.isBaseline = isBaseline
    }
}
