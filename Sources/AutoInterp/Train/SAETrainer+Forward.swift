import Foundation

// MARK: - Forward

extension SAETrainer {
    /// Copies the next batch into `shifted` as `c·x - b_dec`, reshuffling at the end of an epoch.
    func gatherBatch() {
        if cursor + batchSize > tokenCount {
            order.shuffle(using: &random)
            cursor = 0
        }
        let (dIn, scale) = (dIn, inputScale)
        let target = SharedPointer(shifted.pointer)
        let bias = SharedPointer(decoderBias.pointer)
        let first = cursor
        order.withUnsafeBufferPointer { rows in
            data.withUnsafeBufferPointer { x in
                let rowsBase = SharedPointer(UnsafeMutablePointer(mutating: rows.baseAddress!))
                let source = SharedPointer(UnsafeMutablePointer(mutating: x.baseAddress!))
                Parallel.chunks(batchSize, parts: Self.chunkCount) { range, _ in
                    for t in range {
                        let row = source.base + Int(rowsBase[first + t]) * dIn
                        let out = target.base + t * dIn
                        for k in 0..<dIn { out[k] = row[k] * scale - bias[k] }
                    }
                }
            }
        }
        cursor += batchSize
    }

    /// `F = ReLU(S Eᵀ + b_enc)`; counts the non-zeros of each row into `rowCounts`. Returns the total.
    func encodeBatch() -> Int {
        let batch = batchSize
        BLAS.gemm(
            .none, .transposed, m: batch, n: dSAE, k: dIn, a: shifted.pointer, lda: dIn, b: encoder.pointer, ldb: dIn,
            c: features.pointer, ldc: dSAE)
        let dSAE = dSAE
        let f = SharedPointer(features.pointer)
        let bias = SharedPointer(encoderBias.pointer)
        let counts = SharedPointer(rowCounts.pointer)
        Parallel.chunks(batch, parts: Self.chunkCount) { range, _ in
            for t in range {
                let row = f.base + t * dSAE
                var count: Int32 = 0
                for i in 0..<dSAE {
                    let value = row[i] + bias[i]
                    if value > 0 {
                        row[i] = value
                        count += 1
                    } else {
                        row[i] = 0
                    }
                }
                counts[t] = count
            }
        }
        var total = 0
        for t in 0..<batch { total += Int(rowCounts.pointer[t]) }
        return total
    }

    func computeDecoderNorms() {
        let (dIn, d) = (dIn, SharedPointer(decoder.pointer))
        let n = SharedPointer(norms.pointer)
        Parallel.chunks(dSAE, parts: Self.chunkCount) { range, _ in
            for i in range { n[i] = BLAS.nrm2(d.base + i * dIn, count: dIn) }
        }
    }

    /// `Σ_t ‖S_t - mean(S)‖²` for the batch (the variance the reconstruction has to explain).
    func batchVariance() -> Double {
        let batch = batchSize
        var mean = [Double](repeating: 0, count: dIn)
        for t in 0..<batch {
            let row = shifted.pointer + t * dIn
            for k in 0..<dIn { mean[k] += Double(row[k]) }
        }
        for k in 0..<dIn { mean[k] /= Double(batch) }
        var total = 0.0
        for t in 0..<batch {
            let row = shifted.pointer + t * dIn
            for k in 0..<dIn {
                let d = Double(row[k]) - mean[k]
                total += d * d
            }
        }
        return total
    }
}
