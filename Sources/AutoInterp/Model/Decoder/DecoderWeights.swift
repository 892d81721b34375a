import Foundation

/// Where decoder weights come from: named tensors as `Float`, in PyTorch shape order.
protocol DecoderTensorSource {
    /// For error messages.
    var sourceDescription: String { get }
    func contains(_ name: String) -> Bool
    /// The tensor `name` as `Float`, checked to have `shape`.
    func floats(_ name: String, shape: [Int]) throws -> [Float]
    /// Whether Gemma's RMSNorm weights are stored as `1 + w` (llama.cpp's converter adds the 1).
    var storesGemmaNormsShifted: Bool { get }
}

extension DecoderTensorSource {
    var storesGemmaNormsShifted: Bool { false }
}

/// One or more safetensors files (a single `model.safetensors` or the shards of an index).
struct DecoderSafeTensorsSource: DecoderTensorSource {
    let files: [SafeTensorsFile]
    let owner: [String: Int]
    let sourceDescription: String

    init(files: [SafeTensorsFile], description: String) {
        self.files = files
        var owner: [String: Int] = [:]
        for (i, file) in files.enumerated() { for name in file.tensorNames where owner[name] == nil { owner[name] = i } }
        self.owner = owner
        sourceDescription = description
    }

    func contains(_ name: String) -> Bool { owner[name] != nil }

    func floats(_ name: String, shape: [Int]) throws -> [Float] {
        guard let index = owner[name] else { throw AutoInterpError.invalidFile(sourceDescription, "missing tensor '\(name)'") }
        let file = files[index]
        let info = try file.info(name)
        guard info.shape == shape else {
            throw AutoInterpError.invalidFile(file.url.path, "tensor '\(name)' has shape \(info.shape); the config needs \(shape)")
        }
        return try file.floats(name)
    }
}

/// A GGUF file's tensors under their Hugging Face names (`blk.L.attn_q.weight` → `model.layers.L.self_attn.q_proj.weight`),
/// with llama.cpp's q/k row permutation undone for llama-arch files.
struct DecoderGGUFSource: DecoderTensorSource {
    let file: GGUFFile
    let permutedHeads: (q: Int, k: Int)?
    var sourceDescription: String { file.url.path }
    var storesGemmaNormsShifted: Bool { true }

    static func ggufName(_ name: String) -> String? {
        if name == "model.embed_tokens.weight" { return "token_embd.weight" }
        if name == "model.norm.weight" { return "output_norm.weight" }
        let parts = name.split(separator: ".", maxSplits: 3).map(String.init)
        guard parts.count == 4, parts[0] == "model", parts[1] == "layers" else { return nil }
        let table = [
            "input_layernorm.weight": "attn_norm.weight", "post_attention_layernorm.weight": "ffn_norm.weight",
            "self_attn.q_proj.weight": "attn_q.weight", "self_attn.k_proj.weight": "attn_k.weight",
            "self_attn.v_proj.weight": "attn_v.weight", "self_attn.o_proj.weight": "attn_output.weight",
            "self_attn.q_proj.bias": "attn_q.bias", "self_attn.k_proj.bias": "attn_k.bias", "self_attn.v_proj.bias": "attn_v.bias",
            "mlp.gate_proj.weight": "ffn_gate.weight", "mlp.up_proj.weight": "ffn_up.weight", "mlp.down_proj.weight": "ffn_down.weight",
            // Gemma 2/3: the sandwich norms (ffn_norm is then the pre-feedforward norm) and Gemma 3's q/k norms.
            "post_attention_norm.weight": "post_attention_norm.weight", "pre_feedforward_layernorm.weight": "ffn_norm.weight",
            "post_feedforward_layernorm.weight": "post_ffw_norm.weight", "self_attn.q_norm.weight": "attn_q_norm.weight",
            "self_attn.k_norm.weight": "attn_k_norm.weight",
        ]
        return table[parts[3]].map { "blk.\(parts[2]).\($0)" }
    }

    func contains(_ name: String) -> Bool { Self.ggufName(name).map(file.contains) ?? false }

    func floats(_ name: String, shape: [Int]) throws -> [Float] {
        guard let mapped = Self.ggufName(name) else { throw AutoInterpError.invalidFile(file.url.path, "no GGUF tensor for '\(name)'") }
        let info = try file.info(mapped)
        guard info.shape == shape else {
            throw AutoInterpError.invalidFile(file.url.path, "tensor '\(mapped)' has shape \(info.shape); the metadata needs \(shape)")
        }
        var values = try file.floats(mapped)
        if let heads = permutedHeads {
            if mapped.hasSuffix("attn_q.weight") || mapped.hasSuffix("attn_q.bias") {
                values = Self.unpermute(values, heads: heads.q, rows: shape[0])
            }
            if mapped.hasSuffix("attn_k.weight") || mapped.hasSuffix("attn_k.bias") {
                values = Self.unpermute(values, heads: heads.k, rows: shape[0])
            }
        }
        return values
    }

    /// Undoes convert_hf_to_gguf.py's `permute`: within each head, GGUF row `2i + half` is Hugging Face
    /// row `half · headDim/2 + i` (interleaved RoPE pairs back to rotate-half order).
    static func unpermute(_ values: [Float], heads: Int, rows: Int) -> [Float] {
        let columns = values.count / rows
        let headDim = rows / heads
        let half = headDim / 2
        var out = values
        for h in 0..<heads {
            for i in 0..<half {
                for part in 0..<2 {
                    let from = (h * headDim + 2 * i + part) * columns
                    let to = (h * headDim + part * half + i) * columns
                    for c in 0..<columns { out[to + c] = values[from + c] }
                }
            }
        }
        return out
    }
}

/// The weights of every block, in one layout for both families: linear weights `[out, in]`
/// (GPT-2's Conv1D ones transposed on load), q/k/v stacked into one matrix, gate/up stacked.
struct DecoderWeights {
    struct Layer {
        var norm1Weight: [Float]
        var norm1Bias: [Float]
        /// `[(heads + 2 · kvHeads) · headDim, hidden]`.
        var qkvWeight: [Float]
        var qkvBias: [Float]
        var outputWeight: [Float]
        var outputBias: [Float]
        var norm2Weight: [Float]
        var norm2Bias: [Float]
        /// Llama: `[2 · intermediate, hidden]`, gate rows then up rows; GPT-2: `[intermediate, hidden]`.
        var upWeight: [Float]
        var upBias: [Float]
        var downWeight: [Float]
        var downBias: [Float]
        /// Gemma: the norms of the attention and MLP outputs, and Gemma 3's per-head q/k norms (`1 + w`); empty otherwise.
        var postAttentionNorm: [Float] = []
        var postMLPNorm: [Float] = []
        var queryNorm: [Float] = []
        var keyNorm: [Float] = []
    }

    var embedding: [Float]
    var positions: [Float]
    var layers: [Layer]

    init(config c: DecoderConfig, source: some DecoderTensorSource, layerCount: Int) throws {
        let d = c.hiddenSize
        switch c.family {
        case .gemma:
            embedding = try source.floats("model.embed_tokens.weight", shape: [c.vocabSize, d])
            positions = []
            // HF's Gemma RMSNorm multiplies by (1 + w); llama.cpp's GGUF stores 1 + w already.
            func norm(_ name: String, _ width: Int) throws -> [Float] {
                let w = try source.floats(name, shape: [width])
                return source.storesGemmaNormsShifted ? w : w.map { 1 + $0 }
            }
            layers = try (0..<layerCount).map { l in
                let p = "model.layers.\(l)."
                let qRows = c.headCount * c.headDim
                let kvRows = c.kvHeadCount * c.headDim
                func bias(_ name: String, _ rows: Int) throws -> [Float] { c.qkvBias ? try source.floats(p + name, shape: [rows]) : [] }
                // A GGUF names the post-attention norm post_attention_norm; Hugging Face post_attention_layernorm.
                let postAttention = source.contains(p + "post_attention_norm.weight") ? "post_attention_norm.weight" : "post_attention_layernorm.weight"
                return Layer(
                    norm1Weight: try norm(p + "input_layernorm.weight", d), norm1Bias: [],
                    qkvWeight: try source.floats(p + "self_attn.q_proj.weight", shape: [qRows, d])
                        + source.floats(p + "self_attn.k_proj.weight", shape: [kvRows, d])
                        + source.floats(p + "self_attn.v_proj.weight", shape: [kvRows, d]),
                    qkvBias: try bias("self_attn.q_proj.bias", qRows) + bias("self_attn.k_proj.bias", kvRows) + bias("self_attn.v_proj.bias", kvRows),
                    outputWeight: try source.floats(p + "self_attn.o_proj.weight", shape: [d, qRows]),
                    outputBias: try bias("self_attn.o_proj.bias", d),
                    norm2Weight: try norm(p + "pre_feedforward_layernorm.weight", d), norm2Bias: [],
                    upWeight: try source.floats(p + "mlp.gate_proj.weight", shape: [c.intermediateSize, d])
                        + source.floats(p + "mlp.up_proj.weight", shape: [c.intermediateSize, d]),
                    upBias: [],
                    downWeight: try source.floats(p + "mlp.down_proj.weight", shape: [d, c.intermediateSize]),
                    downBias: [],
                    postAttentionNorm: try norm(p + postAttention, d),
                    postMLPNorm: try norm(p + "post_feedforward_layernorm.weight", d),
                    queryNorm: c.queryKeyNorm ? try norm(p + "self_attn.q_norm.weight", c.headDim) : [],
                    keyNorm: c.queryKeyNorm ? try norm(p + "self_attn.k_norm.weight", c.headDim) : [])
            }
        case .llama:
            embedding = try source.floats("model.embed_tokens.weight", shape: [c.vocabSize, d])
            positions = []
            layers = try (0..<layerCount).map { l in
                let p = "model.layers.\(l)."
                let qRows = c.headCount * c.headDim
                let kvRows = c.kvHeadCount * c.headDim
                func bias(_ name: String, _ rows: Int, _ present: Bool) throws -> [Float] {
                    present ? try source.floats(p + name, shape: [rows]) : []
                }
                let qkvBias =
                    c.qkvBias
                    ? try bias("self_attn.q_proj.bias", qRows, true) + bias("self_attn.k_proj.bias", kvRows, true)
                        + bias("self_attn.v_proj.bias", kvRows, true) : []
                return Layer(
                    norm1Weight: try source.floats(p + "input_layernorm.weight", shape: [d]), norm1Bias: [],
                    qkvWeight: try source.floats(p + "self_attn.q_proj.weight", shape: [qRows, d])
                        + source.floats(p + "self_attn.k_proj.weight", shape: [kvRows, d])
                        + source.floats(p + "self_attn.v_proj.weight", shape: [kvRows, d]),
                    qkvBias: qkvBias,
                    outputWeight: try source.floats(p + "self_attn.o_proj.weight", shape: [d, qRows]),
                    outputBias: try bias("self_attn.o_proj.bias", d, c.outputBias),
                    norm2Weight: try source.floats(p + "post_attention_layernorm.weight", shape: [d]), norm2Bias: [],
                    upWeight: try source.floats(p + "mlp.gate_proj.weight", shape: [c.intermediateSize, d])
                        + source.floats(p + "mlp.up_proj.weight", shape: [c.intermediateSize, d]),
                    upBias: c.mlpBias
                        ? try bias("mlp.gate_proj.bias", c.intermediateSize, true) + bias("mlp.up_proj.bias", c.intermediateSize, true)
                        : [],
                    downWeight: try source.floats(p + "mlp.down_proj.weight", shape: [d, c.intermediateSize]),
                    downBias: try bias("mlp.down_proj.bias", d, c.mlpBias))
            }
        case .gpt2:
            let prefix = source.contains("transformer.wte.weight") ? "transformer." : ""
            embedding = try source.floats(prefix + "wte.weight", shape: [c.vocabSize, d])
            positions = try source.floats(prefix + "wpe.weight", shape: [c.maxPositions, d])
            let i = c.intermediateSize
            layers = try (0..<layerCount).map { l in
                let p = "\(prefix)h.\(l)."
                return Layer(
                    norm1Weight: try source.floats(p + "ln_1.weight", shape: [d]),
                    norm1Bias: try source.floats(p + "ln_1.bias", shape: [d]),
                    qkvWeight: Self.transpose(try source.floats(p + "attn.c_attn.weight", shape: [d, 3 * d]), rows: d, columns: 3 * d),
                    qkvBias: try source.floats(p + "attn.c_attn.bias", shape: [3 * d]),
                    outputWeight: Self.transpose(try source.floats(p + "attn.c_proj.weight", shape: [d, d]), rows: d, columns: d),
                    outputBias: try source.floats(p + "attn.c_proj.bias", shape: [d]),
                    norm2Weight: try source.floats(p + "ln_2.weight", shape: [d]),
                    norm2Bias: try source.floats(p + "ln_2.bias", shape: [d]),
                    upWeight: Self.transpose(try source.floats(p + "mlp.c_fc.weight", shape: [d, i]), rows: d, columns: i),
                    upBias: try source.floats(p + "mlp.c_fc.bias", shape: [i]),
                    downWeight: Self.transpose(try source.floats(p + "mlp.c_proj.weight", shape: [i, d]), rows: i, columns: d),
                    downBias: try source.floats(p + "mlp.c_proj.bias", shape: [d]))
            }
        }
    }

    static func transpose(_ m: [Float], rows: Int, columns: Int) -> [Float] {
        var out = [Float](repeating: 0, count: m.count)
        for r in 0..<rows { for c in 0..<columns { out[c * rows + r] = m[r * columns + c] } }
        return out
    }
}
