import Foundation

/// A run's identity: everything that decides what it computes, stored once as
/// `runs.config_json` and hashed into `runs.config_hash`.
///
/// Two invocations with equal configs are the same run (the second resumes the first); a
/// changed config is refused unless the user asks for a new run. What the run discovers (the
/// endpoint's pinned capabilities) and free settings (prices) are its *state*, kept apart in
/// `run_state` (``RunStore/capabilities(runID:)``, ``RunStore/prices(runID:)``), so they never
/// change the identity or its hash.
public struct RunConfig: Sendable, Equatable, Codable {
    /// The activation dataset (absolute path).
    public var activations: String
    /// The vocabulary file (absolute path).
    public var vocab: String
    /// The SAE folder (absolute path), when features are studied.
    public var sae: String?
    /// The feature and neuron specs as typed, and the indices they resolved to.
    public var featureSpec: String
    public var neuronSpec: String
    public var features: [Int]
    public var neurons: [Int]
    public var selection: SelectionConfig
    /// The explain / simulate / score / rubric settings, once `autointerp run` has used the run
    /// (nil for a run only `select` has touched; left out of the JSON then).
    public var pipeline: PipelineConfig?
    /// What the dataset's `__metadata__` says it is (model, layer, hook); nil when it says
    /// nothing, and in runs made before it was recorded (left out of the JSON then).
    public var dataset: DatasetDescription?
    /// How the SAE was read and encodes (format, architecture, k / thresholds, dtype, hook); nil
    /// without an SAE, and in runs made before it was recorded (left out of the JSON then).
    public var saeSource: SAESource?
    /// The sparse latent cache the features were read from (`--latents`, absolute path); nil
    /// when they were encoded with the SAE (left out of the JSON then).
    public var latents: String?
    /// Which side of the neurons is studied (`--neuron-sign`); nil for the positive side, as in
    /// runs made before signed neurons (left out of the JSON then, so their identity is unchanged).
    public var neuronSign: NeuronSign?
    /// The neurons studied on their negative side (``UnitKind/negativeNeuron``); nil unless
    /// ``neuronSign`` is `negative` or `both` (`neurons` then holds the positive side: empty for `negative`).
    public var negativeNeurons: [Int]?

    public init(
        activations: String, vocab: String, sae: String?, featureSpec: String, neuronSpec: String, features: [Int], neurons: [Int],
        selection: SelectionConfig, pipeline: PipelineConfig? = nil
    ) {
        self.activations = activations
        self.vocab = vocab
        self.sae = sae
        self.featureSpec = featureSpec
        self.neuronSpec = neuronSpec
        self.features = features
        self.neurons = neurons
        self.selection = selection
        self.pipeline = pipeline
    }

    /// The side of the neurons studied (positive when ``neuronSign`` is nil).
    public var sign: NeuronSign { neuronSign ?? .positive }

    /// Every unit of the config: features, neurons, then negative-side neurons.
    public var units: [UnitRef] {
        features.map { UnitRef(.feature, $0) } + neurons.map { UnitRef(.neuron, $0) }
            + (negativeNeurons ?? []).map { UnitRef(.negativeNeuron, $0) }
    }

    /// Sets the unit lists from `units` (a merge's union, a shard's slice); `negativeNeurons`
    /// stays nil unless the config studies the negative side.
    public mutating func setUnits(_ units: [UnitRef]) {
        features = units.filter { $0.kind == .feature }.map(\.index)
        neurons = units.filter { $0.kind == .neuron }.map(\.index)
        negativeNeurons = sign.kinds.contains(.negativeNeuron) ? units.filter { $0.kind == .negativeNeuron }.map(\.index) : nil
    }

    /// Canonical JSON (sorted keys), the form stored and hashed.
    public func canonicalJSON() throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try encoder.encode(self), as: UTF8.self)
    }

    /// Decodes a stored `config_json`.
    public static func decode(_ json: String) throws -> RunConfig {
        try JSONDecoder().decode(RunConfig.self, from: Data(json.utf8))
    }

    /// The names of the fields whose values differ from `other` (nested fields as `a.b`),
    /// found generically over the encoded JSON, so a field added to the config is compared
    /// without a hand-kept list.
    public func differences(from other: RunConfig) throws -> [String] {
        try JSONFields.differences(JSONFields.object(self), JSONFields.object(other))
    }
}

/// What a dataset's `__metadata__` says about where its activations come from.
public struct DatasetDescription: Sendable, Equatable, Codable {
    public var model: String?
    public var layer: String?
    public var hook: String?
    /// The texts file the activations were harvested from, and the SHA-256 of its bytes: the
    /// corpus a run's figures depend on (two runs on the same corpus have the same hash).
    public var texts: String?
    public var textsSHA256: String?

    public init(model: String?, layer: String?, hook: String?, texts: String? = nil, textsSHA256: String? = nil) {
        self.model = model
        self.layer = layer
        self.hook = hook
        self.texts = texts
        self.textsSHA256 = textsSHA256
    }

    /// From `__metadata__` keys `model`, `layer`, `hook`, `texts` and `texts_sha256`; nil when
    /// none is there.
    public init?(metadata: [String: String]) {
        let model = metadata["model"], layer = metadata["layer"], hook = metadata["hook"]
        let texts = metadata["texts"], hash = metadata["texts_sha256"]
        guard model != nil || layer != nil || hook != nil || texts != nil || hash != nil else { return nil }
        self.init(model: model, layer: layer, hook: hook, texts: texts, textsSHA256: hash)
    }
}

/// A run's prices (``RunStore/prices(runID:)``): USD per million prompt and completion tokens.
public struct StoredPrices: Sendable, Equatable, Codable {
    public var prompt: Double
    public var completion: Double
    /// The batch tier's prices (`--price-batch-input/-output`); nil: half the real-time price,
    /// the batch discount of OpenAI, Anthropic, Azure, Mistral and Together.
    public var batchPrompt: Double?
    public var batchCompletion: Double?

    public init(prompt: Double, completion: Double, batchPrompt: Double? = nil, batchCompletion: Double? = nil) {
        self.prompt = prompt
        self.completion = completion
        self.batchPrompt = batchPrompt
        self.batchCompletion = batchCompletion
    }
}
