import ArgumentParser
import AutoInterp
import AutoInterpCLIOptions
import Foundation

/// `autointerp harvest`: run texts through a BERT-family model and write one layer's MLP activations.
struct HarvestCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "harvest",
        abstract: "Run texts through a BERT-family model on the CPU and write a layer's MLP neurons as an activation dataset.",
        discussion: """
            Each {"text": ...} line of the JSONL file becomes one context: [CLS] ... [SEP], cut to \
            --context-len tokens and padded. The output holds tokens (I32), mask (U8, 1 = real token) \
            and activations ([contexts, context-len, intermediate_size], the post-GELU MLP activations \
            of encoder.layer[L]); vocab.json is written beside it. The model folder needs config.json, \
            model.safetensors and vocab.txt (tokenizer.json / tokenizer_config.json are read if present).
            """
    )

    @Option(help: "Hugging Face model folder (config.json, model.safetensors, vocab.txt).")
    var model: String

    @Option(help: "JSONL file with one {\"text\": ...} object per line.")
    var texts: String

    @Option(help: "Layer whose MLP activations are recorded, counted from 0 as in encoder.layer[L].")
    var layer: NonNegativeInt

    @Option(help: "Output safetensors file; vocab.json is written in the same folder.")
    var output: String

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
            let harvester = try Harvester(modelDirectory: URL(fileURLWithPath: model), layer: layer.value, modelName: modelName)
            let bar = ProgressBar("harvest", total: 1, unit: "contexts", enabled: !quiet)
            let summary = try harvester.harvest(
                textsFile: URL(fileURLWithPath: texts), output: URL(fileURLWithPath: output),
                contextLength: contextLength.value, dtype: type, batchSize: batchSize.value
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
}
