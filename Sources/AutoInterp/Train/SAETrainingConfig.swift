import AutoInterpLLM
import Foundation

/// Settings for `SAETrainer`: size, penalty, optimiser, schedule, resampling and seed.
///
/// Learning rate and L1 coefficient refer to the trainer's internal space, where inputs are
/// rescaled to mean norm `sqrt(d_in)` when `normalizeInput` is on (the default); the scale is
/// folded back into the saved weights, so the saved SAE reads raw activations.
package struct SAETrainingConfig: Sendable, Codable, Equatable {
    /// How `b_dec` starts.
    package enum DecoderBiasInit: String, Sendable, Codable, CaseIterable {
        /// Geometric median of a sample of the data (Weiszfeld iterations).
        case geometricMedian = "geometric_median"
        /// Mean of a sample of the data.
        case mean
        /// Zeros.
        case zero
    }

    /// Number of features; `nil` means `expansionFactor × d_in`.
    package var dSAE: Int?
    /// Features per input dimension when `dSAE` is `nil`.
    package var expansionFactor: Int
    /// Weight λ of the penalty `Σ_i f_i ‖W_dec[i]‖`.
    package var l1Coefficient: Float
    /// Adam step size at the top of the schedule.
    package var learningRate: Float
    package var adamBeta1: Float
    package var adamBeta2: Float
    package var adamEpsilon: Float
    /// Tokens per optimiser step.
    package var batchSize: Int
    /// Optimiser steps; `nil` means `epochs` passes over the data.
    package var steps: Int?
    /// Passes over the data when `steps` is `nil` (may be fractional).
    package var epochs: Double
    /// Share of steps over which λ ramps linearly from 0 to `l1Coefficient`.
    package var l1WarmupFraction: Double
    /// Share of steps at the end over which the learning rate decays linearly to 0.
    package var learningRateDecayFraction: Double
    /// Resample features that have not fired for this many steps, every this many steps; `nil` turns it off.
    package var resampleEvery: Int?
    /// No resampling after this share of the steps, so resampled features have time to settle.
    package var resampleStopFraction: Double
    /// Clip the global gradient norm to this value; `nil` turns clipping off.
    package var gradientClipNorm: Float?
    /// Rescale inputs by one constant so their mean norm is `sqrt(d_in)` (folded into the saved weights).
    package var normalizeInput: Bool
    /// Norm of each decoder row at initialisation (the encoder starts as the decoder's transpose).
    package var decoderInitNorm: Float
    package var decoderBiasInit: DecoderBiasInit
    /// Seed for initialisation, shuffling and resampling.
    package var seed: UInt64
    /// Use dense matrix products for the backward pass when more than this share of activations is non-zero.
    package var denseThreshold: Double
    /// Set each feature's initial encoder bias so that it fires on about this share of a sample batch,
    /// so training starts sparse (and cheap); `nil` starts the biases at 0 (half the features fire).
    package var initialDensity: Double?

    package init(
        dSAE: Int? = nil,
        expansionFactor: Int = 4,
        l1Coefficient: Float = 4,
        learningRate: Float = 2e-3,
        adamBeta1: Float = 0.9,
        adamBeta2: Float = 0.999,
        adamEpsilon: Float = 1e-8,
        batchSize: Int = 1024,
        steps: Int? = nil,
        epochs: Double = 1,
        l1WarmupFraction: Double = 0.05,
        learningRateDecayFraction: Double = 0.2,
        resampleEvery: Int? = 250,
        resampleStopFraction: Double = 0.6,
        gradientClipNorm: Float? = 1,
        normalizeInput: Bool = true,
        decoderInitNorm: Float = 0.5,
        decoderBiasInit: DecoderBiasInit = .geometricMedian,
        seed: UInt64 = 0,
        denseThreshold: Double = 0.08,
        initialDensity: Double? = 0.01
    ) {
        self.dSAE = dSAE
        self.expansionFactor = expansionFactor
        self.l1Coefficient = l1Coefficient
        self.learningRate = learningRate
        self.adamBeta1 = adamBeta1
        self.adamBeta2 = adamBeta2
        self.adamEpsilon = adamEpsilon
        self.batchSize = batchSize
        self.steps = steps
        self.epochs = epochs
        self.l1WarmupFraction = l1WarmupFraction
        self.learningRateDecayFraction = learningRateDecayFraction
        self.resampleEvery = resampleEvery
        self.resampleStopFraction = resampleStopFraction
        self.gradientClipNorm = gradientClipNorm
        self.normalizeInput = normalizeInput
        self.decoderInitNorm = decoderInitNorm
        self.decoderBiasInit = decoderBiasInit
        self.seed = seed
        self.denseThreshold = denseThreshold
        self.initialDensity = initialDensity
    }

    /// The number of features for inputs of width `dIn`.
    package func featureCount(inputWidth dIn: Int) -> Int {
        dSAE ?? { let (product, overflow) = expansionFactor.multipliedReportingOverflow(by: dIn); return overflow ? Int.max : product }()
    }

    /// A resampling interval suited to a run of `totalSteps`: an eighth of it, at least 10 steps.
    package static func automaticResampleInterval(totalSteps: Int) -> Int { max(10, totalSteps / 8) }

    /// The number of optimiser steps for `tokenCount` training tokens.
    package func stepCount(tokenCount: Int) -> Int {
        if let steps { return steps }
        let batch = max(1, min(batchSize, tokenCount))
        let steps = (epochs * Double(tokenCount) / Double(batch)).rounded(.up)
        // Non-finite or absurd epochs are refused by `validate`; never trap converting them here.
        return steps.isFinite && steps < 1e15 ? max(1, Int(steps)) : Int(1e15)
    }

    /// Checks the settings against the data.
    ///
    /// - Throws: `AutoInterpError.invalidInput` naming the setting and the allowed range.
    package func validate(inputWidth dIn: Int, tokenCount: Int) throws {
        func fail(_ problem: String) -> AutoInterpError { .invalidInput("train-sae: \(problem)") }
        guard dIn > 0 else { throw fail("input width must be positive, got \(dIn)") }
        guard tokenCount > 0 else { throw fail("no training tokens (is the mask all zeros?)") }
        guard featureCount(inputWidth: dIn) > 0 else {
            throw fail("d_sae must be positive (set \(Setting.expansion) or \(Setting.dSAE) to at least 1)")
        }
        guard batchSize > 0 else { throw fail("batch size must be positive, got \(batchSize)") }
        guard epochs.isFinite, epochs <= 1e6 else { throw fail("epochs must be a finite number up to 1e6, got \(epochs)") }
        guard decoderInitNorm.isFinite else { throw fail("decoder init norm must be finite, got \(decoderInitNorm)") }
        try checkMemory(inputWidth: dIn)
        if let steps, steps <= 0 { throw fail("steps must be positive, got \(steps)") }
        guard epochs > 0 else { throw fail("epochs must be positive, got \(epochs)") }
        guard l1Coefficient >= 0, l1Coefficient.isFinite else { throw fail("l1 coefficient must be ≥ 0, got \(l1Coefficient)") }
        guard learningRate > 0, learningRate.isFinite else { throw fail("learning rate must be > 0, got \(learningRate)") }
        guard (0..<1).contains(adamBeta1), (0..<1).contains(adamBeta2) else {
            throw fail("Adam betas must lie in [0, 1), got \(adamBeta1), \(adamBeta2)")
        }
        guard (0...1).contains(l1WarmupFraction), (0...1).contains(learningRateDecayFraction), (0...1).contains(resampleStopFraction)
        else { throw fail("warm-up, decay and resample-stop fractions must lie in [0, 1]") }
        if let resampleEvery, resampleEvery <= 0 { throw fail("resample interval must be positive, got \(resampleEvery)") }
        if let gradientClipNorm, gradientClipNorm <= 0 { throw fail("gradient clip norm must be positive, got \(gradientClipNorm)") }
        if let initialDensity, !(initialDensity > 0 && initialDensity <= 1) {
            throw fail("initial density must lie in (0, 1], got \(initialDensity)")
        }
        guard decoderInitNorm > 0 else { throw fail("decoder init norm must be positive, got \(decoderInitNorm)") }
    }
}
