import AutoInterpTestSupport
import Foundation
import Testing

@testable import AutoInterp

/// Decoder forward passes against `transformers` on tiny random models (`Tests/Scripts/make_decoder_fixtures.py`):
/// every TransformerLens hook point of every layer, F32, to 1e-4.
struct DecoderModelTests {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/Decoders")

    static func allHooks(layers: Int) -> [DecoderHook] {
        (0..<layers).flatMap { l in DecoderHook.Kind.allCases.map { DecoderHook(layer: l, kind: $0) } }
    }

    static func check(_ model: DecoderModel, reference folder: String, tolerance: Float = 1e-4) throws {
        let reference = try SafeTensorsFile(url: fixtures.appendingPathComponent(folder).appendingPathComponent("reference.safetensors"))
        let contexts = try (0..<3).map { c in try reference.int64s("tokens.\(c)").map { Int32($0) } }
        let hooks = allHooks(layers: model.config.layerCount)
        let got = try model.activations(contexts, hooks: hooks)
        for hook in hooks {
            let expected = try reference.floats(hook.description)
            let values = try #require(got[hook])
            #expect(values.count == expected.count, "\(folder) \(hook): count")
            let worst = zip(values, expected).map { abs($0 - $1) }.max() ?? .infinity
            #expect(worst <= tolerance, "\(folder) \(hook): max abs error \(worst)")
        }
    }

    @Test(arguments: ["llama", "qwen2", "gpt2", "llama-gguf", "gemma2", "gemma3"])
    func matchesTransformersAtEveryHook(folder: String) throws {
        let model = try DecoderModel.load(Self.fixtures.appendingPathComponent(folder))
        try Self.check(model, reference: folder)
    }

    /// What the Gemma fixtures exercise (`Tests/Scripts/make_gemma_fixtures.py`), read from their configs.
    @Test func gemmaConfigsReadTheirWindowsRopeAndScales() throws {
        let two = try DecoderModel.config(at: Self.fixtures.appendingPathComponent("gemma2"))
        #expect(two.family == .gemma && two.activation == .geluTanh && !two.queryKeyNorm)
        #expect(two.slidingLayers == [true, false, true] && two.slidingWindow == 4 && two.attentionSoftcap == 5)
        #expect(two.attentionScale == Float(1 / Double(24).squareRoot()) && two.embeddingScale == Float(Double(32).squareRoot()))
        let three = try DecoderModel.config(at: Self.fixtures.appendingPathComponent("gemma3"))
        #expect(three.queryKeyNorm && three.slidingLayers == [true, true, false, true] && three.slidingWindow == 3)
        #expect(three.ropeTheta == 1_000_000 && three.ropeScaling == .linear(factor: 4) && three.localRopeTheta == 10_000)
        #expect(three.inverseFrequencies(layer: 0) != three.inverseFrequencies(layer: 2))
        #expect(three.attentionSoftcap == nil && three.window(layer: 2) == nil && three.window(layer: 3) == 3)
        // HF casts sqrt(hidden_size) to the checkpoint's dtype: 25.298… becomes 25.25 in bfloat16 (Gemma 3 270M's 640).
        #expect(DecoderConfig.rounded(Float(Double(640).squareRoot()), to: "bfloat16") == 25.25)
        #expect(DecoderConfig.rounded(Float(Double(2304).squareRoot()), to: "bfloat16") == 48)
        #expect(DecoderConfig.rounded(25.298221, to: "float32") == 25.298221)
    }

    /// The Gemma 3 GGUF as llama.cpp lays it out (norms stored as 1 + w, gemma3.* metadata).
    @Test func gemma3GGUFMatchesTransformers() throws {
        let model = try DecoderModel.load(Self.fixtures.appendingPathComponent("gemma3-gguf/model.gguf"))
        #expect(model.config.family == .gemma && model.config.queryKeyNorm)
        #expect(model.config.slidingLayers == [true, true, true, true, true, false] && model.config.localRopeTheta == 10_000)
        try Self.check(model, reference: "gemma3-gguf")
    }

    @Test func ggufWithPermutedQKMatchesTransformers() throws {
        let model = try DecoderModel.load(Self.fixtures.appendingPathComponent("llama-gguf/model.gguf"))
        #expect(model.config.family == .llama && model.config.kvHeadCount == 2)
        try Self.check(model, reference: "llama-gguf")
    }

    /// Quantised GGUFs (Q8_0, Q4_1: SmolLM2's type) of the same weights: the forward pass matches
    /// `transformers` run on the dequantised weights to 1e-4, while the quantisation itself moves the
    /// activations away from the F32 model's (so the comparison could fail).
    @Test(arguments: ["q8_0", "q4_1"])
    func quantisedGGUFMatchesTransformersOnTheDequantisedWeights(type: String) throws {
        let model = try DecoderModel.load(Self.fixtures.appendingPathComponent("llama-gguf-\(type)/model.gguf"))
        try Self.check(model, reference: "llama-gguf-\(type)")
        let f32 = try SafeTensorsFile(url: Self.fixtures.appendingPathComponent("llama-gguf/reference.safetensors"))
        let lossy = try SafeTensorsFile(url: Self.fixtures.appendingPathComponent("llama-gguf-\(type)/reference.safetensors"))
        let pairs = zip(try f32.floats("blocks.1.hook_resid_post"), try lossy.floats("blocks.1.hook_resid_post"))
        let drift = pairs.map { abs($0 - $1) }.max() ?? 0
        #expect(drift > 2e-4, "\(type): quantisation should change the activations")
    }

    @Test func loadsOnlyTheLayersAskedFor() throws {
        let model = try DecoderModel.load(Self.fixtures.appendingPathComponent("llama"), layerCount: 1)
        let hook = try DecoderHook(name: "blocks.0.mlp.hook_post")
        #expect(try model.activations([[1, 2, 3]], hooks: [hook])[hook]?.count == 3 * 64)
        #expect(throws: AutoInterpError.self) { try model.activations([[1, 2]], hooks: [DecoderHook(layer: 1, kind: .residPost)]) }
        #expect(throws: AutoInterpError.self) { try model.activations([[9999]], hooks: [hook]) }
    }

    @Test func hookNamesParse() throws {
        #expect(try DecoderHook(name: "blocks.12.hook_resid_post") == DecoderHook(layer: 12, kind: .residPost))
        #expect(try DecoderHook(name: "blocks.3.mlp.hook_pre") == DecoderHook(layer: 3, kind: .mlpPre))
        for bad in ["blocks.x.hook_resid_post", "blocks.1.hook_z", "hook_resid_post", "blocks.-1.hook_resid_pre"] {
            #expect(throws: AutoInterpError.self) { try DecoderHook(name: bad) }
        }
    }

    @Test func refusesConfigsItCannotRun() throws {
        let base: [String: Any] = [
            "model_type": "llama", "hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 4, "intermediate_size": 64,
            "vocab_size": 10, "max_position_embeddings": 16,
        ]
        #expect(throws: Never.self) { try DecoderConfig(json: base, source: "config.json") }
        func refusal(_ change: [String: Any]) -> String {
            do {
                _ = try DecoderConfig(json: base.merging(change) { $1 }, source: "config.json")
                return "accepted"
            } catch { return "\(error)" }
        }
        #expect(refusal(["model_type": "mamba"]).contains("model_type 'mamba'"))
        #expect(refusal(["hidden_act": "gelu"]).contains("hidden_act"))
        #expect(refusal(["rope_scaling": ["rope_type": "yarn", "factor": 4]]).contains("yarn"))
        #expect(refusal(["attn_logit_softcapping": 50]).contains("attn_logit_softcapping"))
        #expect(refusal(["model_type": "qwen2", "use_sliding_window": true]).contains("use_sliding_window"))
        #expect(refusal(["num_key_value_heads": 3]).contains("multiple"))
        #expect(refusal(["hidden_size": -1]).contains("positive"))
        #expect(refusal(["layer_types": ["full_attention", "sliding_attention"]]).contains("sliding_attention"))
        // Gemma: what changes the forward pass and is not run is refused, never ignored.
        let gemma: [String: Any] = ["model_type": "gemma2", "head_dim": 8, "sliding_window": 4]
        #expect(refusal(gemma) == "accepted")
        #expect(refusal(gemma.merging(["hidden_activation": "gelu"]) { $1 }).contains("hidden_activation 'gelu'"))
        #expect(refusal(gemma.merging(["layer_types": ["chunked_attention", "full_attention"]]) { $1 }).contains("chunked_attention"))
        #expect(refusal(gemma.merging(["layer_types": ["full_attention"]]) { $1 }).contains("1 entries for 2 layers"))
        #expect(refusal(gemma.merging(["use_bidirectional_attention": true]) { $1 }).contains("bidirectional"))
        #expect(refusal(gemma.merging(["sliding_window": NSNull()]) { $1 }).contains("no 'sliding_window'"))
        #expect(refusal(gemma.merging(["attn_logit_softcapping": -1]) { $1 }).contains("positive"))
        #expect(refusal(["model_type": "gemma3", "text_config": [String: Any]()]).contains("text_config"))
        #expect(refusal(gemma.merging(["model_type": "gemma3_text", "rope_parameters": ["full_attention": ["rope_type": "yarn"]]]) { $1 })
            .contains("yarn"))
    }

    @Test func refusesMissingAndMisshapenTensors() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let folder = dir.path("m")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let source = Self.fixtures.appendingPathComponent("llama")
        var config =
            try JSONSerialization.jsonObject(with: Data(contentsOf: source.appendingPathComponent("config.json"))) as! [String: Any]
        try FileManager.default.copyItem(
            at: source.appendingPathComponent("model.safetensors"), to: folder.appendingPathComponent("model.safetensors"))
        config["intermediate_size"] = 65
        try JSONSerialization.data(withJSONObject: config).write(to: folder.appendingPathComponent("config.json"))
        #expect { try DecoderModel.load(folder) } throws: { "\($0)".contains("shape") }
        config["intermediate_size"] = 64
        config["num_hidden_layers"] = 3
        try JSONSerialization.data(withJSONObject: config).write(to: folder.appendingPathComponent("config.json"))
        #expect { try DecoderModel.load(folder) } throws: { "\($0)".contains("model.layers.2") }
    }
}
