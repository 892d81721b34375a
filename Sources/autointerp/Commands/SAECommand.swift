import ArgumentParser
import AutoInterp
import Foundation

/// `autointerp sae …`: look at an SAE before using it.
struct SAECommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sae",
        abstract: "Inspect SAE files in any supported layout.",
        subcommands: [Inspect.self]
    )

    /// `autointerp sae inspect PATH`: what was recognised and what a run would record.
    struct Inspect: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "inspect",
            abstract: "Print the format, architecture, sizes, k / thresholds, dtype and hook of an SAE, and the run-config lines it gives."
        )

        @Argument(help: "SAE folder or file (SAELens, Gemma Scope, Gemma Scope 2, sparsify, circuit-tracer, torch .pt).")
        var path: String

        @OptionGroup var sae: SAEFormatOptions

        func run() async throws {
            try await reportingErrors {
                let model = try SparseAutoencoder.load(path: URL(fileURLWithPath: path), options: sae.options)
                guard let source = model.source else { return }
                print("format:       \(source.format.rawValue)\(source.variant.map { " (\($0))" } ?? "")")
                print("architecture: \(source.architecture): \(source.activation)")
                print("d_in:         \(source.dIn)")
                print("d_sae:        \(source.dSAE)")
                if let k = source.k { print("k:            \(k)") }
                if let range = source.thresholdRange { print("threshold:    \(range[0]) … \(range[1])") }
                print("dtype:        \(source.dtype)")
                print("hook:         \(source.hook ?? "(not recorded in the files)")\(source.outputHook.map { " → output \($0)" } ?? "")")
                if let layer = source.layer { print("layer:        \(layer)") }
                for note in source.notes { print("note:         \(note)") }
                print("run config (saeSource):")
                print(try source.prettyJSON())
            }
        }
    }
}
