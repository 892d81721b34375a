import Foundation

/// An SAE's weights in F32, oriented as SAELens does: `W_enc [d_in, d_sae]`, `W_dec [d_sae, d_in]`.
///
/// The one SAE type: every reader (`SparseAutoencoder.load`) returns it, `SAETrainer.currentSAE()`
/// produces it, `SAEEncoder` encodes it and `SAELensWriter` writes it.
public struct SparseAutoencoder: Sendable, Equatable {
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
    /// Where the weights were read from and how they encode (recorded in the run config); nil
    /// for an SAE built in memory.
    public var source: SAESource?

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

/// Transposes a row-major `rows × columns` matrix.
func transpose(_ values: [Float], rows: Int, columns: Int) -> [Float] {
    var out = [Float](repeating: 0, count: values.count)
    for r in 0..<rows {
        for c in 0..<columns { out[c * rows + r] = values[r * columns + c] }
    }
    return out
}
