import Foundation

/// Reconstruction quality and sparsity of an SAE on a set of raw activations.
package struct SAEEvaluation: Sendable, Codable, Equatable {
    /// Tokens evaluated.
    package var tokenCount: Int
    /// `1 - Σ‖x - x̂‖² / Σ‖x - mean(x)‖²` over the set.
    package var fractionOfVarianceExplained: Double
    /// Mean over tokens of `‖x - x̂‖²`.
    package var meanSquaredError: Double
    /// Mean number of non-zero features per token.
    package var meanL0: Double
    /// Share of features that never fire on the set.
    package var deadFraction: Double
    /// Share of features that fire on more than 10 % of the tokens.
    package var denseFraction: Double

    package init(
        tokenCount: Int, fractionOfVarianceExplained: Double, meanSquaredError: Double, meanL0: Double,
        deadFraction: Double, denseFraction: Double
    ) {
        self.tokenCount = tokenCount
        self.fractionOfVarianceExplained = fractionOfVarianceExplained
        self.meanSquaredError = meanSquaredError
        self.meanL0 = meanL0
        self.deadFraction = deadFraction
        self.denseFraction = denseFraction
    }

    /// Evaluates `sae` on raw inputs `[rows, d_in]` row-major.
    ///
    /// - Throws: `AutoInterpError.shapeMismatch` when the input length is not a multiple of `d_in`.
    package static func evaluate(_ sae: SparseAutoencoder, inputs: [Float], batchSize: Int = 1024) throws -> SAEEvaluation {
        try inputs.withUnsafeBufferPointer { try evaluate(sae, inputs: $0, batchSize: batchSize) }
    }

    /// Evaluates `sae` on raw inputs `[rows, d_in]` row-major, in batches of `batchSize` tokens
    /// (encoded by `SAEEncoder`, so any architecture).
    package static func evaluate(_ sae: SparseAutoencoder, inputs: UnsafeBufferPointer<Float>, batchSize: Int = 1024) throws -> SAEEvaluation {
        let dIn = sae.dIn
        let dSAE = sae.dSAE
        guard inputs.count % dIn == 0 else {
            throw AutoInterpError.shapeMismatch("SAE evaluation: \(inputs.count) values is not a whole number of d_in = \(dIn) rows")
        }
        let rows = inputs.count / dIn
        guard rows > 0, let base = inputs.baseAddress else {
            return SAEEvaluation(
                tokenCount: 0, fractionOfVarianceExplained: .nan, meanSquaredError: .nan, meanL0: 0, deadFraction: 1, denseFraction: 0)
        }
        var mean = [Double](repeating: 0, count: dIn)
        for row in 0..<rows {
            let x = base + row * dIn
            for k in 0..<dIn { mean[k] += Double(x[k]) }
        }
        for k in 0..<dIn { mean[k] /= Double(rows) }
        var totalVariance = 0.0
        for row in 0..<rows {
            let x = base + row * dIn
            for k in 0..<dIn {
                let d = Double(x[k]) - mean[k]
                totalVariance += d * d
            }
        }

        let batch = max(1, min(batchSize, rows))
        let encoder = try SAEEncoder(sae: sae, batchSize: batch)
        let features = FloatBuffer(batch * dSAE)
        let reconstruction = FloatBuffer(batch * dIn)
        var fireCounts = [Int](repeating: 0, count: dSAE)
        var squaredError = 0.0
        var nonZero = 0
        var start = 0
        while start < rows {
            let count = min(batch, rows - start)
            let x = base + start * dIn
            encoder.encodeDense(x, tokens: count, into: features.pointer)
            sae.decode(features.pointer, rows: count, into: reconstruction.pointer)
            for row in 0..<count {
                let f = features.pointer + row * dSAE
                for i in 0..<dSAE where f[i] > 0 {
                    fireCounts[i] += 1
                    nonZero += 1
                }
                let r = reconstruction.pointer + row * dIn
                let xr = x + row * dIn
                for k in 0..<dIn {
                    let d = Double(xr[k]) - Double(r[k])
                    squaredError += d * d
                }
            }
            start += count
        }
        let dead = fireCounts.filter { $0 == 0 }.count
        let dense = fireCounts.filter { Double($0) > 0.1 * Double(rows) }.count
        return SAEEvaluation(
            tokenCount: rows,
            fractionOfVarianceExplained: totalVariance > 0 ? 1 - squaredError / totalVariance : .nan,
            meanSquaredError: squaredError / Double(rows),
            meanL0: Double(nonZero) / Double(rows),
            deadFraction: Double(dead) / Double(dSAE),
            denseFraction: Double(dense) / Double(dSAE))
    }
}
