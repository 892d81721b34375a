import Foundation

/// Encodes dense layer activations into SAE feature activations on the CPU.
///
/// One `BLAS.gemm` (sgemm) per token batch computes the pre-activations; a single pass over its output
/// then adds the bias, applies the activation function and (for sparse output) extracts the
/// non-zeros, split across cores. Buffers are allocated once and reused for every batch.
/// Not thread-safe: use one encoder per thread.
public final class SAEEncoder {
    public let sae: SparseAutoencoder
    /// Largest number of tokens one `encode` call takes.
    public let batchSize: Int
    /// Feature indices this encoder produces, in output column order (all features by default).
    public let features: [Int]

    private let weights: [Float]  // [d_in, outputs]
    private let bias: [Float]
    private let threshold: [Float]?
    private let decoderNorms: [Float]?
    private let gateBias: [Float]?
    private let magnitudeScale: [Float]?
    private let magnitudeBias: [Float]?
    private let input: HugePageBuffer
    private let preActivations: HugePageBuffer
    private var blocks: [SparseRows]
    private let threads: Int

    /// Wall time of the encoder's steps summed over calls: `prepare` (normalisation, `- b_dec`),
    /// `sgemm`, `activate` (bias, activation, non-zero extraction).
    public private(set) var times = PhaseTimes()

    /// Number of output columns (`features.count`).
    public var outputWidth: Int { features.count }

    /// Prepares an encoder.
    ///
    /// - Parameters:
    ///   - sae: the autoencoder.
    ///   - batchSize: maximum tokens per call (4096 keeps sgemm efficient and memory modest).
    ///   - features: only compute these features (not for `topk`, whose choice depends on all of them).
    public init(sae: SparseAutoencoder, batchSize: Int = 4096, features: [Int]? = nil, threads: Int? = nil) throws {
        self.sae = sae
        self.batchSize = batchSize
        let dSAE = sae.dSAE
        let loaded = sae.featureIndices
        if let features {
            guard sae.config.architecture != .topk else {
                throw AutoInterpError.unsupported("a topk SAE cannot encode a subset of features; encode all and pick columns")
            }
            if let bad = features.first(where: { $0 < 0 || $0 >= dSAE }) {
                throw AutoInterpError.invalidInput("feature \(bad) is out of range: the SAE has \(dSAE) features (0-\(dSAE - 1))")
            }
        }
        let chosen = features ?? loaded ?? Array(0..<dSAE)
        self.features = chosen
        // Columns of the loaded tensors that hold `chosen`.
        let columns: [Int]
        if let loaded {
            let position = Dictionary(loaded.enumerated().map { ($1, $0) }, uniquingKeysWith: { first, _ in first })
            if let missing = chosen.first(where: { position[$0] == nil }) {
                throw AutoInterpError.invalidInput(
                    "feature \(missing) was not loaded: this SAE holds only the \(loaded.count) features it was read for (read it with SAEReadScope.features including \(missing))")
            }
            columns = chosen.map { position[$0]! }
        } else {
            columns = chosen
        }
        let width = sae.loadedFeatureCount
        if columns == Array(0..<width) {
            weights = sae.encoderWeights
        } else {
            var w = [Float](repeating: 0, count: sae.dIn * columns.count)
            for r in 0..<sae.dIn {
                for (c, f) in columns.enumerated() { w[r * columns.count + c] = sae.encoderWeights[r * width + f] }
            }
            weights = w
        }
        bias = columns.map { sae.encoderBias[$0] }
        threshold = sae.threshold.map { t in columns.map { t[$0] } }
        decoderNorms = sae.config.rescaleActsByDecoderNorm && sae.config.architecture == .topk ? sae.decoderNorms() : nil
        gateBias = sae.gateBias.map { g in columns.map { g[$0] } }
        magnitudeScale = sae.magnitudeLogScale.map { r in columns.map { Float(exp(Double(r[$0]))) } }
        magnitudeBias = sae.magnitudeBias.map { b in columns.map { b[$0] } }
        input = HugePageBuffer(count: batchSize * sae.dIn)
        preActivations = HugePageBuffer(count: batchSize * chosen.count)
        self.threads = max(1, threads ?? ProcessInfo.processInfo.activeProcessorCount)
        blocks = Array(repeating: SparseRows(), count: self.threads)
    }

    // MARK: - Encoding

    /// Encodes `tokens` rows of `x` (`[tokens, d_in]`, row-major) into dense activations `[tokens, outputWidth]`.
    public func encodeDense(_ x: UnsafePointer<Float>, tokens: Int, into output: UnsafeMutablePointer<Float>) {
        let width = outputWidth
        computePreActivations(x, tokens: tokens)
        let start = DispatchTime.now().uptimeNanoseconds
        defer { times.add("activate", Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9) }
        let z = UnsafePointer(preActivations.pointer)
        parallelRows(tokens) { rows, _ in
            for row in rows {
                self.activate(row: z + row * width) { j, v in output[row * width + j] = v } zero: { j in
                    output[row * width + j] = 0
                }
            }
        }
    }

    /// Encodes `tokens` rows of `x` and appends the non-zero activations, row by row, to `sparse`.
    ///
    /// Column indices are positions in `features` (feature indices when encoding all features).
    public func encodeSparse(_ x: UnsafePointer<Float>, tokens: Int, appendingTo sparse: inout SparseRows) {
        let width = outputWidth
        computePreActivations(x, tokens: tokens)
        let start = DispatchTime.now().uptimeNanoseconds
        defer { times.add("activate", Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9) }
        for i in blocks.indices { blocks[i].removeAll() }
        let z = UnsafePointer(preActivations.pointer)
        blocks.withUnsafeMutableBufferPointer { blocks in
            parallelRows(tokens) { rows, part in
                var block = SparseRows()
                swap(&block, &blocks[part])
                for row in rows {
                    self.activate(row: z + row * width) { j, v in
                        block.indices.append(Int32(j))
                        block.values.append(v)
                    } zero: { _ in }
                    block.indptr.append(Int64(block.indices.count))
                }
                swap(&block, &blocks[part])
            }
        }
        for block in blocks { sparse.append(contentsOf: block) }
    }

    // MARK: - Steps

    /// Preprocesses the batch (normalisation, `- b_dec`) into `input`, then `z = s · W_enc` by sgemm.
    ///
    /// With no normalisation and no `b_dec` shift the batch goes to sgemm as it is, uncopied.
    private func computePreActivations(_ x: UnsafePointer<Float>, tokens: Int) {
        precondition(tokens <= batchSize, "batch of \(tokens) tokens exceeds the encoder's batch size \(batchSize)")
        let dIn = sae.dIn
        let config = sae.config
        let decoderBias = sae.decoderBias
        var clock = DispatchTime.now().uptimeNanoseconds
        func lap(_ name: String) {
            let now = DispatchTime.now().uptimeNanoseconds
            times.add(name, Double(now - clock) / 1e9)
            clock = now
        }
        var s = x
        if config.normalizeActivations != .none || config.applyBDecToInput {
            let prepared = input.pointer
            parallelRows(tokens) { rows, _ in
                for row in rows {
                    let src = x + row * dIn
                    let dst = prepared + row * dIn
                    switch config.normalizeActivations {
                    case .none:
                        for j in 0..<dIn { dst[j] = src[j] }
                    case .constantNormRescale:
                        var sum: Double = 0
                        for j in 0..<dIn { sum += Double(src[j]) * Double(src[j]) }
                        let scale = sum > 0 ? Float((Double(dIn) / sum).squareRoot()) : 1
                        for j in 0..<dIn { dst[j] = src[j] * scale }
                    case .layerNorm:
                        var mean: Double = 0
                        for j in 0..<dIn { mean += Double(src[j]) }
                        mean /= Double(dIn)
                        var variance: Double = 0
                        for j in 0..<dIn { variance += (Double(src[j]) - mean) * (Double(src[j]) - mean) }
                        let std = (variance / Double(max(dIn - 1, 1))).squareRoot()  // torch.std is unbiased
                        let inv = 1 / (std + 1e-5)
                        for j in 0..<dIn { dst[j] = Float((Double(src[j]) - mean) * inv) }
                    }
                    if config.applyBDecToInput {
                        for j in 0..<dIn { dst[j] -= decoderBias[j] }
                    }
                }
            }
            s = UnsafePointer(prepared)
            lap("prepare")
        }
        let n = outputWidth
        weights.withUnsafeBufferPointer { w in
            BLAS.gemm(.none, .none, m: tokens, n: n, k: dIn, a: s, lda: dIn, b: w.baseAddress!, ldb: n, c: preActivations.pointer, ldc: n)
        }
        lap("sgemm")
    }

    /// Applies bias and activation to one row of pre-activations, reporting non-zeros and zeros.
    @inline(__always)
    private func activate(row z: UnsafePointer<Float>, nonZero: (Int, Float) -> Void, zero: (Int) -> Void) {
        let n = outputWidth
        switch sae.config.architecture {
        case .standard:
            bias.withUnsafeBufferPointer { b in
                for j in 0..<n {
                    let v = z[j] + b[j]
                    if v > 0 { nonZero(j, v) } else { zero(j) }
                }
            }
        case .jumprelu:
            let t = threshold!
            bias.withUnsafeBufferPointer { b in
                t.withUnsafeBufferPointer { t in
                    for j in 0..<n {
                        let v = z[j] + b[j]
                        if v > t[j] && v > 0 { nonZero(j, v) } else { zero(j) }
                    }
                }
            }
        case .gated:
            let (gate, scale, magBias) = (gateBias!, magnitudeScale!, magnitudeBias!)
            for j in 0..<n {
                let magnitude = z[j] * scale[j] + magBias[j]
                if z[j] + gate[j] > 0 && magnitude > 0 { nonZero(j, magnitude) } else { zero(j) }
            }
        case .topk:
            activateTopK(row: z, nonZero: nonZero, zero: zero)
        }
    }

    /// Keeps the k largest (optionally decoder-norm-scaled) pre-activations, ReLU'd.
    @inline(__always)
    private func activateTopK(row z: UnsafePointer<Float>, nonZero: (Int, Float) -> Void, zero: (Int) -> Void) {
        let n = outputWidth
        let k = min(sae.config.k ?? n, n)
        // A min-heap of the k best (value, index) seen so far.
        var heapValues = [Float](repeating: -.infinity, count: k)
        var heapIndices = [Int](repeating: -1, count: k)
        func value(_ j: Int) -> Float {
            let v = z[j] + bias[j]
            return decoderNorms.map { v * $0[j] } ?? v
        }
        for j in 0..<n {
            let v = value(j)
            guard v > heapValues[0] else { continue }
            heapValues[0] = v
            heapIndices[0] = j
            var i = 0
            while true {
                let l = 2 * i + 1, r = l + 1
                var smallest = i
                if l < k && heapValues[l] < heapValues[smallest] { smallest = l }
                if r < k && heapValues[r] < heapValues[smallest] { smallest = r }
                if smallest == i { break }
                heapValues.swapAt(i, smallest)
                heapIndices.swapAt(i, smallest)
                i = smallest
            }
        }
        var kept = [Float](repeating: 0, count: n)
        for (v, j) in zip(heapValues, heapIndices) where j >= 0 && v > 0 { kept[j] = v }
        for j in 0..<n {
            if kept[j] > 0 { nonZero(j, kept[j]) } else { zero(j) }
        }
    }

    /// Runs `body` over `rows` split into `threads` contiguous parts, in parallel.
    private func parallelRows(_ rows: Int, _ body: (Range<Int>, Int) -> Void) {
        Parallel.chunks(rows, parts: threads, body)
    }
}
