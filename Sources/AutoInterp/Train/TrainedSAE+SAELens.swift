import Foundation

/// Where an SAE's inputs came from, recorded in `cfg.json`'s `metadata`.
public struct SAEFolderMetadata: Sendable, Equatable {
    public var modelName: String
    public var hookName: String
    public var hookLayer: Int?
    public var contextSize: Int?
    public var datasetPath: String?

    public init(modelName: String = "unknown", hookName: String = "unknown", hookLayer: Int? = nil, contextSize: Int? = nil, datasetPath: String? = nil) {
        self.modelName = modelName
        self.hookName = hookName
        self.hookLayer = hookLayer
        self.contextSize = contextSize
        self.datasetPath = datasetPath
    }
}

extension TrainedSAE {
    /// File names inside an SAELens folder.
    public static let configFileName = "cfg.json"
    public static let weightsFileName = "sae_weights.safetensors"
    public static let trainingFileName = "training.json"

    /// The `cfg.json` object: SAELens' nested (v6) form plus the flat keys older readers expect.
    func saeLensConfig(metadata: SAEFolderMetadata) -> [String: Any] {
        var nested: [String: Any] = [
            "model_name": metadata.modelName,
            "hook_name": metadata.hookName,
            "hook_head_index": NSNull(),
            "prepend_bos": true,
            "exclude_special_tokens": true,
            "sae_lens_training_version": NSNull(),
            "trainer": "autointerp train-sae",
        ]
        if let layer = metadata.hookLayer { nested["hook_layer"] = layer }
        if let context = metadata.contextSize { nested["context_size"] = context }
        if let path = metadata.datasetPath { nested["dataset_path"] = path }
        var config: [String: Any] = [
            "architecture": "standard",
            "d_in": dIn,
            "d_sae": dSAE,
            "dtype": "float32",
            "device": "cpu",
            "apply_b_dec_to_input": true,
            "normalize_activations": "none",
            "reshape_activations": "none",
            "metadata": nested,
            // Flat keys for pre-v6 readers.
            "activation_fn_str": "relu",
            "activation_fn_kwargs": [String: Any](),
            "model_name": metadata.modelName,
            "hook_name": metadata.hookName,
            "hook_point": metadata.hookName,
            "hook_head_index": NSNull(),
            "prepend_bos": true,
            "finetuning_scaling_factor": false,
            "sae_lens_training_version": NSNull(),
            "model_from_pretrained_kwargs": [String: Any](),
            "dataset_trust_remote_code": false,
            "neuronpedia_id": NSNull(),
        ]
        if let layer = metadata.hookLayer {
            config["hook_layer"] = layer
            config["hook_point_layer"] = layer
        }
        if let context = metadata.contextSize { config["context_size"] = context }
        if let path = metadata.datasetPath { config["dataset_path"] = path }
        return config
    }

    /// Writes `cfg.json`, `sae_weights.safetensors` and (when given) `training.json` into `directory`.
    ///
    /// - Throws: `AutoInterpError.io` naming the path that could not be written.
    public func save(to directory: URL, metadata: SAEFolderMetadata = SAEFolderMetadata(), report: SAETrainingReport? = nil) throws {
        do {
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        } catch {
            throw AutoInterpError.io(directory.path, "cannot create the output folder: \(error.localizedDescription)")
        }
        try SafeTensorsWriter.write(
            [
                .float32("W_enc", shape: [dIn, dSAE], wEnc),
                .float32("b_enc", shape: [dSAE], bEnc),
                .float32("W_dec", shape: [dSAE, dIn], wDec),
                .float32("b_dec", shape: [dIn], bDec),
            ],
            metadata: ["format": "pt"],
            to: directory.appendingPathComponent(Self.weightsFileName))
        let configURL = directory.appendingPathComponent(Self.configFileName)
        do {
            let data = try JSONSerialization.data(
                withJSONObject: saeLensConfig(metadata: metadata), options: [.prettyPrinted, .sortedKeys])
            try data.write(to: configURL, options: .atomic)
        } catch {
            throw AutoInterpError.io(configURL.path, "cannot write: \(error.localizedDescription)")
        }
        if let report {
            let reportURL = directory.appendingPathComponent(Self.trainingFileName)
            do {
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
                encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
                try encoder.encode(report).write(to: reportURL, options: .atomic)
            } catch {
                throw AutoInterpError.io(reportURL.path, "cannot write: \(error.localizedDescription)")
            }
        }
    }

    /// Reads back a folder written by `save` (standard architecture, F32/F16/BF16 weights in SAELens orientation).
    ///
    /// - Throws: `AutoInterpError.invalidFile` when a tensor is missing or has the wrong shape.
    public static func load(from directory: URL) throws -> TrainedSAE {
        let url = directory.appendingPathComponent(weightsFileName)
        let file = try SafeTensorsFile(url: url)
        let encoderShape = try file.info("W_enc").shape
        guard encoderShape.count == 2 else {
            throw AutoInterpError.invalidFile(url.path, "W_enc has shape \(encoderShape); expected [d_in, d_sae]")
        }
        let (dIn, dSAE) = (encoderShape[0], encoderShape[1])
        for (name, shape) in [("b_enc", [dSAE]), ("W_dec", [dSAE, dIn]), ("b_dec", [dIn])] where try file.info(name).shape != shape {
            throw AutoInterpError.invalidFile(url.path, "\(name) has shape \(try file.info(name).shape); expected \(shape) for W_enc \(encoderShape)")
        }
        return try TrainedSAE(
            dIn: dIn, dSAE: dSAE, wEnc: try file.floats("W_enc"), bEnc: try file.floats("b_enc"),
            wDec: try file.floats("W_dec"), bDec: try file.floats("b_dec"))
    }
}
