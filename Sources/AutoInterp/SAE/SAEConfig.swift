import AutoInterpLLM
public import Foundation

/// The parts of a SAELens `cfg.json` the encoder needs.
///
/// Reads both the older flat form (`hook_point`, `activation_fn_str`, `activation_fn_kwargs.k`)
/// and the newer one with a nested `metadata` object; each key is looked up at the top level,
/// then in `metadata`.
public struct SAEConfig: Sendable, Equatable, Codable {
    public enum Architecture: String, Sendable, Codable {
        case standard
        case jumprelu
        case topk
        case gated
    }

    public enum Normalization: String, Sendable, Codable {
        case none
        case constantNormRescale = "constant_norm_rescale"
        case layerNorm = "layer_norm"
    }

    public var architecture: Architecture
    public var dIn: Int
    public var dSAE: Int
    public var applyBDecToInput: Bool
    public var normalizeActivations: Normalization
    /// Active features kept per token for `topk`.
    public var k: Int?
    public var rescaleActsByDecoderNorm: Bool
    /// Declared weight dtype (`float32`, `torch.bfloat16`, ...), informational: tensors are converted.
    public var dtype: String
    public var hookName: String?
    public var modelName: String?
    /// Whether the SAE's training contexts began with the model's BOS token (`prepend_bos`), when the file says.
    public var prependBOS: Bool?
    /// The training context length (`context_size`), when the file says.
    public var contextSize: Int?

    public init(
        architecture: Architecture, dIn: Int, dSAE: Int, applyBDecToInput: Bool = true,
        normalizeActivations: Normalization = .none, k: Int? = nil, rescaleActsByDecoderNorm: Bool = false,
        dtype: String = "float32", hookName: String? = nil, modelName: String? = nil, prependBOS: Bool? = nil, contextSize: Int? = nil
    ) {
        self.architecture = architecture
        self.dIn = dIn
        self.dSAE = dSAE
        self.applyBDecToInput = applyBDecToInput
        self.normalizeActivations = normalizeActivations
        self.k = k
        self.rescaleActsByDecoderNorm = rescaleActsByDecoderNorm
        self.dtype = dtype
        self.hookName = hookName
        self.modelName = modelName
        self.prependBOS = prependBOS
        self.contextSize = contextSize
    }

    /// Parses `cfg.json` at `url`.
    ///
    /// - Throws: `AutoInterpError.invalidFile` naming the key that is missing or wrong.
    public init(contentsOf url: URL) throws {
        let path = url.path
        let data: Data
        do { data = try Data(contentsOf: url) } catch {
            throw AutoInterpError.io(path, "cannot read the SAE config (an SAELens folder holds cfg.json and sae_weights.safetensors)")
        }
        guard let root = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw AutoInterpError.invalidFile(path, "not a JSON object")
        }
        try self.init(json: root, path: path)
    }

    /// Parses an already-decoded `cfg.json` object; `path` is used in messages.
    public init(json root: [String: Any], path: String) throws {
        let nested = root["metadata"] as? [String: Any] ?? [:]
        func value(_ key: String) -> Any? { root[key] ?? nested[key] }
        func int(_ key: String) throws -> Int? {
            guard let raw = value(key), !(raw is NSNull) else { return nil }
            guard let number = raw as? NSNumber, let int = Int(exactly: number.doubleValue), int > 0 else {
                throw AutoInterpError.invalidFile(path, "'\(key)' must be a positive integer, found \(raw)")
            }
            return int
        }
        func bool(_ key: String) -> Bool? { (value(key) as? NSNumber)?.boolValue }

        guard let dIn = try int("d_in") else { throw AutoInterpError.invalidFile(path, "missing 'd_in'") }
        guard let dSAE = try int("d_sae") else { throw AutoInterpError.invalidFile(path, "missing 'd_sae'") }
        self.dIn = dIn
        self.dSAE = dSAE

        let activationFn = (value("activation_fn_str") ?? value("activation_fn")) as? String
        let kwargs = value("activation_fn_kwargs") as? [String: Any] ?? [:]
        var k = try int("k")
        if k == nil, let raw = kwargs["k"] as? NSNumber { k = raw.intValue }
        self.k = k

        let declared = (value("architecture") as? String)?.lowercased()
        switch declared {
        case "standard", "relu", nil:
            architecture = activationFn?.lowercased() == "topk" ? .topk : .standard
        case "jumprelu", "jump_relu":
            architecture = .jumprelu
        case "topk", "top_k":
            architecture = .topk
        case "gated":
            architecture = .gated
        case let other?:
            throw AutoInterpError.invalidFile(path, "unsupported architecture '\(other)' (supported: standard, jumprelu, topk, gated)")
        }
        if architecture == .topk {
            guard let k, k > 0, k <= dSAE else {
                throw AutoInterpError.invalidFile(path, "topk SAE needs 'k' between 1 and d_sae (\(dSAE)), found \(k.map(String.init) ?? "none")")
            }
        }
        applyBDecToInput = bool("apply_b_dec_to_input") ?? true
        rescaleActsByDecoderNorm = bool("rescale_acts_by_decoder_norm") ?? false

        let normalization = (value("normalize_activations") as? String) ?? "none"
        switch normalization {
        case "none", "": normalizeActivations = .none
        case "constant_norm_rescale": normalizeActivations = .constantNormRescale
        case "layer_norm": normalizeActivations = .layerNorm
        default:
            throw AutoInterpError.invalidFile(path, "unsupported normalize_activations '\(normalization)' (supported: none, constant_norm_rescale, layer_norm)")
        }
        dtype = (value("dtype") as? String).map { $0.hasPrefix("torch.") ? String($0.dropFirst(6)) : $0 } ?? "float32"
        guard ["float32", "float16", "bfloat16", "float64"].contains(dtype) else {
            throw AutoInterpError.invalidFile(path, "unsupported dtype '\(dtype)' (float32, float16, bfloat16)")
        }
        hookName = (value("hook_name") ?? value("hook_point")) as? String
        modelName = value("model_name") as? String
        prependBOS = bool("prepend_bos")
        // Informational: a context_size this reader cannot use is left out rather than refused.
        contextSize = (value("context_size") as? NSNumber).flatMap { Int(exactly: $0.doubleValue) }.flatMap { $0 > 0 ? $0 : nil }
    }

    /// The SAELens `cfg.json` at `path`: the file itself, or the one in the folder `path`.
    ///
    /// - Throws: `AutoInterpError.invalidFile` when there is none (other layouts keep no such record).
    package init(saeLensAt path: URL) throws {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path.path, isDirectory: &isDirectory) else {
            throw AutoInterpError.io(path.path, "no such SAE folder or cfg.json")
        }
        let file = isDirectory.boolValue ? path.appendingPathComponent("cfg.json") : path
        guard file.pathExtension == "json", FileManager.default.fileExists(atPath: file.path) else {
            throw AutoInterpError.invalidFile(
                path.path, "no SAELens cfg.json to read hook_name and prepend_bos from; pass \(Setting.hook) and \(Setting.prependBos) yourself")
        }
        try self.init(contentsOf: file)
    }
}
