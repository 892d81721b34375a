import AutoInterpLLM
import Foundation

/// Reads circuit-tracer transcoder sets: `config.yaml` (`model_kind: transcoder_set`,
/// `feature_input_hook`, `feature_output_hook`, optional `activation` and `k`) and one
/// `layer_{i}.safetensors` per layer (`W_enc [d_tc, d_model]`, `W_dec [d_tc, d_model]`,
/// `b_enc`, `b_dec`, optional `activation_function.threshold` and `W_skip`).
///
/// Encodes as `SingleLayerTranscoder.encode`: `z = x·W_encᵀ + b_enc` (no `b_dec` shift: it
/// is the output's bias), then JumpReLU when there is a threshold, else ReLU (or top-k when
/// the config says so). Features are read at the *input* hook.
enum TranscoderReader {
    /// The layer files of a folder, by layer number.
    static func layers(in folder: URL) -> [Int: URL] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []
        var found: [Int: URL] = [:]
        for name in names where name.hasPrefix("layer_") && name.hasSuffix(".safetensors") {
            if let n = Int(name.dropFirst(6).dropLast(12)), n >= 0 { found[n] = folder.appendingPathComponent(name) }
        }
        return found
    }

    /// Reads `url` (the folder, its `config.yaml`, or one `layer_{i}.safetensors`) at `layer`.
    static func read(_ url: URL, layer: Int?, scope: SAEReadScope = .all) throws -> SparseAutoencoder {
        let folder = isFolder(url) ? url : url.deletingLastPathComponent()
        var chosenLayer = layer
        if !isFolder(url), url.lastPathComponent.hasPrefix("layer_"), let n = Int(url.lastPathComponent.dropFirst(6).dropLast(12)) {
            if let layer, layer != n { throw AutoInterpError.invalidInput("\(url.path) is layer \(n), not \(Setting.layer) \(layer)") }
            chosenLayer = n
        }
        let configURL = folder.appendingPathComponent("config.yaml")
        var inputHook: String?, outputHook: String?, activation: String?, k: Int?
        var files: [String] = []
        if let data = FileManager.default.contents(atPath: configURL.path) {
            let yaml = try YAMLSubset(text: String(decoding: data, as: UTF8.self), path: configURL.path)
            files.append(configURL.path)
            if let kind = yaml["model_kind"], kind != "transcoder_set" {
                throw AutoInterpError.unsupported(
                    "\(configURL.path): model_kind '\(kind)' is not supported (transcoder_set only; a cross-layer transcoder writes to several layers)")
            }
            inputHook = yaml["feature_input_hook"]
            outputHook = yaml["feature_output_hook"]
            activation = yaml["activation"]?.lowercased()
            if let raw = yaml["k"] {
                guard let value = Int(raw), value > 0 else { throw AutoInterpError.invalidFile(configURL.path, "'k' must be a positive integer, found '\(raw)'") }
                k = value
            }
        }
        let available = layers(in: folder)
        let numbers = available.keys.sorted()
        guard !numbers.isEmpty else { throw AutoInterpError.io(folder.path, "no layer_{i}.safetensors files (a circuit-tracer folder holds config.yaml and one per layer)") }
        if chosenLayer == nil {
            guard numbers.count == 1 else {
                throw AutoInterpError.invalidInput(
                    "\(folder.path) holds transcoders for layers \(numbers.map(String.init).joined(separator: ", ")); pick one with \(Setting.layer)")
            }
            chosenLayer = numbers[0]
        }
        guard let chosenLayer, let weightsURL = available[chosenLayer] else {
            throw AutoInterpError.invalidInput("\(folder.path) has no layer_\(layer ?? -1).safetensors (layers: \(numbers.map(String.init).joined(separator: ", ")))")
        }
        files.append(weightsURL.path)
        let source = SafeTensorsSource(file: try SafeTensorsFile(url: weightsURL))
        let thresholdName = "activation_function.threshold"
        let architecture: SAEConfig.Architecture
        switch activation {
        case nil where source.contains(thresholdName), "jumprelu"?, "jump_relu"?: architecture = .jumprelu
        case nil, "relu"?: architecture = .standard
        case "topk"?, "top_k"?: architecture = .topk
        case let other?: throw AutoInterpError.unsupported("\(configURL.path): transcoder activation '\(other)' is not supported (relu, jumprelu, topk)")
        }
        var assembler = SAEAssembler(
            source: source,
            names: .init(encoder: "W_enc", decoder: "W_dec", encoderBias: "b_enc", decoderBias: "b_dec", threshold: thresholdName),
            encoder: .featureMajor, decoder: .featureMajor)
        // d_in is the encoder's input width; the transcoder's output (b_dec) must have the same width here.
        let dTC = try assembler.reader.length("b_enc")
        let encoderShape = try assembler.reader.shape("W_enc")
        let dOut = try assembler.reader.length("b_dec")
        guard encoderShape.count == 2, encoderShape.contains(dTC) else {
            throw AutoInterpError.invalidFile(weightsURL.path, "'W_enc' has shape \(encoderShape), expected [d_transcoder, d_model] with d_transcoder \(dTC) (from 'b_enc')")
        }
        let dIn = encoderShape[0] == dTC ? encoderShape[1] : encoderShape[0]
        guard dIn == dOut else {
            throw AutoInterpError.unsupported(
                "\(weightsURL.path): the transcoder reads width \(dIn) and writes width \(dOut); only equal widths are supported")
        }
        var sae = try assembler.assemble(architecture: architecture, applyBDecToInput: false, k: k, hookName: inputHook, scope: scope)
        if let low = sae.thresholdBounds?.lowerBound, low < 0 {
            // circuit-tracer's JumpReLU is x·[x > t] without a ReLU: a negative threshold would pass negative values.
            throw AutoInterpError.unsupported(
                "\(weightsURL.path): '\(thresholdName)' holds a negative threshold (\(low)); circuit-tracer would pass negative activations, which this encoder (ReLU-gated) does not")
        }
        var notes: [String] = ["features are read at the input hook\(inputHook.map { " '\($0)'" } ?? ""); b_dec is the output bias and is not subtracted"]
        if source.contains("W_skip") { notes.append("skip connection W_skip: matters for reconstruction, not for feature activations; not used") }
        if architecture == .topk { notes.append("top-k keeps the k largest and zeroes negatives (circuit-tracer's TopK keeps a negative value when fewer than k are positive)") }
        sae.source = SAESource.describing(
            sae, format: .circuitTracer, files: files, dtype: assembler.reader.dtypeSummary, hook: inputHook, outputHook: outputHook,
            layer: chosenLayer, notes: notes)
        return sae
    }
}
