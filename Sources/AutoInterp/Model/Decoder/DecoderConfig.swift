package import Foundation

/// What a decoder LM's forward pass needs from its `config.json` (or GGUF metadata).
///
/// Three block layouts: `llama` (Llama 2/3, SmolLM2, Qwen2: RMSNorm, RoPE, GQA, SwiGLU), `gemma`
/// (Gemma 2 and 3: the Llama layout with `(1 + w)` RMSNorms before and after attention and the MLP,
/// a `sqrt(d_model)` embedding scale, GeGLU, `query_pre_attn_scalar`, attention logit soft-capping,
/// sliding-window layers with their own RoPE base, Gemma 3's q/k norms) and `gpt2` (LayerNorm,
/// learned positions, GELU-tanh MLP). A config field that would change the forward pass
/// in a way this runner does not follow is refused with one line, never ignored.
package struct DecoderConfig: Sendable, Equatable {
    package enum Family: String, Sendable { case llama, gemma, gpt2 }

    /// The MLP's non-linearity: SwiGLU's `silu` or GeGLU's tanh-approximated `gelu` (Gemma).
    package enum Activation: String, Sendable { case silu, geluTanh }

    /// How RoPE frequencies are scaled (`rope_scaling` / `rope_parameters`).
    package enum RopeScaling: Sendable, Equatable {
        case none
        /// Positions divided by `factor`.
        case linear(factor: Double)
        /// Llama 3.1's band-wise scaling.
        case llama3(factor: Double, lowFreqFactor: Double, highFreqFactor: Double, originalMaxPositions: Double)
    }

    /// `model_type` (`llama`, `qwen2`, `gpt2`) or the GGUF architecture.
    package var modelType: String
    package var family: Family
    package var hiddenSize: Int
    package var layerCount: Int
    package var headCount: Int
    package var kvHeadCount: Int
    package var headDim: Int
    package var intermediateSize: Int
    package var vocabSize: Int
    package var maxPositions: Int
    package var normEpsilon: Float
    package var ropeTheta: Double = 10_000
    package var ropeScaling: RopeScaling = .none
    /// Biases on q, k, v (Qwen2, `attention_bias`); the output projection's follows `outputBias`.
    package var qkvBias: Bool = false
    package var outputBias: Bool = false
    package var mlpBias: Bool = false
    /// The BOS token id, when the config names one.
    package var bosTokenID: Int32?
    package var activation: Activation = .silu
    /// Attention logits are multiplied by this (`query_pre_attn_scalar ^ -0.5` for Gemma); nil: `1 / sqrt(head_dim)`.
    package var attentionScale: Float?
    /// Gemma 2's `attn_logit_softcapping`: logits become `cap · tanh(logits / cap)` before the mask.
    package var attentionSoftcap: Float?
    /// Keys a sliding-window layer sees: the last `slidingWindow` positions, its own included.
    package var slidingWindow: Int?
    /// Per layer: whether it is a sliding-window layer (`layer_types`); empty when none is.
    package var slidingLayers: [Bool] = []
    /// The RoPE base and scaling of sliding-window layers, when they differ from the global ones (Gemma 3).
    package var localRopeTheta: Double?
    package var localRopeScaling: RopeScaling = .none
    /// Token embeddings are multiplied by this (Gemma: `sqrt(hidden_size)` rounded to the checkpoint's dtype).
    package var embeddingScale: Float?
    /// RMSNorm over each head's q and k before RoPE (Gemma 3).
    package var queryKeyNorm: Bool = false

    /// Model types read from `config.json`.
    package static let supportedTypes = ["llama", "qwen2", "gemma2", "gemma3_text", "gpt2"]

    /// Loads and checks `config.json`.
    ///
    /// - Throws: `AutoInterpError.invalidFile` / `.unsupported` naming the file and the field.
    package static func load(_ url: URL) throws -> DecoderConfig {
        let path = url.path
        let data: Data
        do { data = try Data(contentsOf: url) } catch {
            throw AutoInterpError.io(path, "cannot read: \(error.localizedDescription)")
        }
        guard let json = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else {
            throw AutoInterpError.invalidFile(path, "not a JSON object; expected a Hugging Face config.json")
        }
        return try DecoderConfig(json: json, source: path)
    }

    /// A config from parsed `config.json`.
    package init(json: [String: Any], source: String) throws {
        func fail(_ problem: String) -> AutoInterpError { .invalidFile(source, problem) }
        func refuse(_ problem: String) -> AutoInterpError { .unsupported("\(source): \(problem); this version cannot run it") }
        func int(_ key: String, default fallback: Int? = nil) throws -> Int {
            guard let raw = json[key], !(raw is NSNull) else {
                if let fallback { return fallback }
                throw fail("missing '\(key)'")
            }
            guard let number = raw as? NSNumber, let value = Int(exactly: number.doubleValue), value > 0, value < 1 << 31 else {
                throw fail("'\(key)' must be a positive integer")
            }
            return value
        }
        func double(_ key: String, default fallback: Double) throws -> Double {
            guard let raw = json[key], !(raw is NSNull) else { return fallback }
            guard let number = raw as? NSNumber, number.doubleValue.isFinite else { throw fail("'\(key)' must be a number") }
            return number.doubleValue
        }
        func flag(_ key: String) -> Bool { (json[key] as? Bool) ?? false }
        /// Width, layers, query and key/value heads as the Llama-style configs (Llama, Qwen2, Gemma) name them.
        func llamaShape() throws -> (hidden: Int, layers: Int, heads: Int, kvHeads: Int) {
            let heads = try int("num_attention_heads")
            let kvHeads = try int("num_key_value_heads", default: heads)
            guard heads % kvHeads == 0 else {
                throw fail("num_attention_heads \(heads) is not a multiple of num_key_value_heads \(kvHeads)")
            }
            return (try int("hidden_size"), try int("num_hidden_layers"), heads, kvHeads)
        }
        guard let type = json["model_type"] as? String else { throw fail("no 'model_type'") }
        modelType = type
        bosTokenID = (json["bos_token_id"] as? NSNumber).flatMap { Int32(exactly: $0.doubleValue) }
        switch type {
        case "gpt2":
            family = .gpt2
            hiddenSize = try int("n_embd")
            layerCount = try int("n_layer")
            headCount = try int("n_head")
            kvHeadCount = headCount
            guard hiddenSize % headCount == 0 else { throw fail("n_embd \(hiddenSize) is not a multiple of n_head \(headCount)") }
            headDim = hiddenSize / headCount
            intermediateSize = try int("n_inner", default: 4 * hiddenSize)
            vocabSize = try int("vocab_size")
            maxPositions = try int("n_positions")
            normEpsilon = Float(try double("layer_norm_epsilon", default: 1e-5))
            let act = json["activation_function"] as? String ?? "gelu_new"
            guard ["gelu_new", "gelu_pytorch_tanh"].contains(act) else { throw refuse("activation_function '\(act)' (gelu_new is run)") }
            if flag("scale_attn_by_inverse_layer_idx") { throw refuse("scale_attn_by_inverse_layer_idx") }
            if let scale = json["scale_attn_weights"] as? Bool, !scale { throw refuse("scale_attn_weights false") }
            if flag("add_cross_attention") { throw refuse("add_cross_attention") }
            qkvBias = true
            outputBias = true
            mlpBias = true
        case "llama", "qwen2":
            family = .llama
            (hiddenSize, layerCount, headCount, kvHeadCount) = try llamaShape()
            guard hiddenSize % headCount == 0 || json["head_dim"] != nil else {
                throw fail("hidden_size is not a multiple of num_attention_heads")
            }
            headDim = try int("head_dim", default: hiddenSize / headCount)
            guard headDim % 2 == 0 else { throw fail("head_dim \(headDim) is odd; RoPE needs pairs") }
            intermediateSize = try int("intermediate_size")
            vocabSize = try int("vocab_size")
            maxPositions = try int("max_position_embeddings")
            normEpsilon = Float(try double("rms_norm_eps", default: 1e-6))
            let act = json["hidden_act"] as? String ?? "silu"
            guard act == "silu" else { throw refuse("hidden_act '\(act)' (silu is run)") }
            if type == "qwen2" {
                qkvBias = true
                if flag("use_sliding_window") { throw refuse("use_sliding_window true") }
            } else {
                qkvBias = flag("attention_bias")
                outputBias = qkvBias
                mlpBias = flag("mlp_bias")
            }
            // Transformers 5 writes rope_parameters (theta inside); older files rope_theta + rope_scaling.
            let rope = (json["rope_parameters"] as? [String: Any]) ?? (json["rope_scaling"] as? [String: Any])
            let topTheta = try double("rope_theta", default: 10_000)
            ropeTheta = (rope?["rope_theta"] as? NSNumber)?.doubleValue ?? topTheta
            if let partial = (rope?["partial_rotary_factor"] ?? json["partial_rotary_factor"]) as? NSNumber, partial.doubleValue != 1 {
                throw refuse("partial_rotary_factor \(partial)")
            }
            ropeScaling = try Self.scaling(rope, refuse: refuse, fail: fail)
        case "gemma2", "gemma3_text":
            family = .gemma
            (hiddenSize, layerCount, headCount, kvHeadCount) = try llamaShape()
            headDim = try int("head_dim", default: 256)
            guard headDim % 2 == 0 else { throw fail("head_dim \(headDim) is odd; RoPE needs pairs") }
            intermediateSize = try int("intermediate_size")
            vocabSize = try int("vocab_size")
            maxPositions = try int("max_position_embeddings")
            normEpsilon = Float(try double("rms_norm_eps", default: 1e-6))
            let act = (json["hidden_activation"] as? String) ?? (json["hidden_act"] as? String) ?? "gelu_pytorch_tanh"
            guard ["gelu_pytorch_tanh", "gelu_new"].contains(act) else { throw refuse("hidden_activation '\(act)' (gelu_pytorch_tanh is run)") }
            activation = .geluTanh
            qkvBias = flag("attention_bias")
            outputBias = qkvBias
            if flag("use_bidirectional_attention") { throw refuse("use_bidirectional_attention true") }
            attentionScale = Float(1 / (try double("query_pre_attn_scalar", default: 256)).squareRoot())
            if let cap = json["attn_logit_softcapping"], !(cap is NSNull) {
                guard let value = (cap as? NSNumber)?.doubleValue, value.isFinite, value > 0 else {
                    throw fail("'attn_logit_softcapping' must be a positive number or null")
                }
                attentionSoftcap = Float(value)
            }
            // final_logit_softcapping only changes the logits, which no hook reads.
            queryKeyNorm = type == "gemma3_text"
            let layers = layerCount
            if let types = json["layer_types"] as? [String] {
                guard types.count == layers else { throw fail("layer_types has \(types.count) entries for \(layers) layers") }
                slidingLayers = try types.map { kind in
                    switch kind {
                    case "sliding_attention": return true
                    case "full_attention": return false
                    default: throw refuse("layer type '\(kind)' (sliding_attention and full_attention are run)")
                    }
                }
            } else if type == "gemma2" {
                slidingLayers = (0..<layers).map { $0 % 2 == 0 }
            } else {
                let hidden = try int("_sliding_window_pattern", default: 6)
                let pattern = try int("sliding_window_pattern", default: hidden)
                slidingLayers = (0..<layers).map { ($0 + 1) % pattern != 0 }
            }
            if slidingLayers.contains(true) {
                guard json["sliding_window"] != nil, !(json["sliding_window"] is NSNull) else {
                    throw fail("layer_types has sliding_attention layers but there is no 'sliding_window'")
                }
                slidingWindow = try int("sliding_window")
            }
            // Transformers 5: rope_parameters, per layer type for Gemma 3; older files: rope_theta,
            // rope_scaling (global layers) and rope_local_base_freq.
            let parameters = json["rope_parameters"] as? [String: Any]
            let global = (parameters?["full_attention"] as? [String: Any]) ?? parameters ?? (json["rope_scaling"] as? [String: Any])
            let topTheta = try double("rope_theta", default: 10_000)
            ropeTheta = (global?["rope_theta"] as? NSNumber)?.doubleValue ?? topTheta
            ropeScaling = try Self.scaling(global, refuse: refuse, fail: fail)
            if let local = parameters?["sliding_attention"] as? [String: Any] {
                localRopeTheta = (local["rope_theta"] as? NSNumber)?.doubleValue ?? ropeTheta
                localRopeScaling = try Self.scaling(local, refuse: refuse, fail: fail)
            } else if type == "gemma3_text" {
                localRopeTheta = try double("rope_local_base_freq", default: 10_000)
            }
            if let partial = (global?["partial_rotary_factor"] ?? json["partial_rotary_factor"]) as? NSNumber, partial.doubleValue != 1 {
                throw refuse("partial_rotary_factor \(partial)")
            }
            // HF multiplies by sqrt(hidden_size) cast to the weights' dtype, the checkpoint's unless told otherwise.
            let dtype = (json["dtype"] as? String) ?? (json["torch_dtype"] as? String) ?? "float32"
            embeddingScale = Self.rounded(Float(Double(hiddenSize).squareRoot()), to: dtype)
        case "gemma3":
            throw refuse("a multimodal Gemma 3 config (model_type gemma3, with text_config); use a text-only gemma3_text checkpoint or its GGUF")
        default:
            throw refuse("model_type '\(type)' (supported: \(Self.supportedTypes.joined(separator: ", ")))")
        }
        if family != .gemma {
            for key in ["attn_logit_softcapping", "final_logit_softcapping", "query_pre_attn_scalar"]
            where json[key] != nil && !(json[key] is NSNull) {
                throw refuse("'\(key)'")
            }
            // Qwen2 writes sliding_window with use_sliding_window false, and layer_types of full_attention only.
            if let types = json["layer_types"] as? [String], let other = types.first(where: { $0 != "full_attention" }) {
                throw refuse("layer type '\(other)' (only full_attention for \(type))")
            }
        }
    }

    static func scaling(
        _ rope: [String: Any]?, refuse: (String) -> AutoInterpError, fail: (String) -> AutoInterpError
    ) throws -> RopeScaling {
        guard let rope else { return .none }
        let type = (rope["rope_type"] as? String) ?? (rope["type"] as? String) ?? "default"
        func number(_ key: String) throws -> Double {
            guard let value = (rope[key] as? NSNumber)?.doubleValue, value.isFinite, value > 0 else {
                throw fail("rope scaling '\(type)' needs a positive '\(key)'")
            }
            return value
        }
        switch type {
        case "default": return .none
        case "linear": return .linear(factor: try number("factor"))
        case "llama3":
            return .llama3(
                factor: try number("factor"), lowFreqFactor: try number("low_freq_factor"), highFreqFactor: try number("high_freq_factor"),
                originalMaxPositions: try number("original_max_position_embeddings"))
        default: throw refuse("RoPE scaling type '\(type)' (default, linear and llama3 are run)")
        }
    }

    /// `value` rounded to a torch dtype (`bfloat16`, `float16`; anything else is float32), as `tensor.to(dtype)` does.
    static func rounded(_ value: Float, to dtype: String) -> Float {
        switch dtype.hasPrefix("torch.") ? String(dtype.dropFirst(6)) : dtype {
        case "bfloat16":
            // Round to nearest even on the top 16 bits.
            let bits = value.bitPattern
            let rounded = bits &+ 0x7FFF &+ ((bits >> 16) & 1)
            return Float(bitPattern: rounded & 0xFFFF_0000)
        case "float16": return Float(Float16(value))
        default: return value
        }
    }

    /// The RoPE inverse frequencies of a layer: the local base for a sliding-window layer when it has one.
    package func inverseFrequencies(layer: Int) -> [Float] {
        let sliding = layer < slidingLayers.count && slidingLayers[layer]
        guard sliding, let localRopeTheta else { return inverseFrequencies }
        return Self.inverseFrequencies(theta: localRopeTheta, scaling: localRopeScaling, headDim: headDim)
    }

    /// The keys a query at a layer sees, counting itself: its sliding window, or every earlier position.
    package func window(layer: Int) -> Int? {
        layer < slidingLayers.count && slidingLayers[layer] ? slidingWindow : nil
    }

    /// The RoPE inverse frequencies, `headDim / 2` of them, as Hugging Face computes them.
    package var inverseFrequencies: [Float] { Self.inverseFrequencies(theta: ropeTheta, scaling: ropeScaling, headDim: headDim) }

    static func inverseFrequencies(theta ropeTheta: Double, scaling ropeScaling: RopeScaling, headDim: Int) -> [Float] {
        let half = headDim / 2
        var out = (0..<half).map { i in Float(1) / Float(pow(ropeTheta, Double(2 * i) / Double(headDim))) }
        switch ropeScaling {
        case .none: break
        case .linear(let factor): out = out.map { $0 / Float(factor) }
        case .llama3(let factor, let low, let high, let original):
            let lowWavelength = original / low
            let highWavelength = original / high
            out = out.map { f in
                let frequency = Double(f)
                let wavelength = 2 * Double.pi / frequency
                if wavelength < highWavelength { return f }
                if wavelength > lowWavelength { return Float(frequency / factor) }
                let smooth = (original / wavelength - low) / (high - low)
                return Float((1 - smooth) * frequency / factor + smooth * frequency)
            }
        }
        return out
    }

    /// Checks the sizes a forward pass multiplies, so a hostile config cannot overflow them.
    package func validate(source: String) throws {
        let products = [
            hiddenSize.multipliedReportingOverflow(by: vocabSize), (headCount * headDim).multipliedReportingOverflow(by: hiddenSize),
            intermediateSize.multipliedReportingOverflow(by: hiddenSize),
        ]
        guard products.allSatisfy({ !$0.overflow && $0.partialValue < 1 << 34 }) else {
            throw AutoInterpError.invalidFile(source, "model dimensions are implausibly large")
        }
    }
}
