import Foundation

/// A standard ReLU sparse autoencoder in SAELens orientation, acting on raw activations.
///
/// `f = ReLU((x - b_dec) · W_enc + b_enc)`, `x̂ = f · W_dec + b_dec`, with `W_enc` `[d_in, d_sae]`
/// and `W_dec` `[d_sae, d_in]` row-major: exactly SAELens' `standard` architecture with
/// `apply_b_dec_to_input = true` and `normalize_activations = "none"`.
public struct TrainedSAE: Sendable, Equatable {
    public let dIn: Int
    public let dSAE: Int
    /// `[d_in, d_sae]` row-major.
    public var wEnc: [Float]
    /// `[d_sae]`.
    public var bEnc: [Float]
    /// `[d_sae, d_in]` row-major.
    public var wDec: [Float]
    /// `[d_in]`.
    public var bDec: [Float]

    /// Wraps weights, checking their sizes.
    ///
    /// - Throws: `AutoInterpError.shapeMismatch` naming the tensor whose size is wrong.
    public init(dIn: Int, dSAE: Int, wEnc: [Float], bEnc: [Float], wDec: [Float], bDec: [Float]) throws {
        for (name, count, expected) in [
            ("W_enc", wEnc.count, dIn * dSAE), ("b_enc", bEnc.count, dSAE),
            ("W_dec", wDec.count, dSAE * dIn), ("b_dec", bDec.count, dIn),
        ] where count != expected {
            throw AutoInterpError.shapeMismatch("SAE weights: \(name) has \(count) values, d_in \(dIn) and d_sae \(dSAE) need \(expected)")
        }
        self.dIn = dIn
        self.dSAE = dSAE
        self.wEnc = wEnc
        self.bEnc = bEnc
        self.wDec = wDec
        self.bDec = bDec
    }

    // MARK: - Encode and decode

    /// Dense feature activations `[rows, d_sae]` for `rows` raw inputs given row-major `[rows, d_in]`.
    public func encode(_ inputs: [Float]) -> [Float] {
        precondition(inputs.count % dIn == 0, "input length is not a multiple of d_in")
        let rows = inputs.count / dIn
        var features = [Float](repeating: 0, count: rows * dSAE)
        inputs.withUnsafeBufferPointer { x in
            features.withUnsafeMutableBufferPointer { f in
                encodeBatch(x.baseAddress!, rows: rows, into: f.baseAddress!)
            }
        }
        return features
    }

    /// Reconstructions `[rows, d_in]` of raw inputs `[rows, d_in]`.
    public func reconstruct(_ inputs: [Float]) -> [Float] {
        let rows = inputs.count / dIn
        let features = encode(inputs)
        var output = [Float](repeating: 0, count: rows * dIn)
        features.withUnsafeBufferPointer { f in
            output.withUnsafeMutableBufferPointer { out in
                decodeBatch(f.baseAddress!, rows: rows, into: out.baseAddress!)
            }
        }
        return output
    }

    /// Writes `ReLU((x - b_dec) W_enc + b_enc)` for `rows` inputs into `features` (`[rows, d_sae]`).
    func encodeBatch(_ inputs: UnsafePointer<Float>, rows: Int, into features: UnsafeMutablePointer<Float>) {
        guard rows > 0 else { return }
        let shifted = UnsafeMutablePointer<Float>.allocate(capacity: rows * dIn)
        defer { shifted.deallocate() }
        bDec.withUnsafeBufferPointer { bias in
            for row in 0..<rows {
                let source = inputs + row * dIn
                let target = shifted + row * dIn
                for k in 0..<dIn { target[k] = source[k] - bias[k] }
            }
        }
        wEnc.withUnsafeBufferPointer { w in
            BLAS.gemm(.none, .none, m: rows, n: dSAE, k: dIn, a: shifted, lda: dIn, b: w.baseAddress!, ldb: dSAE, c: features, ldc: dSAE)
        }
        bEnc.withUnsafeBufferPointer { bias in
            for row in 0..<rows {
                let z = features + row * dSAE
                for i in 0..<dSAE {
                    let value = z[i] + bias[i]
                    z[i] = value > 0 ? value : 0
                }
            }
        }
    }

    /// Writes `f W_dec + b_dec` for `rows` dense feature rows into `output` (`[rows, d_in]`), skipping zeros.
    func decodeBatch(_ features: UnsafePointer<Float>, rows: Int, into output: UnsafeMutablePointer<Float>) {
        wDec.withUnsafeBufferPointer { w in
            bDec.withUnsafeBufferPointer { bias in
                let wBase = SharedPointer(UnsafeMutablePointer(mutating: w.baseAddress!))
                let biasBase = SharedPointer(UnsafeMutablePointer(mutating: bias.baseAddress!))
                let out = SharedPointer(output)
                let f = SharedPointer(UnsafeMutablePointer(mutating: features))
                let (dIn, dSAE) = (dIn, dSAE)
                Parallel.chunks(rows, parts: 8) { range, _ in
                    for row in range {
                        let target = out.base + row * dIn
                        target.update(from: biasBase.base, count: dIn)
                        let featureRow = f.base + row * dSAE
                        for i in 0..<dSAE where featureRow[i] != 0 {
                            BLAS.axpy(featureRow[i], wBase.base + i * dIn, target, count: dIn)
                        }
                    }
                }
            }
        }
    }

    /// Euclidean norm of each decoder row.
    public var decoderNorms: [Float] {
        wDec.withUnsafeBufferPointer { w in
            (0..<dSAE).map { BLAS.nrm2(w.baseAddress! + $0 * dIn, count: dIn) }
        }
    }
}
