import Foundation

extension SparseAutoencoder {
    /// Dense feature activations `[rows, d_sae]` of raw inputs `[rows, d_in]` (row-major), through `SAEEncoder`.
    ///
    /// - Throws: `AutoInterpError.shapeMismatch` when the input length is not a multiple of `d_in`.
    public func encode(_ inputs: [Float], batchSize: Int = 1024) throws -> [Float] {
        let rows = try rowCount(inputs, "encode")
        var features = [Float](repeating: 0, count: rows * dSAE)
        guard rows > 0 else { return features }
        let encoder = try SAEEncoder(sae: self, batchSize: min(batchSize, rows))
        inputs.withUnsafeBufferPointer { x in
            features.withUnsafeMutableBufferPointer { f in
                var start = 0
                while start < rows {
                    let count = min(encoder.batchSize, rows - start)
                    encoder.encodeDense(x.baseAddress! + start * dIn, tokens: count, into: f.baseAddress! + start * dSAE)
                    start += count
                }
            }
        }
        return features
    }

    /// Reconstructions `f W_dec + b_dec` `[rows, d_in]` of raw inputs `[rows, d_in]`.
    ///
    /// - Throws: `AutoInterpError.shapeMismatch` when the input length is not a multiple of `d_in`.
    public func reconstruct(_ inputs: [Float]) throws -> [Float] {
        let rows = try rowCount(inputs, "reconstruct")
        let features = try encode(inputs)
        var output = [Float](repeating: 0, count: rows * dIn)
        features.withUnsafeBufferPointer { f in
            output.withUnsafeMutableBufferPointer { out in
                guard rows > 0 else { return }
                decode(f.baseAddress!, rows: rows, into: out.baseAddress!)
            }
        }
        return output
    }

    /// Writes `f W_dec + b_dec` for `rows` dense feature rows `[rows, d_sae]` into `output` (`[rows, d_in]`), skipping zeros.
    func decode(_ features: UnsafePointer<Float>, rows: Int, into output: UnsafeMutablePointer<Float>) {
        decoderWeights.withUnsafeBufferPointer { w in
            decoderBias.withUnsafeBufferPointer { bias in
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

    private func rowCount(_ inputs: [Float], _ operation: String) throws -> Int {
        guard dIn > 0, inputs.count % dIn == 0 else {
            throw AutoInterpError.shapeMismatch("SAE \(operation): \(inputs.count) values is not a whole number of d_in = \(dIn) rows")
        }
        return inputs.count / dIn
    }
}
