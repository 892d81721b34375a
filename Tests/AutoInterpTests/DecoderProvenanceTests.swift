import AutoInterpLLM
import AutoInterpTestSupport
import Foundation
import Testing

@testable import AutoInterp

/// Harvesting as an SAE expects (`harvest --sae`: its hook and `prepend_bos`), and `select` warning
/// in one line when the SAE's `hook_name` / `model_name` / `prepend_bos` disagree with the dataset's metadata.
struct DecoderProvenanceTests {
    static let llama = DecoderModelTests.fixtures.appendingPathComponent("llama")

    /// An SAELens folder for the tiny llama's residual stream (d_in 32) with `cfg.json` saying `hook`, `model`, `bos`.
    static func sae(in dir: TemporaryDirectory, _ name: String, hook: String, model: String, bos: Bool?, dIn: Int = 32) throws -> URL {
        var sae = SAEFixture.random(dIn: dIn, dSAE: 6, activeFraction: 0.2)
        sae.config.hookName = hook
        sae.config.modelName = model
        let folder = dir.path(name)
        try SAELensWriter.write(sae, to: folder, metadata: SAEFolderMetadata(modelName: model, hookName: hook, prependBOS: bos))
        return folder
    }

    static func texts(in dir: TemporaryDirectory) throws -> URL {
        let texts = dir.path("texts.jsonl")
        let lines = (0..<6).map { "{\"text\": \"line \($0): Hello world <|im_start|>user 12\($0)\"}" }
        try (lines.joined(separator: "\n") + "\n").write(to: texts, atomically: true, encoding: .utf8)
        return texts
    }

    @Test func harvestTakesTheHookAndBOSFromTheSAEConfig() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let texts = try Self.texts(in: dir)
        let noBOS = try Self.sae(in: dir, "sae-nobos", hook: "blocks.0.hook_resid_post", model: "llama", bos: false)
        let out = dir.path("a.safetensors")
        let plain = try CLIRunner.run([
            "harvest", "--model", Self.llama.path, "--texts", texts.path, "--output", out.path, "--sae", noBOS.path, "--quiet",
            "--context-len", "12",
        ])
        #expect(plain.status == 0 && !plain.stderr.contains("warning"), "\(plain.stderr)")
        let file = try SafeTensorsFile(url: out)
        #expect(file.metadata["hook"] == "blocks.0.hook_resid_post" && file.metadata["prepend_bos"] == "false")
        let first = try file.int64s("tokens")[0]
        #expect(first != 0)

        // cfg.json without prepend_bos: SAELens' default (BOS first); an explicit flag wins over the file.
        let config = noBOS.appendingPathComponent("cfg.json")
        var json = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: config)) as? [String: Any])
        json["prepend_bos"] = nil
        var nested = json["metadata"] as? [String: Any] ?? [:]
        nested["prepend_bos"] = nil
        json["metadata"] = nested
        try JSONSerialization.data(withJSONObject: json).write(to: config)
        #expect(try SAEConfig(saeLensAt: noBOS).prependBOS == nil)
        let defaulted = try CLIRunner.run([
            "harvest", "--model", Self.llama.path, "--texts", texts.path, "--output", dir.path("b.safetensors").path,
            "--sae", config.path, "--quiet", "--context-len", "12",
        ])
        #expect(defaulted.status == 0, "\(defaulted.stderr)")
        let withBOS = try SafeTensorsFile(url: dir.path("b.safetensors"))
        let firstToken = try withBOS.int64s("tokens")[0]
        #expect(withBOS.metadata["prepend_bos"] == "true" && firstToken == 0)
        let overridden = try CLIRunner.run([
            "harvest", "--model", Self.llama.path, "--texts", texts.path, "--output", dir.path("c.safetensors").path,
            "--sae", noBOS.path, "--no-prepend-bos", "--quiet", "--context-len", "12",
        ])
        #expect(overridden.status == 0, "\(overridden.stderr)")
        #expect(try SafeTensorsFile(url: dir.path("c.safetensors")).metadata["prepend_bos"] == "false")
    }

    @Test func harvestWarnsWhenTheSAEWantsAnotherHookWidthOrModel() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let texts = try Self.texts(in: dir)
        let other = try Self.sae(in: dir, "sae", hook: "blocks.0.mlp.hook_post", model: "google/gemma-2-2b", bos: true, dIn: 32)
        let result = try CLIRunner.run([
            "harvest", "--model", Self.llama.path, "--texts", texts.path, "--output", dir.path("o.safetensors").path,
            "--sae", other.path, "--hook", "blocks.1.hook_resid_post", "--hook", "blocks.0.mlp.hook_post", "--quiet",
        ])
        #expect(result.status == 0, "\(result.stderr)")
        let lines = result.stderr.split(separator: "\n").filter { $0.hasPrefix("warning:") }
        #expect(lines.count == 2, "\(result.stderr)")
        #expect(lines.contains { $0.contains("d_in 32") && $0.contains("64 wide") })
        #expect(lines.contains { $0.contains("gemma-2-2b") && $0.contains("--model-name") })
        let missing = try CLIRunner.run([
            "harvest", "--model", Self.llama.path, "--texts", texts.path, "--output", dir.path("p.safetensors").path,
            "--sae", other.path, "--hook", "blocks.1.hook_resid_post", "--model-name", "gemma-2-2b", "--quiet",
        ])
        #expect(missing.status == 0 && missing.stderr.contains("add --hook blocks.0.mlp.hook_post"), "\(missing.stderr)")
        #expect(!missing.stderr.contains("trained on model"))
    }

    @Test func harvestRefusesAnSAEWithoutACfgInOneLine() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let texts = try Self.texts(in: dir)
        let empty = dir.path("not-saelens")
        try FileManager.default.createDirectory(at: empty, withIntermediateDirectories: true)
        func run(_ extra: [String]) throws -> CLIRunner.Result {
            try CLIRunner.run(
                ["harvest", "--model", Self.llama.path, "--texts", texts.path, "--output", dir.path("o.safetensors").path, "--quiet"] + extra)
        }
        let noConfig = try run(["--sae", empty.path])
        #expect(noConfig.oneLineErrorProblem(["not-saelens", "cfg.json", "--hook"]) == nil)
        let unknownHook = try Self.sae(in: dir, "unknown", hook: "unknown", model: "llama", bos: true)
        #expect(try run(["--sae", unknownHook.path]).oneLineErrorProblem(["hook_name", "--hook"]) == nil)
        let bert = try run(["--sae", unknownHook.path, "--layer", "0"])
        #expect(bert.oneLineErrorProblem(["--layer"]) == nil)
    }

    @Test func selectWarnsOnceWhenTheSAEWasTrainedElsewhere() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let harvester = try DecoderHarvester(
            modelPath: Self.llama, hooks: [DecoderHook(layer: 1, kind: .residPost)], prependBOS: true, modelName: "SmolLM2-135M")
        let texts = (0..<8).map { "text \($0): the cat sat on the mat, 12\($0)" }
        let acts = dir.path("acts.safetensors")
        try harvester.harvest(texts: texts, output: acts, contextLength: 12, dtype: .f32)
        let dataset = try ActivationDataset(url: acts)

        let agreeing = try SparseAutoencoder.load(
            path: try Self.sae(in: dir, "same", hook: "blocks.1.hook_resid_post", model: "HuggingFaceTB/SmolLM2-135M", bos: true))
        #expect(agreeing.provenanceWarnings(with: dataset).isEmpty)
        let unknown = try SparseAutoencoder.load(path: try Self.sae(in: dir, "unknown", hook: "unknown", model: "unknown", bos: nil))
        #expect(unknown.provenanceWarnings(with: dataset).isEmpty)
        let elsewhere = try Self.sae(in: dir, "elsewhere", hook: "blocks.0.hook_resid_post", model: "gpt2-small", bos: false)
        let lines = try SparseAutoencoder.load(path: elsewhere).provenanceWarnings(with: dataset, saePath: elsewhere.path)
        #expect(lines.count == 3, "\(lines)")
        #expect(lines.contains { $0.contains("'blocks.0.hook_resid_post'") && $0.contains("'blocks.1.hook_resid_post'") })
        #expect(lines.contains { $0.contains("gpt2-small") && $0.contains("SmolLM2-135M") })
        #expect(lines.contains { Setting.mentions(in: $0) == [.noPrependBos] })

        let result = try CLIRunner.run([
            "select", "--activations", acts.path, "--sae", elsewhere.path, "--features", "0-5", "--name", "w",
            "--results", dir.path("results").path, "--quiet",
        ])
        #expect(result.status == 0, "\(result.stderr)")
        let warnings = result.stderr.split(separator: "\n").filter { $0.contains("warning") }
        #expect(warnings.count == 3, "\(result.stderr)")
        #expect(warnings.allSatisfy { $0.contains(elsewhere.path) })
        // The CLI's log lines show the flags the library's warnings mention.
        #expect(warnings.contains { $0.contains("harvest again with --no-prepend-bos") }, "\(result.stderr)")
    }

    @Test func bosAndChatTokensStayOutOfSelectionUnlessKept() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let harvester = try DecoderHarvester(modelPath: Self.llama, hooks: [DecoderHook(layer: 0, kind: .mlpPost)], prependBOS: true)
        let texts = (0..<10).map { "<|im_start|>user \($0) likes <|im_end|> cats" }
        let acts = dir.path("acts.safetensors")
        try harvester.harvest(texts: texts, output: acts, contextLength: 16, dtype: .f32)
        let dataset = try ActivationDataset(url: acts)
        let specials: Set<Int32> = [0, 1, 2]
        #expect(dataset.specialTokenIDs == specials)
        // Each neuron's max over real non-special tokens, and over every real token.
        var all = [Float](repeating: 0, count: dataset.tokenCount * dataset.width)
        try all.withUnsafeMutableBufferPointer { try dataset.readActivations(contexts: 0..<dataset.contextCount, into: $0.baseAddress!) }
        let tokens = try SafeTensorsFile(url: acts).int64s("tokens")
        let mask = try SafeTensorsFile(url: acts).int64s("mask")
        func brute(_ neuron: Int, keep: Bool) -> Float {
            (0..<dataset.tokenCount).filter { mask[$0] == 1 && (keep || !specials.contains(Int32(tokens[$0]))) }
                .map { all[$0 * dataset.width + neuron] }.max() ?? 0
        }
        let neurons = Array(0..<dataset.width)
        func maxima(keep: Bool) throws -> [Float] {
            var config = SelectionConfig()
            config.includeSpecialTokens = keep
            let source = try UnitActivationSource(dataset: dataset, sae: nil, features: [], neurons: neurons, tokensPerBatch: 64)
            return try ExampleSelector(config: config).select(from: source).map(\.statistics.maxActivation)
        }
        let masked = try maxima(keep: false), kept = try maxima(keep: true)
        #expect(neurons.allSatisfy { abs(masked[$0] - brute($0, keep: false)) < 1e-5 })
        #expect(neurons.allSatisfy { abs(kept[$0] - brute($0, keep: true)) < 1e-5 })
        // Somewhere a BOS or chat token is a neuron's top activation: masking changes what is selected.
        #expect(neurons.contains { kept[$0] > masked[$0] + 1e-4 })
    }
}
