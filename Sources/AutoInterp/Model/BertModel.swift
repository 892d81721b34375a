package import Foundation

/// A BERT-family encoder run on the CPU with OpenBLAS, up to the layer whose MLP is read.
///
/// It computes what Hugging Face's `BertModel` computes in evaluation mode, with every token in
/// segment 0 and positions counted from 0. Sequences are packed without padding: padding never
/// changes a real token's result in BERT (it is masked out of attention, and every other step
/// is per token), so skipping it gives the same numbers for less work.
package final class BertModel: Sendable {
    package let config: BertConfig
    /// Layers loaded (`0..<layerCount`); layers past the one read are never needed.
    package let layerCount: Int
    private let weights: BertWeights
    private let activation: BertActivation

    /// A model from a config and a weight source.
    ///
    /// - Parameter layerCount: layers to load, at most `config.numHiddenLayers`; `nil` loads all.
    /// - Throws: `AutoInterpError` if the config is unsupported or a tensor is missing or misshapen.
    package init(config: BertConfig, weights source: some BertWeightSource, layerCount: Int? = nil) throws {
        try config.validate(source: source.sourceDescription)
        let count = layerCount ?? config.numHiddenLayers
        guard (1...config.numHiddenLayers).contains(count) else {
            throw AutoInterpError.invalidInput("BERT model has \(config.numHiddenLayers) layers; cannot load \(count)")
        }
        self.config = config
        self.layerCount = count
        self.activation = BertActivation(config.hiddenAct)!
        self.weights = try BertWeights(config: config, source: source, layerCount: count)
    }

    /// Loads `config.json` and `model.safetensors` from a Hugging Face model folder.
    ///
    /// - Parameter layerCount: layers to load; `nil` loads all.
    /// - Throws: `AutoInterpError` naming the folder or file and what is wrong.
    package static func load(directory: URL, layerCount: Int? = nil) throws -> BertModel {
        let config = try BertConfig.load(directory.appendingPathComponent("config.json"))
        let weightsURL = directory.appendingPathComponent("model.safetensors")
        guard FileManager.default.fileExists(atPath: weightsURL.path) else {
            throw AutoInterpError.invalidFile(
                directory.path, "no model.safetensors; convert the checkpoint to safetensors (pytorch_model.bin is not read)")
        }
        let file = try SafeTensorsFile(url: weightsURL)
        return try BertModel(config: config, weights: file, layerCount: layerCount)
    }

    // MARK: - Forward

    /// The MLP activations of layer `layer` (after the non-linearity, before the output dense),
    /// `[total tokens, intermediate_size]` row-major, sequences one after another.
    ///
    /// - Parameters:
    ///   - sequences: token ids per sequence, no padding; each at most `max_position_embeddings` long.
    ///   - layer: 0-based, as in `encoder.layer[layer]`; must be below `layerCount`.
    ///   - parallel: split the element-wise work across cores; pass false when the caller already
    ///     runs one call per core.
    /// - Throws: `AutoInterpError.invalidInput` for a bad layer, length or token id.
    package func intermediateActivations(_ sequences: [[Int32]], layer: Int, parallel: Bool = true) throws -> [Float] {
        guard (0..<layerCount).contains(layer) else {
            throw AutoInterpError.invalidInput("layer \(layer) is out of range: this model has layers 0...\(layerCount - 1) loaded")
        }
        try check(sequences)
        let n = sequences.reduce(0) { $0 + $1.count }
        if n == 0 { return [] }
        var hidden = embed(sequences, rows: n)
        for l in 0...layer {
            let w = weights.layers[l]
            let attended = attentionBlock(hidden, sequences: sequences, rows: n, weights: w)
            var inner = linear(
                attended, rows: n, inputs: config.hiddenSize, weight: w.intermediateWeight, bias: w.intermediateBias,
                outputs: config.intermediateSize)
            applyActivation(&inner, parallel: parallel)
            if l == layer { return inner }
            hidden = outputBlock(inner, attended: attended, rows: n, weights: w)
        }
        preconditionFailure("unreachable")
    }

    /// The last layer's output (`last_hidden_state` of Hugging Face's `BertModel`), `[total tokens,
    /// hidden_size]` row-major, sequences one after another: what a sentence-embedding model pools.
    ///
    /// - Throws: `AutoInterpError.invalidInput` when fewer than all layers are loaded, or for a bad length or token id.
    package func lastHiddenState(_ sequences: [[Int32]], parallel: Bool = true) throws -> [Float] {
        guard layerCount == config.numHiddenLayers else {
            throw AutoInterpError.invalidInput("the last hidden state needs all \(config.numHiddenLayers) layers; \(layerCount) are loaded")
        }
        try check(sequences)
        let n = sequences.reduce(0) { $0 + $1.count }
        if n == 0 { return [] }
        var hidden = embed(sequences, rows: n)
        for w in weights.layers {
            let attended = attentionBlock(hidden, sequences: sequences, rows: n, weights: w)
            var inner = linear(
                attended, rows: n, inputs: config.hiddenSize, weight: w.intermediateWeight, bias: w.intermediateBias,
                outputs: config.intermediateSize)
            applyActivation(&inner, parallel: parallel)
            hidden = outputBlock(inner, attended: attended, rows: n, weights: w)
        }
        return hidden
    }

    /// Refuses a sequence longer than the positions or a token id outside the vocabulary.
    private func check(_ sequences: [[Int32]]) throws {
        for sequence in sequences {
            guard sequence.count <= config.maxPositionEmbeddings else {
                throw AutoInterpError.invalidInput("a sequence of \(sequence.count) tokens is longer than the model's \(config.maxPositionEmbeddings) positions")
            }
            for id in sequence where id < 0 || Int(id) >= config.vocabSize {
                throw AutoInterpError.invalidInput("token id \(id) is outside the model's vocabulary of \(config.vocabSize)")
            }
        }
    }

    /// The MLP's output dense, residual, LayerNorm: the layer's output.
    private func outputBlock(_ inner: [Float], attended: [Float], rows n: Int, weights w: BertWeights.Layer) -> [Float] {
        var out = linear(
            inner, rows: n, inputs: config.intermediateSize, weight: w.outputWeight, bias: w.outputBias, outputs: config.hiddenSize,
            residual: attended)
        layerNorm(&out, rows: n, weight: w.outputNormWeight, bias: w.outputNormBias)
        return out
    }

    // MARK: - Blocks

    /// Word + position + segment-0 embeddings, then LayerNorm.
    private func embed(_ sequences: [[Int32]], rows n: Int) -> [Float] {
        let h = config.hiddenSize
        var x = [Float](repeating: 0, count: n * h)
        x.withUnsafeMutableBufferPointer { out in
            weights.wordEmbeddings.withUnsafeBufferPointer { word in
                weights.positionEmbeddings.withUnsafeBufferPointer { position in
                    weights.tokenTypeEmbedding.withUnsafeBufferPointer { type in
                        var row = 0
                        for sequence in sequences {
                            for (t, id) in sequence.enumerated() {
                                let o = row * h
                                let wo = Int(id) * h
                                let po = t * h
                                for k in 0..<h {
                                    out[o + k] = word[wo + k] + position[po + k] + type[k]
                                }
                                row += 1
                            }
                        }
                    }
                }
            }
        }
        layerNorm(&x, rows: n, weight: weights.embeddingNormWeight, bias: weights.embeddingNormBias)
        return x
    }

    /// Self-attention over each sequence, output dense, residual, LayerNorm.
    private func attentionBlock(_ x: [Float], sequences: [[Int32]], rows n: Int, weights w: BertWeights.Layer) -> [Float] {
        let h = config.hiddenSize
        let heads = config.numAttentionHeads
        let d = config.headSize
        let qkv = linear(x, rows: n, inputs: h, weight: w.qkvWeight, bias: w.qkvBias, outputs: 3 * h)
        var context = [Float](repeating: 0, count: n * h)
        let longest = sequences.map(\.count).max() ?? 0
        var scores = [Float](repeating: 0, count: longest * longest)
        let scale = 1 / Float(d).squareRoot()
        qkv.withUnsafeBufferPointer { qkv in
            context.withUnsafeMutableBufferPointer { context in
                scores.withUnsafeMutableBufferPointer { scores in
                    let base = qkv.baseAddress!
                    let s = scores.baseAddress!
                    var start = 0
                    for sequence in sequences {
                        let len = sequence.count
                        defer { start += len }
                        if len == 0 { continue }
                        for head in 0..<heads {
                            let q = base + start * 3 * h + head * d
                            let k = q + h
                            let v = q + 2 * h
                            // scores = scale * Q K^T, [len, len]
                            BLAS.gemm(.none, .transposed, m: len, n: len, k: d, alpha: scale, a: q, lda: 3 * h, b: k, ldb: 3 * h, c: s, ldc: len)
                            for r in 0..<len {
                                softmax(s + r * len, count: len)
                            }
                            // context[:, head] = P V
                            BLAS.gemm(
                                .none, .none, m: len, n: d, k: len, a: s, lda: len, b: v, ldb: 3 * h,
                                c: context.baseAddress! + start * h + head * d, ldc: h)
                        }
                    }
                }
            }
        }
        var out = linear(context, rows: n, inputs: h, weight: w.attentionOutputWeight, bias: w.attentionOutputBias, outputs: h, residual: x)
        layerNorm(&out, rows: n, weight: w.attentionNormWeight, bias: w.attentionNormBias)
        return out
    }

    // MARK: - Kernels

    /// `x W^T + b (+ residual)` for a PyTorch `[outputs, inputs]` weight.
    private func linear(
        _ x: [Float], rows n: Int, inputs: Int, weight: [Float], bias: [Float], outputs: Int, residual: [Float]? = nil
    ) -> [Float] {
        var y = [Float](unsafeUninitializedCapacity: n * outputs) { buffer, count in
            bias.withUnsafeBufferPointer { b in
                for r in 0..<n {
                    (buffer.baseAddress! + r * outputs).update(from: b.baseAddress!, count: outputs)
                }
            }
            count = n * outputs
        }
        if let residual {
            y.withUnsafeMutableBufferPointer { y in
                residual.withUnsafeBufferPointer { r in
                    for i in 0..<(n * outputs) { y[i] += r[i] }
                }
            }
        }
        x.withUnsafeBufferPointer { x in
            weight.withUnsafeBufferPointer { w in
                y.withUnsafeMutableBufferPointer { y in
                    BLAS.gemm(
                        .none, .transposed, m: n, n: outputs, k: inputs, a: x.baseAddress!, lda: inputs, b: w.baseAddress!, ldb: inputs,
                        beta: 1, c: y.baseAddress!, ldc: outputs)
                }
            }
        }
        return y
    }

    /// LayerNorm over each row of width `hidden_size` (biased variance, `layer_norm_eps`).
    private func layerNorm(_ x: inout [Float], rows n: Int, weight: [Float], bias: [Float]) {
        let h = config.hiddenSize
        let eps = config.layerNormEps
        x.withUnsafeMutableBufferPointer { x in
            weight.withUnsafeBufferPointer { g in
                bias.withUnsafeBufferPointer { b in
                    for r in 0..<n {
                        let row = x.baseAddress! + r * h
                        var sum: Float = 0
                        for k in 0..<h { sum += row[k] }
                        let mean = sum / Float(h)
                        var squares: Float = 0
                        for k in 0..<h {
                            let c = row[k] - mean
                            squares += c * c
                        }
                        let inv = 1 / (squares / Float(h) + eps).squareRoot()
                        for k in 0..<h {
                            row[k] = (row[k] - mean) * inv * g[k] + b[k]
                        }
                    }
                }
            }
        }
    }

    /// In-place softmax of `count` values.
    private func softmax(_ p: UnsafeMutablePointer<Float>, count: Int) {
        var top = -Float.infinity
        for i in 0..<count { top = max(top, p[i]) }
        var sum: Float = 0
        for i in 0..<count {
            let e = expf(p[i] - top)
            p[i] = e
            sum += e
        }
        let inv = 1 / sum
        for i in 0..<count { p[i] *= inv }
    }

    /// The MLP non-linearity, in place, split across cores.
    private func applyActivation(_ x: inout [Float], parallel: Bool) {
        let count = x.count
        let activation = self.activation
        let chunks = parallel ? max(1, min(ProcessInfo.processInfo.activeProcessorCount, count / 65_536)) : 1
        x.withUnsafeMutableBufferPointer { buffer in
            let x = buffer.baseAddress!
            Parallel.chunks(count, parts: chunks) { range, _ in
                let (lo, hi) = (range.lowerBound, range.upperBound)
                switch activation {
                case .gelu:
                    GELU.apply(x + lo, count: hi - lo)
                case .geluTanh:
                    for i in lo..<hi {
                        let v = x[i]
                        x[i] = 0.5 * v * (1 + tanhf(0.79788456080286536 * (v + 0.044715 * v * v * v)))
                    }
                case .relu:
                    for i in lo..<hi { x[i] = max(0, x[i]) }
                }
            }
        }
    }
}
