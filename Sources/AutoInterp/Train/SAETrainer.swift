import COpenBLAS
import Foundation
import Logging

/// Trains a standard ReLU sparse autoencoder on activations held in memory, on the CPU.
///
/// Model: `z = (x - b_dec) W_enc + b_enc`, `f = ReLU(z)`, `x̂ = f W_dec + b_dec`; loss
/// `mean_t ‖x - x̂‖² + λ Σ_i f_i ‖W_dec[i]‖`. Adam, λ warm-up, linear learning-rate decay at the
/// end, global gradient-norm clipping, `b_dec` initialised from the data (geometric median by
/// default), decoder rows initialised as random directions of norm `decoderInitNorm` with the
/// encoder as their transpose (Anthropic, April 2024 update), and each encoder bias set so its
/// feature fires on `initialDensity` of a first batch, so training is sparse (and cheap) from
/// the first step. Inputs are rescaled by one constant to mean norm `sqrt(d_in)`; the scale is
/// folded into the exported weights (`currentSAE()`), which therefore act on raw activations.
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
public final class SAETrainer {
    public let config: SAETrainingConfig
    public let dIn: Int
    public let dSAE: Int
    /// Training tokens (rows of the input).
    public let tokenCount: Int
    /// Tokens per step.
    public let batchSize: Int
    public let totalSteps: Int
    /// Constant the raw inputs are multiplied by in training (folded into saved weights).
    public private(set) var inputScale: Float = 1
    /// Steps taken so far.
    public private(set) var stepsTaken = 0

    private let data: [Float]
    private let logger: Logger
    private var random: TrainingRandom
    private var order: [Int32]
    private var cursor = 0

    // MARK: Parameters (normalised space); the encoder is kept as rows, `[d_sae, d_in]`.

    let encoder: FloatBuffer
    let encoderBias: FloatBuffer
    let decoder: FloatBuffer
    let decoderBias: FloatBuffer
    private let gradEncoder: FloatBuffer
    private let gradEncoderBias: FloatBuffer
    private let gradDecoder: FloatBuffer
    private let gradDecoderBias: FloatBuffer
    private let adam: [AdamState]

    // MARK: Batch workspace

    private let shifted: FloatBuffer  // S = c·x - b_dec, [B, d_in]
    private let features: FloatBuffer  // F, [B, d_sae]
    private let residual: FloatBuffer  // G = 2/B (x̂ - x), [B, d_in]
    private let inputGrad: FloatBuffer  // dL/dS, [B, d_in]
    private var denseGrad: FloatBuffer?  // dL/dZ, [B, d_sae], only for dense steps
    private let ones: FloatBuffer
    private let norms: FloatBuffer
    private let featureSums: FloatBuffer
    private let rowCounts: Int32Buffer
    private let rowStart: Int32Buffer
    private let entryFeature = Int32Buffer(0)
    private var entryValues: FloatBuffer
    private var entryGrads: FloatBuffer
    private let columnStart: Int32Buffer
    private let columnEntries = Int32Buffer(0)
    private var lastFired: [Int]

    private var resampledTotal = 0
    private var resampleEvents = 0
    private var denseSteps = 0
    private var phaseSeconds: [String: Double] = [:]
    private static let chunkCount = 8

    /// Prepares a trainer for `data`, raw activations `[tokens, dIn]` row-major (already shuffled or not).
    ///
    /// Initialises the input scale, `b_dec` and the weights from `config.seed`.
    /// - Throws: `AutoInterpError.invalidInput` for bad settings or data not a whole number of rows.
    public init(config: SAETrainingConfig, data: [Float], inputWidth dIn: Int, logger: Logger = Logger(label: "autointerp.train")) throws {
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
        adam = [
            AdamState(dSAE * dIn), AdamState(dSAE), AdamState(dSAE * dIn), AdamState(dIn),
        ]
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

    // MARK: - Initialisation

    private func initialiseScaleAndBias() {
        let sample = Array(order.prefix(16_384))
        if config.normalizeInput {
            var total = 0.0
            data.withUnsafeBufferPointer { x in
                for row in sample {
                    total += Double(cblas_snrm2(Int32(dIn), x.baseAddress! + Int(row) * dIn, 1))
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

    private func initialiseWeights() {
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
    private func initialiseEncoderBias(density: Double) {
        gatherBatch()
        cursor = 0
        let batch = batchSize
        cblas_sgemm(
            CblasRowMajor, CblasNoTrans, CblasTrans, Int32(batch), Int32(dSAE), Int32(dIn),
            1, shifted.pointer, Int32(dIn), encoder.pointer, Int32(dIn), 0, features.pointer, Int32(dSAE))
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

    // MARK: - Training

    /// Runs the remaining steps, calling `progress` every `progressEvery` steps and on the last.
    @discardableResult
    public func train(progressEvery: Int = 10, progress: ((SAETrainingProgress) -> Void)? = nil) -> SAETrainingSummary {
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
    public func silentFraction(steps: Int) -> Double {
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
    public func step() -> SAETrainingProgress {
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

    // MARK: - Forward

    /// Copies the next batch into `shifted` as `c·x - b_dec`, reshuffling at the end of an epoch.
    private func gatherBatch() {
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
    private func encodeBatch() -> Int {
        let batch = batchSize
        cblas_sgemm(
            CblasRowMajor, CblasNoTrans, CblasTrans, Int32(batch), Int32(dSAE), Int32(dIn),
            1, shifted.pointer, Int32(dIn), encoder.pointer, Int32(dIn), 0, features.pointer, Int32(dSAE))
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

    private func computeDecoderNorms() {
        let (dIn, d) = (dIn, SharedPointer(decoder.pointer))
        let n = SharedPointer(norms.pointer)
        Parallel.chunks(dSAE, parts: Self.chunkCount) { range, _ in
            for i in range { n[i] = cblas_snrm2(Int32(dIn), d.base + i * dIn, 1) }
        }
    }

    /// `Σ_t ‖S_t - mean(S)‖²` for the batch (the variance the reconstruction has to explain).
    private func batchVariance() -> Double {
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

    // MARK: - Backward, dense

    /// Backward pass with dense products; fills the gradients and `featureSums`. Returns (Σ‖err‖², Σ f·n).
    private func denseBackward(lambda: Float) -> (Double, Double) {
        let batch = batchSize
        let (dIn, dSAE) = (dIn, dSAE)
        if denseGrad == nil { denseGrad = FloatBuffer(batch * dSAE) }
        let dZ = denseGrad!
        // x̂ - b_dec = F D, then the residual G = 2/B (F D - S).
        cblas_sgemm(
            CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(batch), Int32(dIn), Int32(dSAE),
            1, features.pointer, Int32(dSAE), decoder.pointer, Int32(dIn), 0, residual.pointer, Int32(dIn))
        var errorParts = [Double](repeating: 0, count: Self.chunkCount)
        var l1Parts = [Double](repeating: 0, count: Self.chunkCount)
        let r = SharedPointer(residual.pointer)
        let s = SharedPointer(shifted.pointer)
        let f = SharedPointer(features.pointer)
        let n = SharedPointer(norms.pointer)
        let g = SharedPointer(dZ.pointer)
        let twoOverB = 2 / Float(batch)
        let penalty = lambda / Float(batch)
        errorParts.withUnsafeMutableBufferPointer { errorBuffer in
            l1Parts.withUnsafeMutableBufferPointer { l1Buffer in
                let errors = SharedPointer(errorBuffer.baseAddress!)
                let l1s = SharedPointer(l1Buffer.baseAddress!)
                Parallel.chunks(batch, parts: Self.chunkCount) { range, chunk in
                    var error = 0.0
                    var l1 = 0.0
                    for t in range {
                        let row = r.base + t * dIn
                        let input = s.base + t * dIn
                        var rowError: Float = 0
                        for k in 0..<dIn {
                            let d = row[k] - input[k]
                            rowError += d * d
                            row[k] = d * twoOverB
                        }
                        error += Double(rowError)
                        l1 += Double(cblas_sdot(Int32(dSAE), f.base + t * dSAE, 1, n.base, 1))
                    }
                    errors[chunk] = error
                    l1s[chunk] = l1
                }
            }
        }
        // dD = Fᵀ G; dF = G Dᵀ; dZ = (dF + λ/B n) ⊙ [f > 0]; dE = dZᵀ S; dS = dZ E.
        cblas_sgemm(
            CblasRowMajor, CblasTrans, CblasNoTrans, Int32(dSAE), Int32(dIn), Int32(batch),
            1, features.pointer, Int32(dSAE), residual.pointer, Int32(dIn), 0, gradDecoder.pointer, Int32(dIn))
        cblas_sgemm(
            CblasRowMajor, CblasNoTrans, CblasTrans, Int32(batch), Int32(dSAE), Int32(dIn),
            1, residual.pointer, Int32(dIn), decoder.pointer, Int32(dIn), 0, dZ.pointer, Int32(dSAE))
        Parallel.chunks(batch, parts: Self.chunkCount) { range, _ in
            for t in range {
                let grad = g.base + t * dSAE
                let act = f.base + t * dSAE
                for i in 0..<dSAE { grad[i] = act[i] > 0 ? grad[i] + penalty * n[i] : 0 }
            }
        }
        cblas_sgemm(
            CblasRowMajor, CblasTrans, CblasNoTrans, Int32(dSAE), Int32(dIn), Int32(batch),
            1, dZ.pointer, Int32(dSAE), shifted.pointer, Int32(dIn), 0, gradEncoder.pointer, Int32(dIn))
        cblas_sgemm(
            CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(batch), Int32(dIn), Int32(dSAE),
            1, dZ.pointer, Int32(dSAE), encoder.pointer, Int32(dIn), 0, inputGrad.pointer, Int32(dIn))
        cblas_sgemv(
            CblasRowMajor, CblasTrans, Int32(batch), Int32(dSAE), 1, dZ.pointer, Int32(dSAE), ones.pointer, 1, 0,
            gradEncoderBias.pointer, 1)
        cblas_sgemv(
            CblasRowMajor, CblasTrans, Int32(batch), Int32(dSAE), 1, features.pointer, Int32(dSAE), ones.pointer, 1, 0,
            featureSums.pointer, 1)
        accumulateDecoderBiasGradient()
        return (errorParts.reduce(0, +), l1Parts.reduce(0, +))
    }

    /// `db_dec = Σ_t (G_t - dS_t)`: the bias enters the output directly and the input with a minus sign.
    private func accumulateDecoderBiasGradient() {
        let b = gradDecoderBias.pointer
        b.update(repeating: 0, count: dIn)
        for t in 0..<batchSize {
            let g = residual.pointer + t * dIn
            let s = inputGrad.pointer + t * dIn
            for k in 0..<dIn { b[k] += g[k] - s[k] }
        }
    }

    // MARK: - Backward, sparse

    /// Backward pass with sparse row operations (CSR by token, then CSC by feature).
    private func sparseBackward(nonZero: Int, lambda: Float) -> (Double, Double) {
        let batch = batchSize
        let (dIn, dSAE) = (dIn, dSAE)
        // CSR of F: rowStart, entryFeature, entryValues.
        rowStart.pointer[0] = 0
        for t in 0..<batch { rowStart.pointer[t + 1] = rowStart.pointer[t] + rowCounts.pointer[t] }
        entryFeature.reserve(nonZero)
        columnEntries.reserve(nonZero)
        if entryValues.count < nonZero {
            entryValues = FloatBuffer(nonZero * 3 / 2)
            entryGrads = FloatBuffer(nonZero * 3 / 2)
        }
        let starts = SharedPointer(rowStart.pointer)
        let cols = SharedPointer(entryFeature.pointer)
        let vals = SharedPointer(entryValues.pointer)
        let dz = SharedPointer(entryGrads.pointer)
        let f = SharedPointer(features.pointer)
        let s = SharedPointer(shifted.pointer)
        let r = SharedPointer(residual.pointer)
        let ds = SharedPointer(inputGrad.pointer)
        let d = SharedPointer(decoder.pointer)
        let e = SharedPointer(encoder.pointer)
        let n = SharedPointer(norms.pointer)
        let twoOverB = 2 / Float(batch)
        let penalty = lambda / Float(batch)
        var errorParts = [Double](repeating: 0, count: Self.chunkCount)
        var l1Parts = [Double](repeating: 0, count: Self.chunkCount)
        errorParts.withUnsafeMutableBufferPointer { errorBuffer in
            l1Parts.withUnsafeMutableBufferPointer { l1Buffer in
                let errors = SharedPointer(errorBuffer.baseAddress!)
                let l1s = SharedPointer(l1Buffer.baseAddress!)
                Parallel.chunks(batch, parts: Self.chunkCount) { range, chunk in
                    var error = 0.0
                    var l1 = 0.0
                    for t in range {
                        // Entries of row t.
                        var entry = Int(starts[t])
                        let row = f.base + t * dSAE
                        for i in 0..<dSAE where row[i] > 0 {
                            cols[entry] = Int32(i)
                            vals[entry] = row[i]
                            entry += 1
                        }
                        let lower = Int(starts[t])
                        let upper = Int(starts[t + 1])
                        // Residual G_t = 2/B (Σ f D_i - S_t).
                        let out = r.base + t * dIn
                        let input = s.base + t * dIn
                        for k in 0..<dIn { out[k] = -input[k] }
                        for j in lower..<upper {
                            let i = Int(cols[j])
                            cblas_saxpy(Int32(dIn), vals[j], d.base + i * dIn, 1, out, 1)
                            l1 += Double(vals[j] * n[i])
                        }
                        error += Double(cblas_sdot(Int32(dIn), out, 1, out, 1))
                        cblas_sscal(Int32(dIn), twoOverB, out, 1)
                        // dz = G_t · D_i + λ/B n_i; dS_t = Σ dz E_i.
                        let inGrad = ds.base + t * dIn
                        inGrad.update(repeating: 0, count: dIn)
                        for j in lower..<upper {
                            let i = Int(cols[j])
                            let grad = cblas_sdot(Int32(dIn), out, 1, d.base + i * dIn, 1) + penalty * n[i]
                            dz[j] = grad
                            cblas_saxpy(Int32(dIn), grad, e.base + i * dIn, 1, inGrad, 1)
                        }
                    }
                    errors[chunk] = error
                    l1s[chunk] = l1
                }
            }
        }
        // CSC: for each feature, its entries in token order.
        let columns = columnStart.pointer
        columns.update(repeating: 0, count: dSAE + 1)
        for j in 0..<nonZero { columns[Int(cols[j]) + 1] += 1 }
        for i in 0..<dSAE { columns[i + 1] += columns[i] }
        var fill = [Int32](repeating: 0, count: dSAE)
        for j in 0..<nonZero {
            let i = Int(cols[j])
            columnEntries.pointer[Int(columns[i] + fill[i])] = Int32(j)
            fill[i] += 1
        }
        // Token of each entry, via the CSR row starts.
        var entryToken = [Int32](repeating: 0, count: nonZero)
        for t in 0..<batch {
            for j in Int(rowStart.pointer[t])..<Int(rowStart.pointer[t + 1]) { entryToken[j] = Int32(t) }
        }
        let colStarts = SharedPointer(columns)
        let colEntries = SharedPointer(columnEntries.pointer)
        let gd = SharedPointer(gradDecoder.pointer)
        let ge = SharedPointer(gradEncoder.pointer)
        let gb = SharedPointer(gradEncoderBias.pointer)
        let sums = SharedPointer(featureSums.pointer)
        entryToken.withUnsafeMutableBufferPointer { tokensBuffer in
            let tokens = SharedPointer(tokensBuffer.baseAddress!)
            Parallel.chunks(dSAE, parts: Self.chunkCount) { range, _ in
                for i in range {
                    let decoderRow = gd.base + i * dIn
                    let encoderRow = ge.base + i * dIn
                    decoderRow.update(repeating: 0, count: dIn)
                    encoderRow.update(repeating: 0, count: dIn)
                    var biasGrad: Float = 0
                    var sum: Float = 0
                    for c in Int(colStarts[i])..<Int(colStarts[i + 1]) {
                        let j = Int(colEntries[c])
                        let t = Int(tokens[j])
                        cblas_saxpy(Int32(dIn), vals[j], r.base + t * dIn, 1, decoderRow, 1)
                        cblas_saxpy(Int32(dIn), dz[j], s.base + t * dIn, 1, encoderRow, 1)
                        biasGrad += dz[j]
                        sum += vals[j]
                    }
                    gb[i] = biasGrad
                    sums[i] = sum
                }
            }
        }
        accumulateDecoderBiasGradient()
        return (errorParts.reduce(0, +), l1Parts.reduce(0, +))
    }

    // MARK: - Update

    /// Adds the gradient of `λ/B Σ_t f_ti ‖D_i‖` with respect to `D_i`: `(λ/B Σ_t f_ti) D_i / ‖D_i‖`.
    private func addDecoderNormGradient(lambda: Float) {
        let penalty = lambda / Float(batchSize)
        let dIn = dIn
        let (d, gd, n, sums) = (
            SharedPointer(decoder.pointer), SharedPointer(gradDecoder.pointer), SharedPointer(norms.pointer),
            SharedPointer(featureSums.pointer)
        )
        Parallel.chunks(dSAE, parts: Self.chunkCount) { range, _ in
            for i in range where sums[i] > 0 && n[i] > 0 {
                cblas_saxpy(Int32(dIn), penalty * sums[i] / n[i], d.base + i * dIn, 1, gd.base + i * dIn, 1)
            }
        }
    }

    private var parameterPairs: [(FloatBuffer, FloatBuffer)] {
        [(encoder, gradEncoder), (encoderBias, gradEncoderBias), (decoder, gradDecoder), (decoderBias, gradDecoderBias)]
    }

    private func clipGradients() {
        guard let limit = config.gradientClipNorm else { return }
        var squared = 0.0
        for (_, grad) in parameterPairs {
            var parts = [Double](repeating: 0, count: Self.chunkCount)
            let g = SharedPointer(grad.pointer)
            parts.withUnsafeMutableBufferPointer { buffer in
                let p = SharedPointer(buffer.baseAddress!)
                Parallel.chunks(grad.count, parts: Self.chunkCount) { range, chunk in
                    let value = cblas_sdot(Int32(range.count), g.base + range.lowerBound, 1, g.base + range.lowerBound, 1)
                    p[chunk] = Double(value)
                }
            }
            squared += parts.reduce(0, +)
        }
        let norm = squared.squareRoot()
        guard norm > Double(limit) else { return }
        let scale = Float(Double(limit) / norm)
        for (_, grad) in parameterPairs { cblas_sscal(Int32(grad.count), scale, grad.pointer, 1) }
    }

    private func applyAdam(rate: Float, step: Int) {
        let (beta1, beta2, epsilon) = (config.adamBeta1, config.adamBeta2, config.adamEpsilon)
        let correction1 = 1 - Float(Foundation.pow(Double(beta1), Double(step)))
        let correction2 = 1 - Float(Foundation.pow(Double(beta2), Double(step)))
        let stepSize = rate / correction1
        let rootCorrection2 = correction2.squareRoot()
        for (index, (parameter, grad)) in parameterPairs.enumerated() {
            let state = adam[index]
            let (p, g, m, v) = (
                SharedPointer(parameter.pointer), SharedPointer(grad.pointer), SharedPointer(state.first.pointer),
                SharedPointer(state.second.pointer)
            )
            Parallel.chunks(parameter.count, parts: Self.chunkCount) { range, _ in
                for k in range {
                    let gradient = g[k]
                    let first = beta1 * m[k] + (1 - beta1) * gradient
                    let second = beta2 * v[k] + (1 - beta2) * gradient * gradient
                    m[k] = first
                    v[k] = second
                    p[k] -= stepSize * first / (second.squareRoot() / rootCorrection2 + epsilon)
                }
            }
        }
    }

    // MARK: - Resampling

    /// Resamples features that have not fired in the last `window` steps; returns how many.
    @discardableResult
    private func resampleDeadFeatures(window: Int) -> Int {
        let dead = (0..<dSAE).filter { lastFired[$0] < stepsTaken - window }
        guard !dead.isEmpty else { return 0 }
        let live = (0..<dSAE).filter { lastFired[$0] >= stepsTaken - window }
        let dIn = dIn
        func meanNorm(_ buffer: FloatBuffer, fallback: Float) -> Float {
            guard !live.isEmpty else { return fallback }
            let total = live.reduce(Float(0)) { $0 + cblas_snrm2(Int32(dIn), buffer.pointer + $1 * dIn, 1) }
            return total / Float(live.count)
        }
        let encoderNorm = meanNorm(encoder, fallback: config.decoderInitNorm)
        let decoderNorm = meanNorm(decoder, fallback: config.decoderInitNorm)
        // Probability ∝ (per-token loss)²; the residual holds 2/B (x̂ - x), so ‖G_t‖⁴ is proportional.
        var cumulative = [Double](repeating: 0, count: batchSize)
        var total = 0.0
        for t in 0..<batchSize {
            let g = residual.pointer + t * dIn
            let loss = Double(cblas_sdot(Int32(dIn), g, 1, g, 1))
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
            let length = max(cblas_snrm2(Int32(dIn), input, 1), 1e-12)
            let d = decoder.pointer + i * dIn
            let e = encoder.pointer + i * dIn
            for k in 0..<dIn {
                let unit = input[k] / length
                d[k] = unit * decoderNorm
                e[k] = unit * encoderNorm * 0.2
            }
            encoderBias[i] = 0
            for (state, offset, width) in [(adam[0], i * dIn, dIn), (adam[2], i * dIn, dIn), (adam[1], i, 1)] {
                state.first.pointer.advanced(by: offset).update(repeating: 0, count: width)
                state.second.pointer.advanced(by: offset).update(repeating: 0, count: width)
            }
            lastFired[i] = stepsTaken - 1
        }
        resampledTotal += dead.count
        resampleEvents += 1
        logger.debug("resampled \(dead.count) dead features at step \(stepsTaken)")
        return dead.count
    }

    /// Loss and gradients on the next batch, without updating anything (for gradient checks).
    func lossAndGradients(lambda: Float, dense: Bool) -> (loss: Double, gradients: [[Float]]) {
        let saved = cursor
        gatherBatch()
        cursor = saved
        let nonZero = encodeBatch()
        computeDecoderNorms()
        let (squaredError, l1Sum) = dense ? denseBackward(lambda: lambda) : sparseBackward(nonZero: nonZero, lambda: lambda)
        addDecoderNormGradient(lambda: lambda)
        let loss = (squaredError + Double(lambda) * l1Sum) / Double(batchSize)
        return (loss, [gradEncoder.array, gradEncoderBias.array, gradDecoder.array, gradDecoderBias.array])
    }

    /// The parameter buffers in the order `lossAndGradients` returns their gradients.
    var parameterBuffers: [FloatBuffer] { [encoder, encoderBias, decoder, decoderBias] }

    /// Makes `indices` unable to fire (zero encoder row, very negative bias); for testing resampling.
    func silenceFeatures(_ indices: [Int]) {
        for i in indices {
            (encoder.pointer + i * dIn).update(repeating: 0, count: dIn)
            encoderBias[i] = -1e4
            for (state, offset, width) in [(adam[0], i * dIn, dIn), (adam[1], i, 1)] {
                state.first.pointer.advanced(by: offset).update(repeating: 0, count: width)
                state.second.pointer.advanced(by: offset).update(repeating: 0, count: width)
            }
        }
    }

    // MARK: - Export

    /// The current weights as an SAE on raw activations (the input scale folded in).
    public func currentSAE() -> TrainedSAE {
        let scale = inputScale
        var wEnc = [Float](repeating: 0, count: dIn * dSAE)
        for i in 0..<dSAE {
            let row = encoder.pointer + i * dIn
            for k in 0..<dIn { wEnc[k * dSAE + i] = row[k] * scale }
        }
        let wDec = decoder.array.map { $0 / scale }
        let bDec = decoderBias.array.map { $0 / scale }
        // Sizes are consistent by construction.
        return try! TrainedSAE(dIn: dIn, dSAE: dSAE, wEnc: wEnc, bEnc: encoderBias.array, wDec: wDec, bDec: bDec)
    }
}

/// Adam's first and second moment buffers for one parameter tensor.
final class AdamState: @unchecked Sendable {
    let first: FloatBuffer
    let second: FloatBuffer
    init(_ count: Int) {
        first = FloatBuffer(count)
        second = FloatBuffer(count)
    }
}
