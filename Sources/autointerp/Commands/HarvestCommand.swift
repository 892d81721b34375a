import ArgumentParser
import AutoInterp
import AutoInterpCLIOptions
import AutoInterpLLM
import Foundation
import Logging

/// `autointerp harvest`: run texts through a BERT-family model (one layer's MLP activations) or a
/// decoder LM (activations at TransformerLens hook points) and write activation datasets.
struct HarvestCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "harvest",
        abstract: "Run texts through a BERT-family or decoder model on the CPU and write activations as an activation dataset.",
        discussion: """
            Each {"text": ...} line of the JSONL file becomes one context: [CLS] ... [SEP], cut to \
            --context-len tokens and padded. The output holds tokens (I32), mask (U8, 1 = real token) \
            and activations ([contexts, context-len, intermediate_size], the post-GELU MLP activations \
            of encoder.layer[L]); vocab.json is written beside it. The model folder needs config.json, \
            model.safetensors and vocab.txt (tokenizer.json / tokenizer_config.json are read if present).

            Decoder LMs (GPT-2, Llama, SmolLM2, Qwen2: a Hugging Face folder with tokenizer.json, or a \
            .gguf file) take --hook instead of --layer: a TransformerLens hook name such as \
            blocks.6.hook_resid_post or blocks.6.mlp.hook_post, given once per hook; with several hooks \
            each goes to OUTPUT-STEM.HOOK.safetensors (with --shard-tokens, to the folder OUTPUT/HOOK). \
            --shard-tokens N writes OUTPUT as a folder of shards of N / --context-len contexts each \
            (shard-00000.safetensors, … and vocab.json), which --activations OUTPUT reads as one dataset. --prepend-bos puts the model's BOS token first. \
            --sae (an SAELens folder or its cfg.json) harvests as the SAE was trained: its hook_name when \
            no --hook is given, and its prepend_bos (SAELens' default, true, when the file says nothing) \
            unless --prepend-bos or --no-prepend-bos is given; a d_in, model_name or hook that disagrees \
            is printed as a warning. BOS and the special added tokens (chat-template markers) are listed \
            in the dataset's special_token_ids, which select and run leave out unless \
            --include-special-tokens.
            """
    )

    @Option(help: "Hugging Face model folder (config.json, model.safetensors, vocab.txt).")
    var model: String

    @Option(help: "JSONL file with one {\"text\": ...} object per line.")
    var texts: String

    @Option(help: "BERT models: layer whose MLP activations are recorded, counted from 0 as in encoder.layer[L].")
    var layer: NonNegativeInt?

    @Option(name: .customLong("hook"), help: "Decoder models: a TransformerLens hook name (blocks.L.hook_resid_post, …); repeatable.")
    var hooks: [String] = []

    @Flag(
        name: .customLong("prepend-bos"), inversion: .prefixedNo,
        help: "Decoder models: put the BOS token before each context (default: the --sae cfg's prepend_bos, else no).")
    var prependBOS: Bool?

    @Option(help: "Decoder models: an SAELens SAE folder (or its cfg.json) to harvest for: its hook_name and prepend_bos.")
    var sae: String?

    @Option(help: "Output safetensors file; vocab.json is written in the same folder. With --shard-tokens: the folder of shards.")
    var output: String

    @Option(
        name: .customLong("shard-tokens"),
        help: "Write the output as a folder of shards (shard-00000.safetensors, …) of at most N tokens each (whole contexts).")
    var shardTokens: PositiveInt?

    @Option(name: .customLong("context-len"), help: "Tokens per context, [CLS] and [SEP] included.")
    var contextLength: PositiveInt = 64

    @Option(help: "Element type of the activations: f16 or f32.")
    var dtype: String = "f16"

    @Option(name: .customLong("batch-size"), help: "Contexts run through the model at once.")
    var batchSize: PositiveInt = 32

    @Option(name: .customLong("model-name"), help: "Value of the 'model' metadata key (default: the folder's name).")
    var modelName: String?

    @Flag(help: "Print no progress.")
    var quiet = false

    func run() async throws {
        try await reportingErrors {
            guard let type = HarvestDType(rawValue: dtype.lowercased()) else {
                throw AutoInterpError.invalidInput("--dtype \(dtype) is not supported; use f16 or f32")
            }
            guard batchSize.value <= 4096 else { throw AutoInterpError.invalidInput("--batch-size must be between 1 and 4096, got \(batchSize.value)") }
            let perShard = try contextsPerShard()
            if !hooks.isEmpty || sae != nil {
                guard layer == nil else {
                    throw AutoInterpError.invalidInput("--layer is for BERT models; with --hook the hook names the layer")
                }
                try harvestDecoder(type, contextsPerShard: perShard)
                return
            }
            guard let layer else {
                throw AutoInterpError.invalidInput("harvest needs --layer L (BERT models) or --hook blocks.L.<hook> (decoder models)")
            }
            guard prependBOS == nil else { throw AutoInterpError.invalidInput("--prepend-bos is for decoder models (with --hook)") }
            let harvester = try Harvester(modelDirectory: URL(fileURLWithPath: model), layer: layer.value, modelName: modelName, logger: Logger(label: "autointerp.harvest"))
            let bar = ProgressBar("harvest", total: 1, unit: "contexts", enabled: !quiet)
            let summary = try harvester.harvest(
                textsFile: URL(fileURLWithPath: texts), output: URL(fileURLWithPath: output),
                contextLength: contextLength.value, dtype: type, batchSize: batchSize.value, contextsPerShard: perShard
            ) { p in
                bar.update(p.contextsDone, total: p.contextsTotal, detail: String(format: "%.0f tokens/s", p.tokensPerSecond))
            }
            bar.finish()
            note(
                String(
                    format: "harvested %d contexts x %d (%d tokens, %d truncated), layer %d width %d → %@ + vocab.json: %.1f s, %.0f tokens/s",
                    summary.contexts, summary.contextLength, summary.tokens, summary.truncatedContexts, layer.value, summary.width,
                    output, summary.elapsedSeconds,
                    summary.elapsedSeconds > 0 ? Double(summary.tokens) / summary.elapsedSeconds : 0))
        }
    }

    /// Contexts per shard for `--shard-tokens` (nil without it).
    private func contextsPerShard() throws -> Int? {
        guard let tokens = shardTokens?.value else { return nil }
        guard tokens >= contextLength.value else {
            throw AutoInterpError.invalidOption(
                .shardTokens, "\(tokens) tokens hold no whole context of \(contextLength.value) (\(Setting.contextLen)): give at least \(contextLength.value)")
        }
        return tokens / contextLength.value
    }

    /// The decoder path: every hook in one pass, one dataset per hook.
    private func harvestDecoder(_ type: HarvestDType, contextsPerShard: Int?) throws {
        let saeConfig = try sae.map { try SAEConfig(saeLensAt: URL(fileURLWithPath: $0)) }
        var names = hooks
        if names.isEmpty {
            guard let name = saeConfig?.hookName, name.lowercased() != "unknown" else {
                throw AutoInterpError.invalidInput("harvest: the --sae cfg.json names no hook_name; give --hook blocks.L.<hook>")
            }
            names = [name]
        }
        let parsed = try names.map { try DecoderHook(name: $0) }
        // SAELens trains with BOS first unless its config says otherwise.
        let bos = prependBOS ?? saeConfig.map { $0.prependBOS ?? true } ?? false
        let harvester = try DecoderHarvester(
            modelPath: URL(fileURLWithPath: model), hooks: parsed, prependBOS: bos, modelName: modelName, logger: Logger(label: "autointerp.harvest"))
        if let saeConfig, let sae {
            for line in harvester.disagreements(with: saeConfig, saePath: sae) { note("warning: \(Console.render(line))") }
        }
        let bar = ProgressBar("harvest", total: 1, unit: "contexts", enabled: !quiet)
        let summaries = try harvester.harvest(
            textsFile: URL(fileURLWithPath: texts), output: URL(fileURLWithPath: output),
            contextLength: contextLength.value, dtype: type, batchSize: batchSize.value, contextsPerShard: contextsPerShard
        ) { p in
            bar.update(p.contextsDone, total: p.contextsTotal, detail: String(format: "%.0f tokens/s", p.tokensPerSecond))
        }
        bar.finish()
        for summary in summaries {
            note(
                String(
                    format: "harvested %d contexts x %d (%d tokens, %d truncated), %@ width %d → %@: %.1f s, %.0f tokens/s",
                    summary.contexts, summary.contextLength, summary.tokens, summary.truncatedContexts, summary.metadata["hook"] ?? "",
                    summary.width, summary.output.path, summary.elapsedSeconds,
                    summary.elapsedSeconds > 0 ? Double(summary.tokens) / summary.elapsedSeconds : 0))
        }
    }
}
