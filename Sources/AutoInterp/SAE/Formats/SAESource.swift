import Foundation

/// Where an SAE came from and how it encodes: what a run records in its config
/// (`runs.config_json`, key `saeSource`) and `autointerp sae inspect` prints.
public struct SAESource: Sendable, Equatable, Codable {
    /// The layout it was read as.
    public var format: SAEFormat
    /// The publisher's flavour within the format (`goodfire`, `qwen-scope`, `dictionary_learning`, …), when it matters.
    public var variant: String?
    /// The files read (absolute paths): config first, then weights.
    public var files: [String]
    /// `standard`, `jumprelu`, `topk` or `gated`.
    public var architecture: String
    /// The activation as a formula, e.g. `topk(relu(W_enc·(x - b_dec) + b_enc)), k = 32`.
    public var activation: String
    public var dIn: Int
    public var dSAE: Int
    /// Active latents per token (`topk`).
    public var k: Int?
    /// Smallest and largest JumpReLU threshold.
    public var thresholdRange: [Float]?
    /// Whether `b_dec` is subtracted from the input before encoding.
    public var subtractsDecoderBias: Bool
    /// Stored element types, e.g. `BF16` or `F32 (threshold), BF16`.
    public var dtype: String
    /// The hook the features read from, when the files say.
    public var hook: String?
    /// A transcoder's output hook (its features are read from `hook`, its input).
    public var outputHook: String?
    /// The layer or hookpoint picked in a folder holding several.
    public var layer: Int?
    public var hookpoint: String?
    /// Anything read but not used for feature activations (a skip connection, a decoder for another hook).
    public var notes: [String]

    public init(
        format: SAEFormat, variant: String? = nil, files: [String], architecture: String, activation: String, dIn: Int, dSAE: Int,
        k: Int? = nil, thresholdRange: [Float]? = nil, subtractsDecoderBias: Bool, dtype: String, hook: String? = nil,
        outputHook: String? = nil, layer: Int? = nil, hookpoint: String? = nil, notes: [String] = []
    ) {
        self.format = format
        self.variant = variant
        self.files = files
        self.architecture = architecture
        self.activation = activation
        self.dIn = dIn
        self.dSAE = dSAE
        self.k = k
        self.thresholdRange = thresholdRange
        self.subtractsDecoderBias = subtractsDecoderBias
        self.dtype = dtype
        self.hook = hook
        self.outputHook = outputHook
        self.layer = layer
        self.hookpoint = hookpoint
        self.notes = notes
    }

    /// Pretty JSON with sorted keys, as `sae inspect` prints it.
    public func prettyJSON() throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
        return String(decoding: try encoder.encode(self), as: UTF8.self)
    }
}

extension SAESource {
    /// Describes `sae` as read from `files`: architecture, formula, k, threshold range, input shift.
    static func describing(
        _ sae: SparseAutoencoder, format: SAEFormat, variant: String? = nil, files: [String], dtype: String, hook: String? = nil,
        outputHook: String? = nil, layer: Int? = nil, hookpoint: String? = nil, notes: [String] = []
    ) -> SAESource {
        let config = sae.config
        let input = config.applyBDecToInput ? "x - b_dec" : "x"
        let normalized = config.normalizeActivations == .none ? input : "\(config.normalizeActivations.rawValue)(\(input))"
        let z = normalized == "x" ? "x·W_enc + b_enc" : "(\(normalized))·W_enc + b_enc"
        let activation: String
        switch config.architecture {
        case .standard: activation = "relu(\(z))"
        case .jumprelu: activation = "relu(z)·[z > threshold], z = \(z)"
        case .topk:
            let scaled = config.rescaleActsByDecoderNorm ? "(\(z))·‖W_dec‖" : z
            activation = "relu(topk(\(scaled))), k = \(config.k ?? 0)"
        case .gated: activation = "gated(\(z))"
        }
        let range = sae.thresholdBounds.map { [$0.lowerBound, $0.upperBound] }
        return SAESource(
            format: format, variant: variant, files: files, architecture: config.architecture.rawValue, activation: activation,
            dIn: sae.dIn, dSAE: sae.dSAE, k: config.architecture == .topk ? config.k : nil, thresholdRange: range,
            subtractsDecoderBias: config.applyBDecToInput, dtype: dtype, hook: hook, outputHook: outputHook, layer: layer, hookpoint: hookpoint,
            notes: notes)
    }
}
