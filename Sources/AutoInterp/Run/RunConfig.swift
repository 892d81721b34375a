import Foundation

/// Everything that decides what a run computes, stored as `runs.config_json`.
///
/// Two invocations with equal configs are the same run (the second resumes the first); a
/// changed config is refused unless the user asks for a new run.
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
    /// Prices per million tokens (`--price-input`, `--price-output`), for the report's cost
    /// section; not compared on resume (a price changes no result).
    public var prices: StoredPrices?
    /// How the SAE was read and encodes (format, architecture, k / thresholds, dtype, hook); nil
    /// without an SAE, and in runs made before it was recorded (left out of the JSON then).
    public var saeSource: SAESource?
    /// The sparse latent cache the features were read from (`--latents`, absolute path); nil
    /// when they were encoded with the SAE (left out of the JSON then).
    public var latents: String?

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
}

/// `runs.config_json` key `prices`: USD per million prompt and completion tokens.
public struct StoredPrices: Sendable, Equatable, Codable {
    public var prompt: Double
    public var completion: Double

    public init(prompt: Double, completion: Double) {
        self.prompt = prompt
        self.completion = completion
    }
}
