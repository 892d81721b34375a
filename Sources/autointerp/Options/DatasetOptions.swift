import ArgumentParser
import AutoInterp
import Foundation

/// The activation dataset a command reads (`--activations`, `--vocab`), declared once for the
/// commands that need one (`encode`, `train-sae`).
struct DatasetOptions: ParsableArguments {
    @Option(help: "Activation dataset: a .safetensors file with tokens and activations[, mask], or its shards as a folder, a glob or a JSON manifest.")
    var activations: String

    @Option(help: "Token strings (JSON array); default vocab.json beside the dataset.")
    var vocab: String?

    /// Opens the dataset (every shard's header checked).
    func open() throws -> ActivationDataset {
        try ActivationDataset(url: URL(fileURLWithPath: activations), vocabURL: vocab.map { URL(fileURLWithPath: $0) })
    }
}
