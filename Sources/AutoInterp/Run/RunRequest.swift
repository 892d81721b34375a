public import AutoInterpLLM
public import Foundation

/// Which explainer and simulator a run uses.
public enum ExplainerKind: String, Sendable, Codable, CaseIterable {
    /// ``LLMExplainer`` and ``LLMSimulator``.
    case llm
    /// The LLM-free pattern baseline: ``PatternExplainer`` and ``PatternSimulator``.
    case local
}

/// Everything `autointerp run` takes.
public struct RunRequest: Sendable {
    /// Inputs, units, selection and the run name (its `pipeline` is filled in by ``RunCoordinator``).
    public var setup: RunSetup.Request
    /// The endpoint (its model is the explainer's); nil runs without an LLM, which only the
    /// local baseline can (and then without the rubric).
    public var endpoint: LLMEndpointConfig?
    public var simulatorModel: String?
    public var judgeModel: String?
    public var simulatorMode: SimulatorMode
    public var recordsPerCall: Int
    public var explainerSamples: Int
    /// The stages to run; nil = every stage the run can do (see ``StagePlan``).
    public var stages: Set<StageName>?
    /// The prompts folder and rubric file; nil finds the defaults (``PromptSet/locate(prompts:rubric:)``).
    public var prompts: URL?
    public var rubric: URL?
    /// Units worked on at once; nil = 2 × the client's max in flight (4 without an endpoint).
    public var unitsInFlight: Int?
    /// Told of the run's progress (the CLI draws bars from it); nil: nobody listens.
    public var observer: (any RunObserver)?
    public var explainer: ExplainerKind
    /// The local baseline's settings (used with `.local`, stored in the run config).
    public var baseline: PatternSet.Parameters
    /// Stages run after the built-in ones for every unit (always requested), by their
    /// descriptors: they get their own `--stages` name, prompts, summary figures and report sections.
    public var extraStages: [StageDescriptor]
    /// `--batch`: send the requests without a cached answer as provider batches, in waves (nil:
    /// in real time). A transport, not part of the run's identity.
    public var batch: BatchSettings?
    /// Which explained units the control pass scores (stored in the run config).
    public var controls: ControlSample = .default
    /// Examples per detection / fuzzing call of the LLM classifier (stored in the run config).
    public var classifyPerCall: Int = LLMClassifier.defaultBatchSize
    /// The embedding scorer's sentence-embedding model folder (`--embedder`: a BERT-family
    /// sentence-transformers folder such as all-MiniLM-L6-v2); nil leaves the embedding stage out.
    public var embedder: URL?
    /// The intruder scorer's decile groups (one prompt per group).
    public var intruderGroups: IntruderGroups = .default

    public init(
        setup: RunSetup.Request, endpoint: LLMEndpointConfig?, simulatorModel: String? = nil, judgeModel: String? = nil,
        simulatorMode: SimulatorMode = .sparse, recordsPerCall: Int = LLMSimulator.defaultRecordsPerCall, explainerSamples: Int = 1,
        stages: Set<StageName>? = nil, prompts: URL? = nil, rubric: URL? = nil, unitsInFlight: Int? = nil,
        observer: (any RunObserver)? = nil, explainer: ExplainerKind = .llm, baseline: PatternSet.Parameters = PatternSet.Parameters(),
        extraStages: [StageDescriptor] = [], batch: BatchSettings? = nil
    ) {
        self.setup = setup
        self.endpoint = endpoint
        self.simulatorModel = simulatorModel
        self.judgeModel = judgeModel
        self.simulatorMode = simulatorMode
        self.recordsPerCall = recordsPerCall
        self.explainerSamples = explainerSamples
        self.stages = stages
        self.prompts = prompts
        self.rubric = rubric
        self.unitsInFlight = unitsInFlight
        self.observer = observer
        self.explainer = explainer
        self.baseline = baseline
        self.extraStages = extraStages
        self.batch = batch
    }
}

/// What a run leaves: its summary, and the open store, run row and stage catalogue for reports.
public struct RunResult: Sendable {
    public var summary: RunSummary
    public var store: RunStore
    public var run: RunInfo
    /// The built-in stages and the request's extra ones (whose report sections the report shows).
    public var catalog: StageCatalog

    /// The report options that show every scorer of the run's catalogue.
    public var reportOptions: ReportOptions {
        var options = ReportOptions()
        options.scorers = catalog.scorers
        return options
    }
}
