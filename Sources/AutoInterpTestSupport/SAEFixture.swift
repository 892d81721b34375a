package import AutoInterp
package import Foundation

/// SAELens-layout folders (`cfg.json` + `sae_weights.safetensors`) for tests and benchmarks: a
/// `SparseAutoencoder` goes through `SAELensWriter`; `write(folder:config:tensors:)` writes
/// a hand-made (possibly malformed) config and tensors as they are.
package enum SAEFixture {
    /// The REFERENCE.md golden SAE: d_in 3, d_sae 4.
    package static let goldenEncoder: [Float] = [1, 0, -1, 2, 0, 1, 1, -1, 1, 1, 0, 0]
    package static let goldenEncoderBias: [Float] = [0, -0.5, 0.25, 0]
    package static let goldenDecoder: [Float] = [1, 0, 0, 0, 2, 0, 0, 0, 1, 1, 1, 1]
    package static let goldenDecoderBias: [Float] = [0.5, 0, -0.5]
    package static let goldenThreshold: [Float] = [0.5, 0.5, 2, 0]
    package static let goldenInputs: [Float] = [1, 2, 3, -1, 0.5, 0]

    /// Writes a folder with the given `cfg.json` object and tensors.
    package static func write(folder: URL, config: [String: Any], tensors: [SafeTensorsWriter.Tensor]) throws {
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let data = try JSONSerialization.data(withJSONObject: config, options: [.sortedKeys, .prettyPrinted])
        try data.write(to: folder.appendingPathComponent(SAELensWriter.configFileName))
        try SafeTensorsWriter.write(tensors, to: folder.appendingPathComponent(SAELensWriter.weightsFileName))
    }

    /// Writes the golden SAE with `config`, weights in `dtype` (F32, F16 or BF16), threshold always F32.
    package static func writeGolden(folder: URL, config: [String: Any], dtype: SafeTensorsDType = .F32) throws {
        func tensor(_ name: String, _ shape: [Int], _ values: [Float]) -> SafeTensorsWriter.Tensor {
            switch dtype {
            case .F16: .float16(name, shape: shape, values)
            case .BF16: .bfloat16(name, shape: shape, values)
            default: .float32(name, shape: shape, values)
            }
        }
        try write(
            folder: folder, config: config,
            tensors: [
                tensor("W_enc", [3, 4], goldenEncoder),
                tensor("b_enc", [4], goldenEncoderBias),
                tensor("W_dec", [4, 3], goldenDecoder),
                tensor("b_dec", [3], goldenDecoderBias),
                .float32("threshold", shape: [4], goldenThreshold),
            ])
    }

    /// A random standard SAE whose features fire on roughly `activeFraction` of Gaussian inputs.
    package static func random(dIn: Int, dSAE: Int, activeFraction: Double = 0.005, seed: UInt64 = 1) -> SparseAutoencoder {
        var rng = SeededGenerator(seed: seed)
        let scale = Float(1 / Double(dIn).squareRoot())
        let encoder = (0..<(dIn * dSAE)).map { _ in Float(rng.nextGaussian()) * scale }
        let decoder = (0..<(dSAE * dIn)).map { _ in Float(rng.nextGaussian()) * scale }
        // z ~ N(0, 1) for unit-variance inputs; a bias of -q puts P(z > q) at activeFraction.
        let cut = Float(normalQuantile(1 - activeFraction))
        return SparseAutoencoder(
            config: SAEConfig(architecture: .standard, dIn: dIn, dSAE: dSAE, applyBDecToInput: false),
            encoderWeights: encoder, encoderBias: Array(repeating: -cut, count: dSAE),
            decoderWeights: decoder, decoderBias: Array(repeating: 0, count: dIn))
    }

    /// Writes `sae` as an SAELens folder through `SAELensWriter` (hook `test` unless its config names one).
    package static func write(_ sae: SparseAutoencoder, folder: URL) throws {
        var metadata = SAEFolderMetadata(sae.config)
        if sae.config.hookName == nil { metadata.hookName = "test" }
        try SAELensWriter.write(sae, to: folder, metadata: metadata)
    }
}

/// Inverse standard normal CDF (Acklam's rational approximation, |error| < 1.2e-9).
func normalQuantile(_ p: Double) -> Double {
    let a = [-3.969683028665376e+01, 2.209460984245205e+02, -2.759285104469687e+02, 1.383577518672690e+02, -3.066479806614716e+01, 2.506628277459239e+00]
    let b = [-5.447609879822406e+01, 1.615858368580409e+02, -1.556989798598866e+02, 6.680131188771972e+01, -1.328068155288572e+01]
    let c = [-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e+00, -2.549732539343734e+00, 4.374664141464968e+00, 2.938163982698783e+00]
    let d = [7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e+00, 3.754408661907416e+00]
    let low = 0.02425
    if p < low {
        let q = (-2 * log(p)).squareRoot()
        return (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) / ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1)
    }
    if p > 1 - low { return -normalQuantile(1 - p) }
    let q = p - 0.5, r = q * q
    return (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q / (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1)
}
