import ArgumentParser
import AutoInterp
import AutoInterpCLIOptions
import Foundation
import Logging

struct EncodeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "encode",
        abstract: "Encode every token of a dataset with an SAE on the CPU.",
        discussion: """
            Writes CSR (indptr I64 [n_tokens+1], indices I32 [nnz], values F32 [nnz]) by default, \
            or dense `features` F32 [n_tokens, d_sae] with --dense. Tokens are in row-major order \
            of [n_contexts, context_len].
            """
    )

    @Option(help: "SAE folder or file: SAELens, Gemma Scope, sparsify, circuit-tracer or torch .pt (see README).")
    var sae: String

    @OptionGroup var saeFormat: SAEFormatOptions

    @OptionGroup var dataset: DatasetOptions

    @Option(help: "Output .safetensors file.")
    var output: String

    @Flag(help: "Write dense features instead of CSR.")
    var dense = false

    @Option(help: "Tokens per sgemm batch.")
    var batchTokens: PositiveInt = 4096

    @Flag(help: "No progress bar.")
    var quiet = false

    func run() async throws {
        try await reportingErrors {
            var times = PhaseTimes()
            let dataset = try times.measure("open dataset") { try self.dataset.open() }
            let model = try times.measure("load SAE") {
                try SparseAutoencoder.load(path: URL(fileURLWithPath: sae), options: saeFormat.options, scope: .encoder)
            }
            let logger = Logger(label: "autointerp.encode")
            logger.info("\(times.summary)")
            let bar = ProgressBar("encode", total: dataset.tokenCount, unit: "tok", enabled: !quiet)
            let summary = try DatasetEncoder(tokensPerBatch: batchTokens.value, logger: logger).encode(
                dataset: dataset, sae: model, output: URL(fileURLWithPath: output), dense: dense
            ) { done, _ in bar.update(done) }
            bar.finish()
            note(
                String(
                    format: "encoded %d tokens → %@: %d non-zeros (%.1f per token), %.0f tokens/s, peak memory %@",
                    summary.tokens, output, summary.nonZeros, summary.meanActive, summary.tokensPerSecond,
                    formatBytes(peakResidentBytes())))
        }
    }
}
