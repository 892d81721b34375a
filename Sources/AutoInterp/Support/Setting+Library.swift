public import AutoInterpLLM

/// The settings the library's messages mention (see ``Setting``), by their names in words; the
/// CLI's flag for each is `--` and the name with hyphens (``Setting/unitsInFlight``: `--concurrency`).
extension Setting {
    // Run
    public static let stages: Setting = "stages"
    public static let explainer: Setting = "explainer"
    public static let explainerSamples: Setting = "explainer samples"
    public static let recordsPerCall: Setting = "records per call"
    public static let unitsInFlight: Setting = "units in flight"
    public static let name: Setting = "name"
    public static let results: Setting = "results"
    public static let forceNew: Setting = "force new"
    public static let prompts: Setting = "prompts"
    public static let shard: Setting = "shard"
    public static let shardIndexEnv: Setting = "shard index env"
    public static let output: Setting = "output"
    public static let run: Setting = "run"
    /// The sentence-embedding model of the embedding scorer.
    public static let embedder: Setting = "embedder"
    public static let controls: Setting = "controls"
    public static let classifyPerCall: Setting = "classify per call"
    /// The intruder scorer's decile groups.
    public static let intruderGroups: Setting = "intruder groups"
    /// The units the metric audit samples (`autointerp audit --units`).
    public static let auditUnits: Setting = "units"
    public static let maxCost: Setting = "max cost"
    public static let priceBatchInput: Setting = "price batch input"
    public static let priceBatchOutput: Setting = "price batch output"
    /// Seconds between two polls of an open provider batch.
    public static let batchPoll: Setting = "batch poll"
    // Data and units
    public static let activations: Setting = "activations"
    public static let vocab: Setting = "vocab"
    public static let latents: Setting = "latents"
    public static let sae: Setting = "sae"
    public static let saeFormat: Setting = "sae format"
    public static let hookpoint: Setting = "hookpoint"
    public static let layer: Setting = "layer"
    public static let k: Setting = "k"
    public static let features: Setting = "features"
    public static let neurons: Setting = "neurons"
    public static let neuronSign: Setting = "neuron sign"
    public static let batchTokens: Setting = "batch tokens"
    // Selection
    public static let explainTop: Setting = "explain top"
    public static let scoreTop: Setting = "score top"
    public static let scoreRandom: Setting = "score random"
    public static let perBin: Setting = "per bin"
    public static let nonActivating: Setting = "non activating"
    public static let classifySilent: Setting = "classify silent"
    public static let classifyPerDecile: Setting = "classify per decile"
    public static let classifyProtocol: Setting = "classify protocol"
    public static let hardNegatives: Setting = "hard negatives"
    public static let patternConsistency: Setting = "pattern consistency"
    public static let patternContext: Setting = "pattern context"
    // Making data
    public static let contexts: Setting = "contexts"
    public static let contextLength: Setting = "context length"
    public static let contextLen: Setting = "context len"
    /// `harvest`: tokens (context slots) per shard of the output folder.
    public static let shardTokens: Setting = "shard tokens"
    public static let width: Setting = "width"
    public static let hook: Setting = "hook"
    public static let prependBos: Setting = "prepend bos"
    public static let noPrependBos: Setting = "no prepend bos"
    public static let modelName: Setting = "model name"
    public static let expansion: Setting = "expansion"
    public static let dSAE: Setting = "d sae"
    public static let batchSize: Setting = "batch size"
}
