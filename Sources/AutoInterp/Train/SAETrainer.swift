import Foundation
package import Logging

/// Trains a standard ReLU sparse autoencoder on activations held in memory, on the CPU.
///
/// Model: `z = (x - b_dec) W_enc + b_enc`, `f = ReLU(z)`, `x̂ = f W_dec + b_dec`; loss
/// `mean_t ‖x - x̂‖² + λ Σ_i f_i ‖W_dec[i]‖`. Adam, λ warm-up, linear learning-rate decay at the
/// end, global gradient-norm clipping, `b_dec` initialised from the data (geometric median by
/// default), decoder rows initialised as random directions of norm `decoderInitNorm` with the
/// encoder as their transpose (Anthropic, April 2024 update), and each encoder bias set so its
/// feature fires on `initialDensity` of a first batch, so training is sparse (and cheap) from
/// the first step. Inputs are rescaled by one constant to mean norm `sqrt(d_in)`; the scale is
/// folded into the exported weights (`currentSAE()`, a `SparseAutoencoder`), which therefore act on raw activations.
///
/// Dead features are resampled as in Bricken et al. 2023 ("Towards Monosemanticity"): every
/// `resampleEvery` steps, features that did not fire during those steps get the direction of a
/// batch input drawn with probability proportional to the square of its loss; the decoder row
/// is set to that (centred, unit) direction times the mean live decoder norm, the encoder row to
/// it times 0.2 × the mean live encoder norm, the encoder bias to 0, and their Adam state is reset.
///
/// Matrix work goes through OpenBLAS: the encoder is always a dense `sgemm`; the rest of the
/// forward and backward passes use dense `sgemm` while many activations are non-zero and
/// switch to sparse row operations once the share of non-zero activations falls below
/// `denseThreshold`. Results depend only on the seed (and the BLAS build).
///
/// The step is spread over files by concern: `+Initialisation` (scale, `b_dec`, weights),
/// `+Forward` (batch, encoder), `+Backward` (dense and sparse gradients), `+Adam` (clipping and
/// the update) and `+Resampling` (dead features).
package final class SAETrainer {
    package let config: SAETrainingConfig
    package let dIn: Int
    package let dSAE: Int
    /// Training tokens (rows of the input).
    package let tokenCount: Int
    /// Tokens per step.
    package let batchSize: Int
    package let totalSteps: Int
    /// Constant the raw inputs are multiplied by in training (folded into saved weights).
    package internal(set) var inputScale: Float = 1
    /// Steps taken so far.
    package private(set) var stepsTaken = 0

    let data: [Float]
    let logger: Logger?
    var random: TrainingRandom
    var order: [Int32]
    var cursor = 0

    // MARK: - Parameters (normalised space); the encoder is kept as rows, `[d_sae, d_in]`.

    let encoder: FloatBuffer
    let encoderBias: FloatBuffer
    let decoder: FloatBuffer
    let decoderBias: FloatBuffer
    let gradEncoder: FloatBuffer
    let gradEncoderBias: FloatBuffer
    let gradDecoder: FloatBuffer
    let gradDecoderBias: FloatBuffer
    let adam: SAEAdamState

    // MARK: - Batch workspace

    let shifted: FloatBuffer  // S = c·x - b_dec, [B, d_in]
    let features: FloatBuffer  // F, [B, d_sae]
    let residual: FloatBuffer  // G = 2/B (x̂ - x), [B, d_in]
    let inputGrad: FloatBuffer  // dL/dS, [B, d_in]
    var denseGrad: FloatBuffer?  // dL/dZ, [B, d_sae], only for dense steps
    let ones: FloatBuffer
    let norms: FloatBuffer
    let featureSums: FloatBuffer
    let rowCounts: Int32Buffer
    let rowStart: Int32Buffer
    let entryFeature = Int32Buffer(0)
    var entryValues: FloatBuffer
    var entryGrads: FloatBuffer
    let columnStart: Int32Buffer
    let columnEntries = Int32Buffer(0)
    var lastFired: [Int]

    var resampledTotal = 0
    var resampleEvents = 0
    var denseSteps = 0
    var phaseSeconds: [String: Double] = [:]
    static let chunkCount = 8

    /// Prepares a trainer for `data`, raw activations `[tokens, dIn]` row-major (already shuffled or not).
    ///
    /// Initialises the input scale, `b_dec` and the weights from `config.seed`.
    /// - Throws: `AutoInterpError.invalidInput` for bad settings or data not a whole number of rows.
    package init(config: SAETrainingConfig, data: [Float], inputWidth dIn: Int, logger: Logger? = nil) throws {
        guard dIn > 0, data.count % dIn == 0 else {
            throw AutoInterpError.invalidInput("train-sae: \(data.count) values is not a whole number of rows of width \(dIn)")
        }
        let tokens = data.count / dIn
        try config.validate(inputWidth: dIn, tokenCount: tokens)
        if let bad = data.firstIndex(where: { !$0.isFinite }) {
            throw AutoInterpError.invalidInput("train-sae: activation row \(bad / dIn) holds a non-finite value; clean the dataset first")
        }
        self.config = config
        self.dIn = dIn
        self.dSAE = config.featureCount(inputWidth: dIn)
        self.tokenCount = tokens
        self.batchSize = min(config.batchSize, tokens)
        self.totalSteps = config.stepCount(tokenCount: tokens)
        self.data = data
        self.logger = logger
        random = TrainingRandom(seed: config.seed)
        order = (0..<Int32(tokens)).map { $0 }

        encoder = FloatBuffer(dSAE * dIn)
        encoderBias = FloatBuffer(dSAE)
        decoder = FloatBuffer(dSAE * dIn)
        decoderBias = FloatBuffer(dIn)
        gradEncoder = FloatBuffer(dSAE * dIn)
        gradEncoderBias = FloatBuffer(dSAE)
        gradDecoder = FloatBuffer(dSAE * dIn)
        gradDecoderBias = FloatBuffer(dIn)
        adam = SAEAdamState(
            encoder: AdamMoments(dSAE * dIn), encoderBias: AdamMoments(dSAE), decoder: AdamMoments(dSAE * dIn),
            decoderBias: AdamMoments(dIn))
        shifted = FloatBuffer(batchSize * dIn)
        features = FloatBuffer(batchSize * dSAE)
        residual = FloatBuffer(batchSize * dIn)
        inputGrad = FloatBuffer(batchSize * dIn)
        ones = FloatBuffer(batchSize, value: 1)
        norms = FloatBuffer(dSAE)
        featureSums = FloatBuffer(dSAE)
        rowCounts = Int32Buffer(batchSize)
        rowStart = Int32Buffer(batchSize + 1)
        entryValues = FloatBuffer(0)
        entryGrads = FloatBuffer(0)
        columnStart = Int32Buffer(dSAE + 1)
        lastFired = [Int](repeating: -1, count: dSAE)

        order.shuffle(using: &random)
        initialiseScaleAndBias()
        initialiseWeights()
        if let density = config.initialDensity { initialiseEncoderBias(density: density) }
    }

    // MARK: - Training

    /// Runs the remaining steps, calling `progress` every `progressEvery` steps and on the last.
    @discardableResult
    package func train(progressEvery: Int = 10, progress: ((SAETrainingProgress) -> Void)? = nil) -> SAETrainingSummary {
        let start = Date()
        let tokensBefore = stepsTaken * batchSize
        var losses: [Double] = []
        var last: SAETrainingProgress?
        while stepsTaken < totalSteps {
            var report = step()
            losses.append(report.loss)
            let elapsed = Date().timeIntervalSince(start)
            report.elapsedSeconds = elapsed
            report.tokensPerSecond = elapsed > 0 ? Double(report.tokensSeen - tokensBefore) / elapsed : 0
            last = report
            if let progress, stepsTaken % max(1, progressEvery) == 0 || stepsTaken == totalSteps || stepsTaken == 1 {
                progress(report)
            }
        }
        let seconds = Date().timeIntervalSince(start)
        let tail = losses.suffix(max(1, losses.count / 20))
        return SAETrainingSummary(
            steps: stepsTaken,
            tokensSeen: stepsTaken * batchSize,
            trainingTokens: tokenCount,
            seconds: seconds,
            tokensPerSecond: seconds > 0 ? Double(stepsTaken * batchSize - tokensBefore) / seconds : 0,
            inputScale: Double(inputScale),
            initialLoss: losses.first ?? .nan,
            finalLoss: tail.isEmpty ? .nan : tail.reduce(0, +) / Double(tail.count),
            last: last,
            resampledFeatures: resampledTotal,
            resampleEvents: resampleEvents,
            denseSteps: denseSteps,
            phaseSeconds: phaseSeconds,
            silentFractionLastEpoch: silentFraction(steps: max(1, (tokenCount + batchSize - 1) / batchSize)),
            resampling: config.resampleEvery.map {
                "Bricken et al. 2023: every \($0) steps, features silent for \($0) steps take the direction of a batch input drawn ∝ loss², until \(Int(config.resampleStopFraction * 100)) % of the steps"
            } ?? "off")
    }

    /// Share of features that did not fire during the last `steps` steps (all steps so far if fewer).
    package func silentFraction(steps: Int) -> Double {
        let since = stepsTaken - min(steps, stepsTaken)
        return Double(lastFired.filter { $0 < since }.count) / Double(dSAE)
    }

    /// λ at step `index` (0-based): linear warm-up over the first `l1WarmupFraction` of the steps.
    func l1Coefficient(at index: Int) -> Float {
        let warmup = config.l1WarmupFraction * Double(totalSteps)
        guard warmup >= 1 else { return config.l1Coefficient }
        return config.l1Coefficient * Float(min(1, Double(index + 1) / warmup))
    }

    /// Learning rate at step `index`: constant, then linear decay to 0 over the last `learningRateDecayFraction`.
    func learningRate(at index: Int) -> Float {
        let decaySteps = config.learningRateDecayFraction * Double(totalSteps)
        let decayStart = Double(totalSteps) - decaySteps
        guard decaySteps >= 1, Double(index) >= decayStart else { return config.learningRate }
        return config.learningRate * Float(max(0, (Double(totalSteps) - Double(index)) / decaySteps))
    }

    /// Takes one optimiser step on the next batch and returns its metrics (time fields left 0).
    @discardableResult
    package func step() -> SAETrainingProgress {
        let index = stepsTaken
        let lambda = l1Coefficient(at: index)
        let rate = learningRate(at: index)
        let batch = batchSize
        var clock = ContinuousClock.now
        func lap(_ phase: String) {
            let now = ContinuousClock.now
            let elapsed = now - clock
            phaseSeconds[phase, default: 0] += Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18
            clock = now
        }
        gatherBatch()
        let nonZero = encodeBatch()
        computeDecoderNorms()
        lap("encode")
        let density = Double(nonZero) / Double(batch * dSAE)
        let (squaredError, l1Sum): (Double, Double)
        if density > config.denseThreshold {
            denseSteps += 1
            (squaredError, l1Sum) = denseBackward(lambda: lambda)
            lap("backward_dense")
        } else {
            (squaredError, l1Sum) = sparseBackward(nonZero: nonZero, lambda: lambda)
            lap("backward_sparse")
        }
        addDecoderNormGradient(lambda: lambda)
        for i in 0..<dSAE where featureSums[i] > 0 { lastFired[i] = index }
        clipGradients()
        let variance = batchVariance()
        applyAdam(rate: rate, step: index + 1)
        stepsTaken += 1
        lap("update")

        if let every = config.resampleEvery, stepsTaken % every == 0,
            Double(stepsTaken) < config.resampleStopFraction * Double(totalSteps)
        {
            resampleDeadFeatures(window: every)
            lap("resample")
        }
        let window = config.resampleEvery ?? stepsTaken
        // Resampled features count as live: their last-fired step was reset.
        let silent = lastFired.filter { $0 < stepsTaken - window }.count
        let mse = squaredError / Double(batch)
        let l1 = l1Sum / Double(batch)
        return SAETrainingProgress(
            step: stepsTaken, totalSteps: totalSteps, tokensSeen: stepsTaken * batch,
            loss: mse + Double(lambda) * l1, meanSquaredError: mse, l1: l1, l1Coefficient: Double(lambda),
            learningRate: Double(rate),
            fractionOfVarianceExplained: variance > 0 ? 1 - squaredError / variance : .nan,
            meanL0: Double(nonZero) / Double(batch),
            deadFraction: Double(silent) / Double(dSAE),
            resampledFeatures: resampledTotal, elapsedSeconds: 0, tokensPerSecond: 0)
    }

    // MARK: - Export

    /// The current weights as a standard SAE on raw activations (the input scale folded in), in
    /// SAELens orientation: `ReLU((x - b_dec) W_enc + b_enc)`, `apply_b_dec_to_input`, no normalisation.
    package func currentSAE() -> SparseAutoencoder {
        let scale = inputScale
        var wEnc = [Float](repeating: 0, count: dIn * dSAE)
        for i in 0..<dSAE {
            let row = encoder.pointer + i * dIn
            for k in 0..<dIn { wEnc[k * dSAE + i] = row[k] * scale }
        }
        let wDec = decoder.array.map { $0 / scale }
        let bDec = decoderBias.array.map { $0 / scale }
        return SparseAutoencoder(
            config: SAEConfig(architecture: .standard, dIn: dIn, dSAE: dSAE, applyBDecToInput: true, normalizeActivations: .none),
            encoderWeights: wEnc, encoderBias: encoderBias.array, decoderWeights: wDec, decoderBias: bDec)
    }
}
