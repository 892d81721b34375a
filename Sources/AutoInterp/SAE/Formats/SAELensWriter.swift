package import Foundation

/// Where an SAE's inputs came from, recorded in `cfg.json` (top level and `metadata`).
package struct SAEFolderMetadata: Sendable, Equatable {
    package var modelName: String
    package var hookName: String
    package var hookLayer: Int?
    package var contextSize: Int?
    package var datasetPath: String?
    /// What wrote the weights (`metadata.trainer`), e.g. `autointerp train-sae`.
    package var trainer: String?
    /// Whether the training contexts began with BOS (`prepend_bos`; SAELens' default `true` when nil).
    package var prependBOS: Bool?

    package init(
        modelName: String = "unknown", hookName: String = "unknown", hookLayer: Int? = nil, contextSize: Int? = nil,
        datasetPath: String? = nil, trainer: String? = nil, prependBOS: Bool? = nil
    ) {
        self.modelName = modelName
        self.hookName = hookName
        self.hookLayer = hookLayer
        self.contextSize = contextSize
        self.datasetPath = datasetPath
        self.trainer = trainer
        self.prependBOS = prependBOS
    }

    /// The model and hook `config` names, `unknown` where it names none.
    package init(_ config: SAEConfig) {
        self.init(
            modelName: config.modelName ?? "unknown", hookName: config.hookName ?? "unknown", contextSize: config.contextSize,
            prependBOS: config.prependBOS)
    }
}

/// Writes a `SparseAutoencoder` as an SAELens folder, the one layout `SAELensReader` reads back:
/// `cfg.json` (the nested v6 form plus the flat keys older SAELens readers expect) and
/// `sae_weights.safetensors` (F32 `W_enc [d_in, d_sae]`, `b_enc`, `W_dec [d_sae, d_in]`, `b_dec`,
/// and `threshold` for JumpReLU, `b_gate`/`r_mag`/`b_mag` for gated).
///
/// `autointerp train-sae`, `autointerp example`, the fixtures and the tests all write through it.
package enum SAELensWriter {
    /// File names inside an SAELens folder.
    package static let configFileName = "cfg.json"
    package static let weightsFileName = "sae_weights.safetensors"

    /// Writes `sae` into `folder` (created if missing); `metadata` defaults to the model and hook its config names.
    ///
    /// - Throws: `AutoInterpError.io` naming the path that could not be written,
    ///   `AutoInterpError.shapeMismatch` naming the tensor whose size disagrees with `d_in`/`d_sae`.
    package static func write(_ sae: SparseAutoencoder, to folder: URL, metadata: SAEFolderMetadata? = nil) throws {
        let tensors = try weights(of: sae)
        do {
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        } catch {
            throw AutoInterpError.io(folder.path, "cannot create the SAE folder: \(error.localizedDescription)")
        }
        try SafeTensorsWriter.write(tensors, metadata: ["format": "pt"], to: folder.appendingPathComponent(weightsFileName))
        let configURL = folder.appendingPathComponent(configFileName)
        do {
            let object = config(of: sae, metadata: metadata ?? SAEFolderMetadata(sae.config))
            let data = try JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys])
            try data.write(to: configURL, options: .atomic)
        } catch {
            throw AutoInterpError.io(configURL.path, "cannot write: \(error.localizedDescription)")
        }
    }

    /// The tensors of `sae`, each checked against `d_in` and `d_sae`.
    static func weights(of sae: SparseAutoencoder) throws -> [SafeTensorsWriter.Tensor] {
        let (dIn, dSAE) = (sae.dIn, sae.dSAE)
        var tensors: [(String, [Int], [Float])] = [
            ("W_enc", [dIn, dSAE], sae.encoderWeights), ("b_enc", [dSAE], sae.encoderBias),
            ("W_dec", [dSAE, dIn], sae.decoderWeights), ("b_dec", [dIn], sae.decoderBias),
        ]
        switch sae.config.architecture {
        case .jumprelu:
            guard let threshold = sae.threshold else {
                throw AutoInterpError.shapeMismatch("SAELens writer: a jumprelu SAE needs its threshold (d_sae \(dSAE) values)")
            }
            tensors.append(("threshold", [dSAE], threshold))
        case .gated:
            guard let gate = sae.gateBias, let scale = sae.magnitudeLogScale, let bias = sae.magnitudeBias else {
                throw AutoInterpError.shapeMismatch("SAELens writer: a gated SAE needs b_gate, r_mag and b_mag (d_sae \(dSAE) values each)")
            }
            tensors += [("b_gate", [dSAE], gate), ("r_mag", [dSAE], scale), ("b_mag", [dSAE], bias)]
        case .standard, .topk:
            break
        }
        for (name, shape, values) in tensors where values.count != shape.reduce(1, *) {
            throw AutoInterpError.shapeMismatch(
                "SAELens writer: \(name) has \(values.count) values, d_in \(dIn) and d_sae \(dSAE) need \(shape.reduce(1, *))")
        }
        return tensors.map { .float32($0.0, shape: $0.1, $0.2) }
    }

    /// The `cfg.json` object for `sae`.
    static func config(of sae: SparseAutoencoder, metadata: SAEFolderMetadata) -> [String: Any] {
        let c = sae.config
        var nested: [String: Any] = [
            "model_name": metadata.modelName,
            "hook_name": metadata.hookName,
            "hook_head_index": NSNull(),
            "exclude_special_tokens": true,
            "sae_lens_training_version": NSNull(),
        ]
        if let trainer = metadata.trainer { nested["trainer"] = trainer }
        // Written only when known: a reader's default (SAELens: true) is not a fact about this SAE.
        if let bos = metadata.prependBOS { nested["prepend_bos"] = bos }
        var activation = "relu"
        var kwargs: [String: Any] = [:]
        var config: [String: Any] = [
            "architecture": c.architecture.rawValue,
            "d_in": c.dIn,
            "d_sae": c.dSAE,
            "dtype": "float32",
            "device": "cpu",
            "apply_b_dec_to_input": c.applyBDecToInput,
            "normalize_activations": c.normalizeActivations.rawValue,
            "reshape_activations": "none",
            // Flat keys for pre-v6 readers.
            "model_name": metadata.modelName,
            "hook_name": metadata.hookName,
            "hook_point": metadata.hookName,
            "hook_head_index": NSNull(),
            "finetuning_scaling_factor": false,
            "sae_lens_training_version": NSNull(),
            "model_from_pretrained_kwargs": [String: Any](),
            "dataset_trust_remote_code": false,
            "neuronpedia_id": NSNull(),
        ]
        if c.architecture == .topk, let k = c.k {
            config["k"] = k
            activation = "topk"
            kwargs["k"] = k
        }
        if c.rescaleActsByDecoderNorm { config["rescale_acts_by_decoder_norm"] = true }
        config["activation_fn_str"] = activation
        config["activation_fn_kwargs"] = kwargs
        for (key, value) in [("hook_layer", metadata.hookLayer), ("context_size", metadata.contextSize)] {
            guard let value else { continue }
            nested[key] = value
            config[key] = value
        }
        if let layer = metadata.hookLayer { config["hook_point_layer"] = layer }
        if let bos = metadata.prependBOS { config["prepend_bos"] = bos }
        if let path = metadata.datasetPath {
            nested["dataset_path"] = path
            config["dataset_path"] = path
        }
        config["metadata"] = nested
        return config
    }
}
