import Foundation
import Logging

// MARK: - Resampling

extension SAETrainer {
    /// Resamples features that have not fired in the last `window` steps; returns how many.
    @discardableResult
    func resampleDeadFeatures(window: Int) -> Int {
        let dead = (0..<dSAE).filter { lastFired[$0] < stepsTaken - window }
        guard !dead.isEmpty else { return 0 }
        let live = (0..<dSAE).filter { lastFired[$0] >= stepsTaken - window }
        let dIn = dIn
        func meanNorm(_ buffer: FloatBuffer, fallback: Float) -> Float {
            guard !live.isEmpty else { return fallback }
            let total = live.reduce(Float(0)) { $0 + BLAS.nrm2(buffer.pointer + $1 * dIn, count: dIn) }
            return total / Float(live.count)
        }
        let encoderNorm = meanNorm(encoder, fallback: config.decoderInitNorm)
        let decoderNorm = meanNorm(decoder, fallback: config.decoderInitNorm)
        // Probability ∝ (per-token loss)²; the residual holds 2/B (x̂ - x), so ‖G_t‖⁴ is proportional.
        var cumulative = [Double](repeating: 0, count: batchSize)
        var total = 0.0
        for t in 0..<batchSize {
            let g = residual.pointer + t * dIn
            let loss = Double(BLAS.dot(g, g, count: dIn))
            total += loss * loss
            cumulative[t] = total
        }
        for i in dead {
            let t: Int
            if total > 0 {
                let target = Double(random.unitFloat()) * total
                var lo = 0
                var hi = batchSize - 1
                while lo < hi {
                    let mid = (lo + hi) / 2
                    if cumulative[mid] > target { hi = mid } else { lo = mid + 1 }
                }
                t = lo
            } else {
                t = Int(random.next() % UInt64(batchSize))
            }
            let input = shifted.pointer + t * dIn
            let length = max(BLAS.nrm2(input, count: dIn), 1e-12)
            let d = decoder.pointer + i * dIn
            let e = encoder.pointer + i * dIn
            for k in 0..<dIn {
                let unit = input[k] / length
                d[k] = unit * decoderNorm
                e[k] = unit * encoderNorm * 0.2
            }
            encoderBias[i] = 0
            adam.encoder.reset(offset: i * dIn, count: dIn)
            adam.decoder.reset(offset: i * dIn, count: dIn)
            adam.encoderBias.reset(offset: i, count: 1)
            lastFired[i] = stepsTaken - 1
        }
        resampledTotal += dead.count
        resampleEvents += 1
        logger?.debug("resampled \(dead.count) dead features at step \(stepsTaken)")
        return dead.count
    }

    /// Makes `indices` unable to fire (zero encoder row, very negative bias); for testing resampling.
    func silenceFeatures(_ indices: [Int]) {
        for i in indices {
            (encoder.pointer + i * dIn).update(repeating: 0, count: dIn)
            encoderBias[i] = -1e4
            adam.encoder.reset(offset: i * dIn, count: dIn)
            adam.encoderBias.reset(offset: i, count: 1)
        }
    }
}
