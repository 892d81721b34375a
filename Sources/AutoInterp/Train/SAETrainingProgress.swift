import Foundation

/// Metrics of one training step, reported to the progress callback.
package struct SAETrainingProgress: Sendable, Codable, Equatable {
    /// 1-based index of the step just taken.
    package var step: Int
    package var totalSteps: Int
    package var tokensSeen: Int
    /// `mse + λ_now · l1` on the batch, in the trainer's (normalised) space.
    package var loss: Double
    /// Mean over the batch of `‖x - x̂‖²`, normalised space.
    package var meanSquaredError: Double
    /// Mean over the batch of `Σ_i f_i ‖W_dec[i]‖`.
    package var l1: Double
    /// λ in force this step (after warm-up).
    package var l1Coefficient: Double
    package var learningRate: Double
    /// Fraction of the batch's variance explained.
    package var fractionOfVarianceExplained: Double
    package var meanL0: Double
    /// Share of features that have not fired within the resampling window (or since the start).
    package var deadFraction: Double
    /// Features resampled so far.
    package var resampledFeatures: Int
    package var elapsedSeconds: Double
    package var tokensPerSecond: Double
}

/// What a training run did, written to `training.json`.
package struct SAETrainingSummary: Sendable, Codable, Equatable {
    package var steps: Int
    package var tokensSeen: Int
    package var trainingTokens: Int
    package var seconds: Double
    package var tokensPerSecond: Double
    /// Constant the inputs were multiplied by during training (1 when normalisation is off); folded into the saved weights.
    package var inputScale: Double
    /// Loss of the first step and the mean loss of the last 5 % of steps.
    package var initialLoss: Double
    package var finalLoss: Double
    /// The last step's metrics.
    package var last: SAETrainingProgress?
    package var resampledFeatures: Int
    package var resampleEvents: Int
    /// Steps whose backward pass used dense matrix products (activations not yet sparse).
    package var denseSteps: Int
    /// Wall time per phase of the steps so far: encode, backward_dense, backward_sparse, update, resample.
    package var phaseSeconds: [String: Double]
    /// Share of features that fired on none of the tokens of the last epoch's worth of steps (the
    /// dead fraction over the whole training set size, not just the held-out slice).
    package var silentFractionLastEpoch: Double
    package var resampling: String
}

/// Everything `training.json` holds: settings, run summary and the held-out evaluation.
package struct SAETrainingReport: Sendable, Codable, Equatable {
    package var config: SAETrainingConfig
    package var dIn: Int
    package var dSAE: Int
    package var summary: SAETrainingSummary
    package var evaluation: SAEEvaluation?
    package var source: [String: String]

    package init(config: SAETrainingConfig, dIn: Int, dSAE: Int, summary: SAETrainingSummary, evaluation: SAEEvaluation?, source: [String: String] = [:]) {
        self.config = config
        self.dIn = dIn
        self.dSAE = dSAE
        self.summary = summary
        self.evaluation = evaluation
        self.source = source
    }
}
