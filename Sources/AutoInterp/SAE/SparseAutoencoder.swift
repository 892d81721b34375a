import Foundation

/// An SAE's weights in F32, oriented as SAELens does: `W_enc [d_in, d_sae]`, `W_dec [d_sae, d_in]`.
public struct SparseAutoencoder: Sendable {
    public var config: SAEConfig
    /// Row-major `[d_in, d_sae]`.
    public var encoderWeights: [Float]
    public var encoderBias: [Float]
    /// Row-major `[d_sae, d_in]`.
    public var decoderWeights: [Float]
    public var decoderBias: [Float]
    /// JumpReLU thresholds (`[d_sae]`), when the architecture has them.
    public var threshold: [Float]?
    /// Gated SAEs: gate bias, magnitude log-scale and magnitude bias (`[d_sae]` each).
    public var gateBias: [Float]?
    public var magnitudeLogScale: [Float]?
    public var magnitudeBias: [Float]?

    public var dIn: Int { config.dIn }
    public var dSAE: Int { config.dSAE }

    public init(
        config: SAEConfig, encoderWeights: [Float], encoderBias: [Float], decoderWeights: [Float], decoderBias: [Float],
        threshold: [Float]? = nil
    ) {
        self.config = config
        self.encoderWeights = encoderWeights
        self.encoderBias = encoderBias
        self.decoderWeights = decoderWeights
        self.decoderBias = decoderBias
        self.threshold = threshold
    }

    /// Loads an SAELens folder: `cfg.json` and `sae_weights.safetensors`.
    ///
    /// Tensors of any float dtype are converted to F32; a weight stored transposed is turned
    /// around when its shape says so unambiguously.
    /// - Throws: `AutoInterpError.invalidFile` naming the file and tensor that disagree with `cfg.json`.
    public init(folder: URL) throws {
        let config = try SAEConfig(contentsOf: folder.appendingPathComponent("cfg.json"))
        let weightsURL = folder.appendingPathComponent("sae_weights.safetensors")
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

        self.config = config
        encoderWeights = try matrix("W_enc", rows: dIn, columns: dSAE)
        decoderWeights = try matrix("W_dec", rows: dSAE, columns: dIn)
        encoderBias = file.contains("b_enc") ? try vector("b_enc", dSAE) : [Float](repeating: 0, count: dSAE)
        decoderBias = try vector("b_dec", dIn)
        switch config.architecture {
        case .jumprelu:
            if file.contains("threshold") {
                threshold = try vector("threshold", dSAE)
            } else if file.contains("log_threshold") {
                threshold = try vector("log_threshold", dSAE).map { Float(exp(Double($0))) }
            } else {
                throw AutoInterpError.invalidFile(path, "jumprelu SAE has no 'threshold' tensor")
            }
        case .gated:
            gateBias = try vector("b_gate", dSAE)
            magnitudeLogScale = try vector("r_mag", dSAE)
            magnitudeBias = try vector("b_mag", dSAE)
        case .standard, .topk:
            break
        }
    }

    /// The L2 norm of each decoder row (`[d_sae]`).
    public func decoderNorms() -> [Float] {
        (0..<dSAE).map { row in
            var sum: Float = 0
            for j in 0..<dIn {
                let w = decoderWeights[row * dIn + j]
                sum += w * w
            }
            return sum.squareRoot()
        }
    }
}

private func finite(_ values: [Float], _ name: String, _ path: String) throws -> [Float] {
    if let bad = values.firstIndex(where: { !$0.isFinite }) {
        throw AutoInterpError.invalidFile(path, "'\(name)' holds a non-finite value at element \(bad)")
    }
    return values
}

/// Transposes a row-major `rows × columns` matrix.
func transpose(_ values: [Float], rows: Int, columns: Int) -> [Float] {
    var out = [Float](repeating: 0, count: values.count)
    for r in 0..<rows {
        for c in 0..<columns { out[c * rows + r] = values[r * columns + c] }
    }
    return out
}
