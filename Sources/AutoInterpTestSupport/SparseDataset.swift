import AutoInterp
import Foundation

/// Synthetic activations built from planted sparse directions, for SAE trainer tests and timing.
///
/// Every token is a non-negative combination of a few planted unit-norm directions, plus an
/// optional constant offset and dense Gaussian noise. An SAE that works should find the
/// planted directions among its decoder rows.
package struct SparseDataset: Sendable {
    /// Input width.
    package let dIn: Int
    /// Planted unit directions, `[directionCount, dIn]` row-major.
    package let directions: [Float]
    package let directionCount: Int
    /// Tokens, `[tokenCount, dIn]` row-major.
    package let inputs: [Float]
    package let tokenCount: Int

    /// Direction `index` as an array.
    package func direction(_ index: Int) -> [Float] { Array(directions[(index * dIn)..<((index + 1) * dIn)]) }

    /// Each token mixes 1...`maxActive` distinct directions (uniform count and choice) with
    /// coefficients uniform in [0.5, 1.5], plus N(0, `noise`²) per coordinate.
    package static func planted(
        dIn: Int, directions count: Int, tokens: Int, maxActive: Int = 3, noise: Float = 0.01, seed: UInt64 = 1
    ) -> SparseDataset {
        var random = SplitMix(seed: seed)
        let directions = randomUnitRows(count, dIn, &random)
        var inputs = [Float](repeating: 0, count: tokens * dIn)
        for t in 0..<tokens {
            let active = 1 + Int(random.next() % UInt64(max(1, min(maxActive, count))))
            var chosen = Set<Int>()
            while chosen.count < active { chosen.insert(Int(random.next() % UInt64(count))) }
            for i in chosen.sorted() {
                let coefficient = 0.5 + random.unit()
                for k in 0..<dIn { inputs[t * dIn + k] += coefficient * directions[i * dIn + k] }
            }
            if noise > 0 {
                for k in 0..<dIn { inputs[t * dIn + k] += noise * random.gaussian() }
            }
        }
        return SparseDataset(dIn: dIn, directions: directions, directionCount: count, inputs: inputs, tokenCount: tokens)
    }

    /// A larger stand-in for real layer activations: `count` directions with Zipf-like
    /// frequencies (exponent `zipf`) averaging `meanActive` per token, exponential magnitudes
    /// (feature `i` scaled by a log-uniform factor in [0.5, 2]), a constant offset of norm
    /// `offsetNorm` and dense N(0, `noise`²) noise.
    package static func activationLike(
        dIn: Int, directions count: Int, tokens: Int, meanActive: Double = 24, zipf: Double = 0.8,
        offsetNorm: Float = 4, noise: Float = 0.05, seed: UInt64 = 1
    ) -> SparseDataset {
        var random = SplitMix(seed: seed)
        let directions = randomUnitRows(count, dIn, &random)
        let offset = randomUnitRows(1, dIn, &random).map { $0 * offsetNorm }
        var weights = (0..<count).map { 1 / Foundation.pow(Double($0) + 10, zipf) }
        let total = weights.reduce(0, +)
        var cumulative = [Double](repeating: 0, count: count)
        var running = 0.0
        for i in 0..<count {
            weights[i] /= total
            running += weights[i]
            cumulative[i] = running
        }
        let scales = (0..<count).map { _ in Float(Foundation.exp(Foundation.log(0.5) + Foundation.log(4.0) * Double(random.unit()))) }
        var inputs = [Float](repeating: 0, count: tokens * dIn)
        for t in 0..<tokens {
            let row = t * dIn
            for k in 0..<dIn { inputs[row + k] = offset[k] + noise * random.gaussian() }
            let active = poisson(meanActive, &random)
            for _ in 0..<active {
                let u = Double(random.unit()) * running
                var lo = 0
                var hi = count - 1
                while lo < hi {
                    let mid = (lo + hi) / 2
                    if cumulative[mid] > u { hi = mid } else { lo = mid + 1 }
                }
                let magnitude = -Foundation.log(max(1 - random.unit(), 1e-7)) * scales[lo]
                let base = lo * dIn
                for k in 0..<dIn { inputs[row + k] += magnitude * directions[base + k] }
            }
        }
        return SparseDataset(dIn: dIn, directions: directions, directionCount: count, inputs: inputs, tokenCount: tokens)
    }

    // MARK: - Helpers

    private static func randomUnitRows(_ count: Int, _ width: Int, _ random: inout SplitMix) -> [Float] {
        var rows = [Float](repeating: 0, count: count * width)
        for i in 0..<count {
            var squared: Float = 0
            for k in 0..<width {
                let value = random.gaussian()
                rows[i * width + k] = value
                squared += value * value
            }
            let norm = squared.squareRoot()
            for k in 0..<width { rows[i * width + k] /= norm }
        }
        return rows
    }

    private static func poisson(_ mean: Double, _ random: inout SplitMix) -> Int {
        // Normal approximation above 30, Knuth's product method below.
        if mean > 30 { return max(0, Int((mean + mean.squareRoot() * Double(random.gaussian())).rounded())) }
        let limit = Foundation.exp(-mean)
        var product = 1.0
        var count = -1
        repeat {
            count += 1
            product *= Double(random.unit())
        } while product > limit
        return count
    }

    /// The generators' random stream: a ``SeededGenerator`` (SplitMix64) with its own seed offset.
    struct SplitMix {
        private var base: SeededGenerator
        init(seed: UInt64) { base = SeededGenerator(seed: seed ^ 0x5851_F42D_4C95_7F2D) }
        mutating func next() -> UInt64 { base.next() }
        mutating func unit() -> Float { base.nextUnitFloat() }
        mutating func gaussian() -> Float { base.nextGaussianFloat() }
    }
}
