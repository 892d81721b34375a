import ArgumentParser
import AutoInterp

/// How to read `--sae`: shared by `encode`, `select`, `run` and `sae inspect`.
struct SAEFormatOptions: ParsableArguments {
    @Option(help: "SAE layout, instead of recognising it by its files.")
    var saeFormat: SAEFormat?

    @Option(help: "sparsify: the hookpoint folder to read when --sae holds several.")
    var hookpoint: String?

    @Option(help: "circuit-tracer transcoders: the layer whose layer_{i}.safetensors to read.")
    var layer: Int?

    @Option(help: "TopK state dicts that do not store k (Qwen Scope): active latents per token.")
    var k: Int?

    /// The library's load options.
    var options: SAELoadOptions {
        SAELoadOptions(format: saeFormat, hookpoint: hookpoint, layer: layer, k: k)
    }
}
