package import Foundation

extension DecoderModel {
    /// Loads a decoder from a Hugging Face folder (`config.json` and `model.safetensors` or
    /// `model.safetensors.index.json` with its shards) or a `.gguf` file.
    ///
    /// - Parameter layerCount: layers to load (up to the deepest hook); `nil` loads all.
    /// - Throws: `AutoInterpError` naming the folder or file and what is wrong.
    package static func load(_ url: URL, layerCount: Int? = nil) throws -> DecoderModel {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory) else {
            throw AutoInterpError.io(url.path, "no such file or folder; pass a Hugging Face model folder or a .gguf file")
        }
        if !isDirectory.boolValue { return try loadGGUF(GGUFFile(url: url), layerCount: layerCount) }
        let config = try DecoderConfig.load(url.appendingPathComponent("config.json"))
        let single = url.appendingPathComponent("model.safetensors")
        let index = url.appendingPathComponent("model.safetensors.index.json")
        let files: [SafeTensorsFile]
        if FileManager.default.fileExists(atPath: single.path) {
            files = [try SafeTensorsFile(url: single)]
        } else if FileManager.default.fileExists(atPath: index.path) {
            guard let json = (try? JSONSerialization.jsonObject(with: Data(contentsOf: index))) as? [String: Any],
                let map = json["weight_map"] as? [String: String]
            else {
                throw AutoInterpError.invalidFile(index.path, "no 'weight_map' object of tensor name → shard file")
            }
            files = try Set(map.values).sorted().map { name in
                guard !name.contains("/") else {
                    throw AutoInterpError.invalidFile(index.path, "shard '\(name)' is not a file in the folder")
                }
                return try SafeTensorsFile(url: url.appendingPathComponent(name))
            }
        } else {
            throw AutoInterpError.invalidFile(
                url.path, "no model.safetensors or model.safetensors.index.json; convert the checkpoint to safetensors (.bin is not read)")
        }
        return try DecoderModel(
            config: config, source: DecoderSafeTensorsSource(files: files, description: url.path), layerCount: layerCount)
    }

    /// The config of a model folder or GGUF file, without loading any weights.
    package static func config(at url: URL) throws -> DecoderConfig {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory) else {
            throw AutoInterpError.io(url.path, "no such file or folder; pass a Hugging Face model folder or a .gguf file")
        }
        return isDirectory.boolValue
            ? try DecoderConfig.load(url.appendingPathComponent("config.json")) : try ggufConfig(GGUFFile(url: url))
    }

    /// A decoder from GGUF metadata (`llama`, `qwen2`, `gemma2` and `gemma3` architectures).
    static func loadGGUF(_ file: GGUFFile, layerCount: Int?) throws -> DecoderModel {
        let config = try ggufConfig(file)
        let permuted = config.modelType == "llama" ? (q: config.headCount, k: config.kvHeadCount) : nil
        return try DecoderModel(config: config, source: DecoderGGUFSource(file: file, permutedHeads: permuted), layerCount: layerCount)
    }

    /// The config GGUF metadata describes, checked as a `config.json` would be.
    static func ggufConfig(_ file: GGUFFile) throws -> DecoderConfig {
        let path = file.url.path
        guard let arch = try file.string("general.architecture") else {
            throw AutoInterpError.invalidFile(path, "no general.architecture metadata")
        }
        guard ["llama", "qwen2", "gemma2", "gemma3"].contains(arch) else {
            throw AutoInterpError.unsupported("\(path): GGUF architecture '\(arch)' cannot be run by this version (llama, qwen2, gemma2, gemma3)")
        }
        func required(_ key: String) throws -> Int {
            guard let value = try file.int("\(arch).\(key)"), value > 0 else {
                throw AutoInterpError.invalidFile(path, "missing or non-positive metadata '\(arch).\(key)'")
            }
            return value
        }
        let heads = try required("attention.head_count")
        let embedding = try file.info("token_embd.weight")
        var json: [String: Any] = [
            "model_type": arch == "qwen2" ? "qwen2" : "llama",
            "hidden_size": try required("embedding_length"), "num_hidden_layers": try required("block_count"),
            "num_attention_heads": heads, "num_key_value_heads": try file.int("\(arch).attention.head_count_kv") ?? heads,
            "intermediate_size": try required("feed_forward_length"), "vocab_size": embedding.shape.first ?? 0,
            "max_position_embeddings": try required("context_length"),
            "rms_norm_eps": try file.double("\(arch).attention.layer_norm_rms_epsilon") ?? 1e-6,
            "rope_theta": try file.double("\(arch).rope.freq_base") ?? 10_000,
        ]
        if let dims = try file.int("\(arch).rope.dimension_count"), let width = try file.int("\(arch).embedding_length"),
            dims != width / heads
        {
            json["head_dim"] = dims
        }
        if let bos = try file.int("tokenizer.ggml.bos_token_id") { json["bos_token_id"] = bos }
        if arch.hasPrefix("gemma") { try gemmaFields(file, arch: arch, into: &json) }
        if arch == "llama" {
            json["attention_bias"] = file.contains("blk.0.attn_q.bias")
        }
        if let type = try file.string("\(arch).rope.scaling.type"), type != "none" {
            guard type == "linear", let factor = try file.double("\(arch).rope.scaling.factor") else {
                throw AutoInterpError.unsupported("\(path): RoPE scaling '\(type)' in GGUF cannot be run by this version")
            }
            json["rope_scaling"] = ["rope_type": "linear", "factor": factor]
        }
        if arch.hasPrefix("gemma"), let rope = json["rope_scaling"] {
            // Scaling applies to the global layers only (llama.cpp's freq_scale_train_swa is 1).
            json["rope_scaling"] = nil
            json["rope_parameters"] = [
                "full_attention": (rope as? [String: Any] ?? [:]).merging(["rope_theta": json["rope_theta"] ?? 10_000]) { a, _ in a },
                "sliding_attention": ["rope_type": "default", "rope_theta": json["rope_local_base_freq"] ?? json["rope_theta"] ?? 10_000],
            ]
        }
        if file.contains("rope_freqs.weight") {
            throw AutoInterpError.unsupported("\(path): rope_freqs.weight (Llama 3.1 frequency factors) cannot be run by this version")
        }
        return try DecoderConfig(json: json, source: path)
    }

    /// What a Gemma GGUF leaves to llama.cpp's code, filled in as llama.cpp runs it: head_dim from
    /// `attention.key_length`, the sliding-window layers (Gemma 2 every other one from layer 0, Gemma 3
    /// five of every six; `attention.sliding_window_pattern` when the file has it), Gemma 3's local RoPE
    /// base 10000, the attention scale `1/sqrt(head_dim)` (`hidden/heads` for the 27B sizes), Gemma 2's
    /// attention soft-cap.
    static func gemmaFields(_ file: GGUFFile, arch: String, into json: inout [String: Any]) throws {
        let path = file.url.path
        json["model_type"] = arch == "gemma2" ? "gemma2" : "gemma3_text"
        json["hidden_activation"] = "gelu_pytorch_tanh"
        let layers = json["num_hidden_layers"] as? Int ?? 0
        let hidden = json["hidden_size"] as? Int ?? 0
        let heads = json["num_attention_heads"] as? Int ?? 1
        guard let keyLength = try file.int("\(arch).attention.key_length"), keyLength > 0 else {
            throw AutoInterpError.invalidFile(path, "missing metadata '\(arch).attention.key_length' (Gemma's head_dim)")
        }
        if let value = try file.int("\(arch).attention.value_length"), value != keyLength {
            throw AutoInterpError.unsupported("\(path): value_length \(value) differs from key_length \(keyLength); this version cannot run it")
        }
        json["head_dim"] = keyLength
        let is27B = (arch == "gemma2" && layers == 46) || (arch == "gemma3" && layers == 62)
        json["query_pre_attn_scalar"] = is27B ? hidden / max(heads, 1) : keyLength
        let pattern: Int
        if let given = try file.int("\(arch).attention.sliding_window_pattern") {
            guard given > 0 else { throw AutoInterpError.invalidFile(path, "\(arch).attention.sliding_window_pattern must be positive") }
            pattern = given
        } else if file.metadata["\(arch).attention.sliding_window_pattern"] != nil {
            throw AutoInterpError.unsupported("\(path): a per-layer \(arch).attention.sliding_window_pattern cannot be read by this version")
        } else {
            pattern = arch == "gemma2" ? 2 : 6
        }
        json["layer_types"] = (0..<layers).map { ($0 + 1) % pattern != 0 ? "sliding_attention" : "full_attention" }
        if let window = try file.int("\(arch).attention.sliding_window") { json["sliding_window"] = window }
        if arch == "gemma3" { json["rope_local_base_freq"] = 10_000.0 }
        if let cap = try file.double("\(arch).attn_logit_softcapping"), cap > 0 { json["attn_logit_softcapping"] = cap }
    }
}
