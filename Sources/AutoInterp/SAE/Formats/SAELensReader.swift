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
    /// Reads the folder; see `SparseAutoencoder.init(folder:)`.
    static func read(folder: URL) throws -> SparseAutoencoder {
        let configURL = folder.appendingPathComponent(SAELensWriter.configFileName)
        let config = try SAEConfig(contentsOf: configURL)
        let weightsURL = folder.appendingPathComponent(SAELensWriter.weightsFileName)
        guard FileManager.default.fileExists(atPath: weightsURL.path) else {
            throw AutoInterpError.io(weightsURL.path, "missing (an SAELens folder holds cfg.json and sae_weights.safetensors)")
        }
        let file = try SafeTensorsFile(url: weightsURL)
        let path = weightsURL.path
        let (dIn, dSAE) = (config.dIn, config.dSAE)

        func vector(_ name: String, _ count: Int) throws -> [Float] {
            let info = try file.info(name)
            guard info.elementCount == count, info.shape.filter({ $0 != 1 }).count <= 1 else {
                throw AutoInterpError.invalidFile(path, "'\(name)' has shape \(info.shape), cfg.json implies [\(count)]")
            }
            return try finite(file.floats(name), name, path)
        }
        func matrix(_ name: String, rows: Int, columns: Int) throws -> [Float] {
            let info = try file.info(name)
            if info.shape == [rows, columns] { return try finite(file.floats(name), name, path) }
            if info.shape == [columns, rows] && rows != columns {
                return transpose(try finite(file.floats(name), name, path), rows: columns, columns: rows)
            }
            throw AutoInterpError.invalidFile(path, "'\(name)' has shape \(info.shape), cfg.json implies [\(rows), \(columns)] (d_in \(dIn), d_sae \(dSAE))")
        }

        var sae = SparseAutoencoder(
            config: config, encoderWeights: try matrix("W_enc", rows: dIn, columns: dSAE), encoderBias: [],
            decoderWeights: try matrix("W_dec", rows: dSAE, columns: dIn), decoderBias: [])
        sae.encoderBias = file.contains("b_enc") ? try vector("b_enc", dSAE) : [Float](repeating: 0, count: dSAE)
        sae.decoderBias = try vector("b_dec", dIn)
        switch config.architecture {
        case .jumprelu:
            if file.contains("threshold") {
                sae.threshold = try vector("threshold", dSAE)
            } else if file.contains("log_threshold") {
                sae.threshold = try vector("log_threshold", dSAE).map { Float(exp(Double($0))) }
            } else {
                throw AutoInterpError.invalidFile(path, "jumprelu SAE has no 'threshold' tensor")
            }
        case .gated:
            sae.gateBias = try vector("b_gate", dSAE)
            sae.magnitudeLogScale = try vector("r_mag", dSAE)
            sae.magnitudeBias = try vector("b_mag", dSAE)
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

private func finite(_ values: [Float], _ name: String, _ path: String) throws -> [Float] {
    if let bad = values.firstIndex(where: { !$0.isFinite }) {
        throw AutoInterpError.invalidFile(path, "'\(name)' holds a non-finite value at element \(bad)")
    }
    return values
}

