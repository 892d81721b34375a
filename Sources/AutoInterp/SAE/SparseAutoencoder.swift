import Foundation

/// An SAE's weights in F32, oriented as SAELens does: `W_enc [d_in, d_sae]`, `W_dec [d_sae, d_in]`.
///
/// The one SAE type: every reader (`SparseAutoencoder.load`) returns it, `SAETrainer.currentSAE()`
/// produces it, `SAEEncoder` encodes it and `SAELensWriter` writes it.
///
/// Loaded with a `SAEReadScope` other than `.all`, it may hold only part of that: no decoder
/// (`decoderWeights` empty), and with `.features` only some features (`featureIndices`), whose
/// columns the per-feature tensors then hold in that order.
public struct SparseAutoencoder: Sendable, Equatable {
    public var config: SAEConfig
    /// Row-major `[d_in, loadedFeatureCount]`.
    public var encoderWeights: [Float]
    public var encoderBias: [Float]
    /// Row-major `[d_sae, d_in]`; empty when the decoder was not read.
    public var decoderWeights: [Float]
    /// The features held, in column order, when only some were read; nil when all `d_sae` are.
    /// `config.dSAE` is always the SAE's full width.
    public var featureIndices: [Int]?
    public var decoderBias: [Float]
    /// JumpReLU thresholds (`[d_sae]`), when the architecture has them.
    public var threshold: [Float]?
    /// Gated SAEs: gate bias, magnitude log-scale and magnitude bias (`[d_sae]` each).
    public var gateBias: [Float]?
    public var magnitudeLogScale: [Float]?
    public var magnitudeBias: [Float]?
    /// The smallest and largest threshold over all `d_sae` features, kept when only some were read.
    var allThresholdsRange: ClosedRange<Float>?
    /// Where the weights were read from and how they encode (recorded in the run config); nil
    /// for an SAE built in memory.
    public var source: SAESource?

    public var dIn: Int { config.dIn }
    public var dSAE: Int { config.dSAE }
    /// Columns of `encoderWeights` (and entries of the per-feature vectors): `featureIndices.count` or `d_sae`.
    public var loadedFeatureCount: Int { featureIndices?.count ?? config.dSAE }
    /// Whether `decoderWeights` was read.
    public var hasDecoder: Bool { decoderWeights.count == dSAE * dIn && dSAE * dIn > 0 }

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

    /// The smallest and largest JumpReLU threshold over every feature of the SAE (read or not).
    public var thresholdBounds: ClosedRange<Float>? {
        if let allThresholdsRange { return allThresholdsRange }
        guard let threshold, let low = threshold.min(), let high = threshold.max() else { return nil }
        return low...high
    }

    /// The L2 norm of each decoder row (`[d_sae]`); needs the decoder (`hasDecoder`).
    public func decoderNorms() -> [Float] {
        precondition(hasDecoder, "decoderNorms() needs the decoder; load with SAEReadScope.all or .encoder")
        return (0..<dSAE).map { row in
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
