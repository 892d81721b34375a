public import Foundation

extension SparseAutoencoder {
    /// Loads an SAELens folder: `cfg.json` and `sae_weights.safetensors`.
    ///
    /// Tensors of any float dtype are converted to F32; a weight stored transposed is turned
    /// around when its shape says so unambiguously.
    /// - Throws: `AutoInterpError.invalidFile` naming the file and tensor that disagree with `cfg.json`.
    public init(folder: URL) throws {
        self = try SAELensReader.read(folder: folder)
    }
}

/// Reads SAELens folders: `cfg.json` + `sae_weights.safetensors` (the reader `--sae` had first;
/// `SAELensWriter` writes the same layout).
enum SAELensReader {
    /// Reads the folder (the parts `scope` asks for); see `SparseAutoencoder.init(folder:)`.
    static func read(folder: URL, scope: SAEReadScope = .all) throws -> SparseAutoencoder {
        let configURL = folder.appendingPathComponent(SAELensWriter.configFileName)
        let config = try SAEConfig(contentsOf: configURL)
        let weightsURL = folder.appendingPathComponent(SAELensWriter.weightsFileName)
        guard FileManager.default.fileExists(atPath: weightsURL.path) else {
            throw AutoInterpError.io(weightsURL.path, "missing (an SAELens folder holds cfg.json and sae_weights.safetensors)")
        }
        let file = try SafeTensorsFile(url: weightsURL)
        let path = weightsURL.path
        let (dIn, dSAE) = (config.dIn, config.dSAE)
        var reader = WeightReader(SafeTensorsSource(file: file))
        let plan = try scope.plan(
            dSAE: dSAE, architecture: config.architecture, decoderNeeded: config.architecture == .topk && config.rescaleActsByDecoderNorm,
            path: path)
        let columns = plan.columns
        func vector(_ name: String) throws -> [Float] { try reader.vector(name, dSAE, what: "d_sae from cfg.json", columns: columns) }

        var sae = SparseAutoencoder(
            config: config, encoderWeights: try reader.encoder("W_enc", dIn: dIn, dSAE: dSAE, layout: .inputMajor, columns: columns),
            encoderBias: [], decoderWeights: [], decoderBias: [])
        if plan.readsDecoder {
            sae.decoderWeights = try reader.decoder("W_dec", dIn: dIn, dSAE: dSAE, layout: .featureMajor)
        } else {
            try reader.checkDecoder("W_dec", dIn: dIn, dSAE: dSAE, layout: .featureMajor)
        }
        sae.featureIndices = columns
        sae.encoderBias = file.contains("b_enc") ? try vector("b_enc") : [Float](repeating: 0, count: sae.loadedFeatureCount)
        sae.decoderBias = try reader.vector("b_dec", dIn, what: "d_in from cfg.json")
        switch config.architecture {
        case .jumprelu:
            if file.contains("threshold") {
                sae.threshold = try vector("threshold")
                if columns != nil { sae.allThresholdsRange = try reader.finiteRange("threshold") }
            } else if file.contains("log_threshold") {
                sae.threshold = try vector("log_threshold").map { Float(exp(Double($0))) }
                if columns != nil {
                    sae.allThresholdsRange = try reader.finiteRange("log_threshold").map {
                        Float(exp(Double($0.lowerBound)))...Float(exp(Double($0.upperBound)))
                    }
                }
            } else {
                throw AutoInterpError.invalidFile(path, "jumprelu SAE has no 'threshold' tensor")
            }
        case .gated:
            sae.gateBias = try vector("b_gate")
            sae.magnitudeLogScale = try vector("r_mag")
            sae.magnitudeBias = try vector("b_mag")
        case .standard, .topk:
            break
        }
        let dtypes = Set(file.tensorNames.compactMap { try? file.info($0).dtype.rawValue }).sorted()
        sae.source = SAESource.describing(
            sae, format: .saelens, files: [configURL.path, path], dtype: dtypes.joined(separator: ", "),
            hook: config.hookName)
        return sae
    }
}
