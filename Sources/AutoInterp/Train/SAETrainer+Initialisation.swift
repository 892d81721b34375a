import Foundation

// MARK: - Initialisation

extension SAETrainer {
    func initialiseScaleAndBias() {
        let sample = Array(order.prefix(16_384))
        if config.normalizeInput {
            var total = 0.0
            data.withUnsafeBufferPointer { x in
                for row in sample {
                    total += Double(BLAS.nrm2(x.baseAddress! + Int(row) * dIn, count: dIn))
                }
            }
            let meanNorm = total / Double(sample.count)
            inputScale = meanNorm > 0 ? Float(Double(dIn).squareRoot() / meanNorm) : 1
        }
        let medianSample = sample.prefix(4096)
        var points = [Float](repeating: 0, count: medianSample.count * dIn)
        data.withUnsafeBufferPointer { x in
            for (j, row) in medianSample.enumerated() {
                for k in 0..<dIn { points[j * dIn + k] = x[Int(row) * dIn + k] * inputScale }
            }
        }
        let bias: [Float]
        switch config.decoderBiasInit {
        case .zero: bias = [Float](repeating: 0, count: dIn)
        case .mean: bias = Self.mean(points, width: dIn)
        case .geometricMedian: bias = Self.geometricMedian(points, width: dIn)
        }
        for k in 0..<dIn { decoderBias[k] = bias[k] }
    }

    func initialiseWeights() {
        for i in 0..<dSAE {
            let row = decoder.pointer + i * dIn
            var squared: Float = 0
            for k in 0..<dIn {
                let value = random.gaussian()
                row[k] = value
                squared += value * value
            }
            let scale = config.decoderInitNorm / max(squared.squareRoot(), 1e-12)
            for k in 0..<dIn { row[k] *= scale }
        }
        encoder.pointer.update(from: decoder.pointer, count: dSAE * dIn)
    }

    /// Sets `b_enc[i] = -(the ⌈density·n⌉-th largest pre-activation of feature i)` over the first batch.
    func initialiseEncoderBias(density: Double) {
        gatherBatch()
        cursor = 0
        let batch = batchSize
        BLAS.gemm(
            .none, .transposed, m: batch, n: dSAE, k: dIn, a: shifted.pointer, lda: dIn, b: encoder.pointer, ldb: dIn,
            c: features.pointer, ldc: dSAE)
        let rank = min(batch - 1, max(0, Int((density * Double(batch)).rounded()) - 1))
        let dSAE = dSAE
        let z = SharedPointer(features.pointer)
        let bias = SharedPointer(encoderBias.pointer)
        Parallel.chunks(dSAE, parts: Self.chunkCount) { range, _ in
            var column = [Float](repeating: 0, count: batch)
            for i in range {
                for t in 0..<batch { column[t] = z[t * dSAE + i] }
                column.sort(by: >)
                bias[i] = -column[rank]
            }
        }
    }

    static func mean(_ points: [Float], width: Int) -> [Float] {
        let rows = points.count / width
        var sum = [Double](repeating: 0, count: width)
        for j in 0..<rows {
            for k in 0..<width { sum[k] += Double(points[j * width + k]) }
        }
        return sum.map { Float($0 / Double(max(rows, 1))) }
    }

    /// Weiszfeld iterations from the mean; stops when the point moves less than 1e-6 of its norm.
    static func geometricMedian(_ points: [Float], width: Int, iterations: Int = 60) -> [Float] {
        let rows = points.count / width
        var estimate = mean(points, width: width).map(Double.init)
        guard rows > 1 else { return estimate.map(Float.init) }
        for _ in 0..<iterations {
            var next = [Double](repeating: 0, count: width)
            var weightSum = 0.0
            for j in 0..<rows {
                var squared = 0.0
                for k in 0..<width {
                    let d = Double(points[j * width + k]) - estimate[k]
                    squared += d * d
                }
                let weight = 1 / max(squared.squareRoot(), 1e-8)
                weightSum += weight
                for k in 0..<width { next[k] += weight * Double(points[j * width + k]) }
            }
            var moved = 0.0
            var size = 0.0
            for k in 0..<width {
                next[k] /= weightSum
                moved += (next[k] - estimate[k]) * (next[k] - estimate[k])
                size += next[k] * next[k]
            }
            estimate = next
            if moved.squareRoot() <= 1e-6 * max(size.squareRoot(), 1e-12) { break }
        }
        return estimate.map(Float.init)
    }
}
