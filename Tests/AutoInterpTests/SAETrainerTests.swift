import AutoInterpTestSupport
import Foundation
import Testing

@testable import AutoInterp

/// Trainer behaviour on a small planted-direction dataset (d_in 16, 8 directions).
struct SAETrainerTests {
    static let data = SparseDataset.planted(dIn: 16, directions: 8, tokens: 8192, maxActive: 3, noise: 0.01, seed: 7)

    static func config(steps: Int = 600, seed: UInt64 = 3, resampleEvery: Int? = 100) -> SAETrainingConfig {
        SAETrainingConfig(
            dSAE: 32, l1Coefficient: 0.5, learningRate: 3e-3, batchSize: 256, steps: steps, resampleEvery: resampleEvery,
            seed: seed)
    }

    /// Full objective `mean ‖x - x̂‖² + λ Σ f ‖W_dec‖` of `sae` on raw inputs.
    static func objective(_ sae: SparseAutoencoder, _ inputs: [Float], lambda: Float) throws -> Double {
        let features = try sae.encode(inputs)
        let reconstruction = try sae.reconstruct(inputs)
        let norms = sae.decoderNorms()
        let rows = inputs.count / sae.dIn
        var total = 0.0
        for k in 0..<inputs.count { total += Double((inputs[k] - reconstruction[k]) * (inputs[k] - reconstruction[k])) }
        for t in 0..<rows {
            for i in 0..<sae.dSAE { total += Double(lambda * features[t * sae.dSAE + i] * norms[i]) }
        }
        return total / Double(rows)
    }

    static func cosine(_ a: ArraySlice<Float>, _ b: [Float]) -> Float {
        var dot: Float = 0
        var na: Float = 0
        var nb: Float = 0
        for (x, y) in zip(a, b) {
            dot += x * y
            na += x * x
            nb += y * y
        }
        return dot / max((na * nb).squareRoot(), 1e-12)
    }

    @Test func lowersLossAndRecoversPlantedDirections() throws {
        let data = Self.data
        let trainer = try SAETrainer(config: Self.config(), data: data.inputs, inputWidth: data.dIn)
        // The trainer's loss is c² × the raw-space loss with λ / c (c = input scale).
        let lambda = trainer.config.l1Coefficient / trainer.inputScale
        let before = try Self.objective(trainer.currentSAE(), data.inputs, lambda: lambda)
        let summary = trainer.train()
        #expect(summary.steps == 600)
        #expect(summary.finalLoss < 0.5 * summary.initialLoss)
        let sae = trainer.currentSAE()
        let after = try Self.objective(sae, data.inputs, lambda: lambda)
        #expect(after < 0.5 * before)
        let evaluation = try SAEEvaluation.evaluate(sae, inputs: data.inputs)
        #expect(evaluation.fractionOfVarianceExplained > 0.9)
        #expect(evaluation.deadFraction == 0)
        for d in 0..<data.directionCount {
            let direction = data.direction(d)
            let best = (0..<sae.dSAE).map { Self.cosine(sae.decoderWeights[($0 * 16)..<(($0 + 1) * 16)], direction) }.max() ?? 0
            #expect(best > 0.9, "planted direction \(d) best cosine \(best)")
        }
    }

    @Test func deterministicGivenSeed() throws {
        let data = Self.data
        func run(_ seed: UInt64) throws -> SparseAutoencoder {
            let trainer = try SAETrainer(config: Self.config(steps: 40, seed: seed), data: data.inputs, inputWidth: data.dIn)
            trainer.train()
            return trainer.currentSAE()
        }
        let first = try run(5)
        #expect(first == (try run(5)))
        #expect(first != (try run(6)))
    }

    /// The dense (sgemm) and sparse backward passes compute the same update.
    @Test func denseAndSparseBackwardAgree() throws {
        let data = Self.data
        func run(denseThreshold: Double) throws -> (SparseAutoencoder, Int) {
            var config = Self.config(steps: 30)
            config.denseThreshold = denseThreshold
            let trainer = try SAETrainer(config: config, data: data.inputs, inputWidth: data.dIn)
            let summary = trainer.train()
            return (trainer.currentSAE(), summary.denseSteps)
        }
        let (dense, denseSteps) = try run(denseThreshold: 0)
        let (sparse, sparseDenseSteps) = try run(denseThreshold: 1)
        #expect(denseSteps == 30)
        #expect(sparseDenseSteps == 0)
        for (a, b) in [(dense.encoderWeights, sparse.encoderWeights), (dense.decoderWeights, sparse.decoderWeights), (dense.encoderBias, sparse.encoderBias), (dense.decoderBias, sparse.decoderBias)] {
            let worst = zip(a, b).map { abs($0 - $1) }.max() ?? 0
            #expect(worst < 1e-3)
        }
    }

    /// Features forced never to fire come back after a resampling round, and stay dead without one.
    @Test(arguments: [true, false]) func resamplingRevivesSilencedFeatures(resample: Bool) throws {
        let data = Self.data
        let silenced = Array(0..<6)
        let trainer = try SAETrainer(
            config: Self.config(steps: 600, resampleEvery: resample ? 50 : nil), data: data.inputs, inputWidth: data.dIn)
        for _ in 0..<120 { trainer.step() }
        trainer.silenceFeatures(silenced)
        let sample = Array(data.inputs.prefix(2048 * data.dIn))
        func fireCounts() throws -> [Int] {
            let features = try trainer.currentSAE().encode(sample)
            return silenced.map { i in (0..<2048).filter { features[$0 * 32 + i] > 0 }.count }
        }
        #expect(try fireCounts().allSatisfy { $0 == 0 })
        // Silent since step 120, so dead in the window checked at step 200 (steps 151-200).
        for _ in 0..<80 { trainer.step() }
        let counts = try fireCounts()
        if resample {
            #expect(trainer.step().resampledFeatures >= silenced.count)
            #expect(counts.allSatisfy { $0 > 0 }, "fire counts after resampling: \(counts)")
        } else {
            #expect(counts.allSatisfy { $0 == 0 })
        }
    }
}
