import Foundation

/// Metrics of one training step, reported to the progress callback.
public struct SAETrainingProgress: Sendable, Codable, Equatable {
    /// 1-based index of the step just taken.
    public var step: Int
    public var totalSteps: Int
    public var tokensSeen: Int
    /// `mse + λ_now · l1` on the batch, in the trainer's (normalised) space.
    public var loss: Double
    /// Mean over the batch of `‖x - x̂‖²`, normalised space.
    public var meanSquaredError: Double
    /// Mean over the batch of `Σ_i f_i ‖W_dec[i]‖`.
    public var l1: Double
    /// λ in force this step (after warm-up).
    public var l1Coefficient: Double
    public var learningRate: Double
    /// Fraction of the batch's variance explained.
    public var fractionOfVarianceExplained: Double
    public var meanL0: Double
    /// Share of features that have not fired within the resampling window (or since the start).
    public var deadFraction: Double
    /// Features resampled so far.
    public var resampledFeatures: Int
    public var elapsedSeconds: Double
    public var tokensPerSecond: Double
}

/// What a training run did, written to `training.json`.
public struct SAETrainingSummary: Sendable, Codable, Equatable {
    public var steps: Int
    public var tokensSeen: Int
    public var trainingTokens: Int
    public var seconds: Double
    public var tokensPerSecond: Double
    /// Constant the inputs were multiplied by during training (1 when normalisation is off); folded into the saved weights.
    public var inputScale: Double
    /// Loss of the first step and the mean loss of the last 5 % of steps.
    public var initialLoss: Double
    public var finalLoss: Double
    /// The last step's metrics.
    public var last: SAETrainingProgress?
    public var resampledFeatures: Int
    public var resampleEvents: Int
    /// Steps whose backward pass used dense matrix products (activations not yet sparse).
    public var denseSteps: Int
    /// Wall time per phase of the steps so far: encode, backward_dense, backward_sparse, update, resample.
    public var phaseSeconds: [String: Double]
    /// Share of features that fired on none of the tokens of the last epoch's worth of steps (the
    /// dead fraction over the whole training set size, not just the held-out slice).
    public var silentFractionLastEpoch: Double
    public var resampling: String
}

/// Everything `training.json` holds: settings, run summary and the held-out evaluation.
public struct SAETrainingReport: Sendable, Codable, Equatable {
    public var config: SAETrainingConfig
    public var dIn: Int
    public var dSAE: Int
    public var summary: SAETrainingSummary
    public var evaluation: SAEEvaluation?
    public var source: [String: String]

    public init(config: SAETrainingConfig, dIn: Int, dSAE: Int, summary: SAETrainingSummary, evaluation: SAEEvaluation?, source: [String: String] = [:]) {
        self.config = config
        self.dIn = dIn
        self.dSAE = dSAE
        self.summary = summary
        self.evaluation = evaluation
        self.source = source
    }
}
