import AutoInterpTestSupport
import Foundation
import Testing

@testable import AutoInterp

/// `harvest --model … --hook …` on the tiny decoder fixtures: the dataset contract, metadata, BOS,
/// several hooks in one pass, and the activations equal the model's own.
struct DecoderHarvestTests {
    static let llama = DecoderModelTests.fixtures.appendingPathComponent("llama")

    @Test func cliWritesOneDatasetPerHookWithMetadata() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let texts = dir.path("texts.jsonl")
        try "{\"text\": \"Hello world, it's 2024!\"}\n{\"text\": \"東京 🙂 and <|im_end|> here\"}\n{\"text\": \"x\"}\n"
            .write(to: texts, atomically: true, encoding: .utf8)
        let out = dir.path("out/acts.safetensors")
        let result = try CLIRunner.run([
            "harvest", "--model", Self.llama.path, "--texts", texts.path, "--output", out.path, "--hook", "blocks.1.hook_resid_post",
            "--hook", "blocks.0.mlp.hook_post", "--prepend-bos", "--context-len", "8", "--dtype", "f32", "--quiet",
        ])
        #expect(result.status == 0, "\(result.stderr)")
        let resid = try ActivationDataset(url: dir.path("out/acts.blocks.1.hook_resid_post.safetensors"))
        let neurons = try ActivationDataset(url: dir.path("out/acts.blocks.0.mlp.hook_post.safetensors"))
        #expect(resid.width == 32 && neurons.width == 64)
        #expect(resid.contextCount == 3 && resid.contextLength == 8)
        let file = try SafeTensorsFile(url: dir.path("out/acts.blocks.1.hook_resid_post.safetensors"))
        #expect(file.metadata["hook"] == "blocks.1.hook_resid_post")
        #expect(file.metadata["model"] == "llama")
        #expect(file.metadata["prepend_bos"] == "true" && file.metadata["bos_token_id"] == "0")
        #expect(file.metadata["context_len"] == "8")
        #expect(file.metadata["special_token_ids"] == "[0,1,2]")

        // Activations equal a direct forward pass of the same ids; padding is 0.
        let tokens = try file.int64s("tokens").map { Int32($0) }
        let mask = try file.int64s("mask")
        #expect(tokens[0] == 0 && tokens[8] == 0 && tokens[16] == 0)
        #expect(mask[16..<24] == [1, 1, 0, 0, 0, 0, 0, 0])
        let model = try DecoderModel.load(Self.llama)
        let hook = DecoderHook(layer: 1, kind: .residPost)
        let first = Array(tokens[0..<8])
        let direct = try #require(try model.activations([first], hooks: [hook])[hook])
        let stored = try file.floats("activations")
        #expect(zip(direct, stored[0..<(8 * 32)]).allSatisfy { abs($0 - $1) < 1e-6 })
        #expect(stored[(16 + 2) * 32..<(24 * 32)].allSatisfy { $0 == 0 })
    }

    @Test func ggufHarvestUsesItsOwnTokenizerAndMatchesTheFolder() throws {
        // The GGUF holds the same weights (q/k permuted) and the same tokenizer as tokenizer.ggml.* metadata.
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let texts = ["Hello   world 12345, it's <|im_start|>東京 🙂", "  def f(x):\n\treturn x", "é"]
        let hooks = [DecoderHook(layer: 1, kind: .mlpPost)]
        let fromGGUF = try DecoderHarvester(
            modelPath: DecoderModelTests.fixtures.appendingPathComponent("llama-gguf/model.gguf"), hooks: hooks, prependBOS: true)
        let fromFolder = try DecoderHarvester(
            modelPath: DecoderModelTests.fixtures.appendingPathComponent("llama-gguf"), hooks: hooks, prependBOS: true)
        for text in texts { #expect(fromGGUF.tokenizer.encode(text) == fromFolder.tokenizer.encode(text), "\(text.debugDescription)") }
        try fromGGUF.harvest(texts: texts, output: dir.path("g.safetensors"), contextLength: 16, dtype: .f32)
        try fromFolder.harvest(texts: texts, output: dir.path("f.safetensors"), contextLength: 16, dtype: .f32)
        let g = try SafeTensorsFile(url: dir.path("g.safetensors"))
        let f = try SafeTensorsFile(url: dir.path("f.safetensors"))
        #expect(try g.int64s("tokens") == f.int64s("tokens"))
        #expect(g.metadata["model"] == "model" && g.metadata["bos_token_id"] == "0")
        let worst = zip(try g.floats("activations"), try f.floats("activations")).map { abs($0 - $1) }.max() ?? 1
        #expect(worst < 1e-5)
    }

    /// Gemma: a folder with a SentencePiece tokenizer.json and a GGUF with tokenizer.ggml.model llama; BOS and the
    /// chat-template tokens are in special_token_ids (masked from selection), the plain added "\n" is not.
    @Test func gemmaHarvestsWithItsSentencePieceTokenizer() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let texts = ["<start_of_turn>user\nHello  world ☃<end_of_turn>", "déjà vu 12345"]
        for (name, path) in [("folder", "gemma2"), ("gguf", "gemma3-gguf/model.gguf")] {
            let harvester = try DecoderHarvester(
                modelPath: DecoderModelTests.fixtures.appendingPathComponent(path), hooks: [DecoderHook(layer: 1, kind: .residPost)],
                prependBOS: true)
            let out = dir.path("\(name).safetensors")
            try harvester.harvest(texts: texts, output: out, contextLength: 24, dtype: .f32)
            let file = try SafeTensorsFile(url: out)
            #expect(file.metadata["bos_token_id"] == "2" && file.metadata["prepend_bos"] == "true", "\(name)")
            let specials = try #require(file.metadata["special_token_ids"])
            #expect(specials.hasPrefix("[0,1,2,3,4,5,6") && !specials.contains("560"), "\(name): \(specials)")
            let tokens = try file.int64s("tokens")
            #expect(tokens[0] == 2 && tokens[1] == 5, "\(name)")
            #expect(tokens[0..<24].contains(560), "\(name): the newline is its added token")
        }
    }

    @Test func refusesBadHooksAndFlags() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let texts = dir.path("t.jsonl")
        try "{\"text\": \"a\"}\n".write(to: texts, atomically: true, encoding: .utf8)
        func run(_ extra: [String]) throws -> CLIRunner.Result {
            try CLIRunner.run(
                ["harvest", "--model", Self.llama.path, "--texts", texts.path, "--output", dir.path("o.safetensors").path, "--quiet"]
                    + extra)
        }
        let deep = try run(["--hook", "blocks.5.hook_resid_post"])
        #expect(deep.status != 0 && deep.stderr.contains("out of range"))
        let bad = try run(["--hook", "blocks.0.resid"])
        #expect(bad.status != 0 && bad.stderr.contains("TransformerLens"))
        let none = try run([])
        #expect(none.status != 0 && none.stderr.contains("--hook"))
    }
}
