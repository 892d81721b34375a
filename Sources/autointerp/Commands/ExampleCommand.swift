import ArgumentParser
import AutoInterp
import AutoInterpCLIOptions
import Foundation

struct ExampleCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "example",
        abstract: "Write the built-in synthetic example: a dataset with planted units and a small SAE."
    )

    @Option(help: "Folder to write into.")
    var output = "results/example"

    @Option(help: "Contexts to generate.")
    var contexts: PositiveInt = 400

    @Option(help: "Tokens per context.")
    var contextLength: PositiveInt = 24

    @Option(help: "Neurons (width of the activations).")
    var width: PositiveInt = 32

    @Option(help: "Random seed.")
    var seed: UInt64 = 0

    func run() async throws {
        try await reportingErrors {
            let folder = URL(fileURLWithPath: output)
            let datasetURL = folder.appendingPathComponent("activations.safetensors")
            try SyntheticDataset.write(to: datasetURL, contexts: contexts.value, length: contextLength.value, width: width.value, seed: seed)
            try SyntheticDataset.writeSAE(to: folder.appendingPathComponent("sae"), width: width.value, seed: seed)
            print("wrote \(datasetURL.path), vocab.json and sae/ (\(contexts.value) contexts × \(contextLength.value) tokens, \(width.value) neurons)")
        }
    }
}
