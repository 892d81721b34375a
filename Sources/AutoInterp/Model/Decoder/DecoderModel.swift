package import Foundation

/// A decoder LM (Llama layout, Gemma 2/3 or GPT-2) run on the CPU through OpenBLAS, returning activations at
/// TransformerLens hook points.
///
/// It computes what `transformers` computes in evaluation mode in F32, one context at a time for
/// attention (causal, positions from 0) and all contexts' tokens together for every per-token step.
/// Only the layers up to the deepest hook asked for are loaded.
package final class DecoderModel: Sendable {
    package let config: DecoderConfig
    /// Layers loaded (`0..<layerCount`).
    package let layerCount: Int
    /// Where the weights came from (folder or GGUF file).
    package let source: String
    let weights: DecoderWeights
    /// RoPE inverse frequencies per loaded layer (Gemma 3's sliding layers have their own base).
    private let inverseFrequencies: [[Float]]

    init(config: DecoderConfig, source: some DecoderTensorSource, layerCount: Int?) throws {
        try config.validate(source: source.sourceDescription)
        let count = layerCount ?? config.layerCount
        guard (1...config.layerCount).contains(count) else {
            throw AutoInterpError.invalidInput(
                "\(source.sourceDescription): the model has \(config.layerCount) layers; cannot load \(count)")
        }
        self.config = config
        self.layerCount = count
        self.source = source.sourceDescription
        weights = try DecoderWeights(config: config, source: source, layerCount: count)
        inverseFrequencies = (0..<count).map { config.inverseFrequencies(layer: $0) }
    }

    /// The width of a hook's activations.
    package func width(of hook: DecoderHook) -> Int { hook.isNeuronSide ? config.intermediateSize : config.hiddenSize }

    // MARK: - Forward

    /// The activations at `hooks` for every token of `contexts`: per hook `[total tokens, width]`
    /// row-major, contexts one after another.
    ///
    /// - Throws: `AutoInterpError.invalidInput` for a hook past the loaded layers, a context longer
    ///   than the model's positions, or a token id outside the vocabulary.
    package func activations(_ contexts: [[Int32]], hooks: [DecoderHook]) throws -> [DecoderHook: [Float]] {
        guard let deepest = hooks.map(\.layer).max() else { return [:] }
        guard deepest < layerCount else {
            throw AutoInterpError.invalidInput(
                "hook blocks.\(deepest) is past this model's \(layerCount) loaded layers (0...\(layerCount - 1))")
        }
        for context in contexts {
            guard context.count <= config.maxPositions else {
                throw AutoInterpError.invalidInput(
                    "a context of \(context.count) tokens is longer than the model's \(config.maxPositions) positions")
            }
            for id in context where id < 0 || Int(id) >= config.vocabSize {
                throw AutoInterpError.invalidInput("token id \(id) is outside the model's vocabulary of \(config.vocabSize)")
            }
        }
        let n = contexts.reduce(0) { $0 + $1.count }
        var out: [DecoderHook: [Float]] = [:]
        if n == 0 {
            for hook in hooks { out[hook] = [] }
            return out
        }
        let wanted = Set(hooks)
        let d = config.hiddenSize
        var x = embed(contexts, rows: n)
        func capture(_ kind: DecoderHook.Kind, _ layer: Int, _ values: [Float]) {
            let hook = DecoderHook(layer: layer, kind: kind)
            if wanted.contains(hook) { out[hook] = values }
        }
        for l in 0...deepest {
            let w = weights.layers[l]
            capture(.residPre, l, x)
            var h = x
            normalize(&h, rows: n, weight: w.norm1Weight, bias: w.norm1Bias)
            var attention = attend(h, contexts: contexts, rows: n, layer: l, weights: w)
            // Gemma: hook_attn_out is what is added to the residual stream, after the post-attention norm (as TransformerLens).
            if !w.postAttentionNorm.isEmpty { normalize(&attention, rows: n, weight: w.postAttentionNorm, bias: []) }
            capture(.attnOut, l, attention)
            add(attention, to: &x)
            capture(.residMid, l, x)
            h = x
            normalize(&h, rows: n, weight: w.norm2Weight, bias: w.norm2Bias)
            let (pre, post) = mlpHidden(h, rows: n, weights: w)
            capture(.mlpPre, l, pre)
            capture(.mlpPost, l, post)
            var mlp = linear(post, rows: n, inputs: config.intermediateSize, weight: w.downWeight, bias: w.downBias, outputs: d)
            if !w.postMLPNorm.isEmpty { normalize(&mlp, rows: n, weight: w.postMLPNorm, bias: []) }
            capture(.mlpOut, l, mlp)
            add(mlp, to: &x)
            capture(.residPost, l, x)
        }
        return out
    }

    // MARK: - Steps

    private func embed(_ contexts: [[Int32]], rows n: Int) -> [Float] {
        let d = config.hiddenSize
        var x = [Float](repeating: 0, count: n * d)
        var row = 0
        for context in contexts {
            for (t, id) in context.enumerated() {
                let e = Int(id) * d
                for k in 0..<d { x[row * d + k] = weights.embedding[e + k] }
                if let scale = config.embeddingScale {
                    for k in 0..<d { x[row * d + k] *= scale }
                }
                if config.family == .gpt2 {
                    for k in 0..<d { x[row * d + k] += weights.positions[t * d + k] }
                }
                row += 1
            }
        }
        return x
    }

    /// RMSNorm (`x / sqrt(mean(x²) + eps) · w`; Gemma's `1 + w` is folded into `w` on load) for Llama and
    /// Gemma, LayerNorm for GPT-2, per row of `width` (default `hidden_size`).
    private func normalize(_ x: inout [Float], rows: Int, weight: [Float], bias: [Float], width: Int? = nil) {
        let d = width ?? config.hiddenSize
        let eps = config.normEpsilon
        x.withUnsafeMutableBufferPointer { x in
            for r in 0..<rows {
                let row = x.baseAddress! + r * d
                if config.family != .gpt2 {
                    var squares: Float = 0
                    for k in 0..<d { squares += row[k] * row[k] }
                    let scale = 1 / (squares / Float(d) + eps).squareRoot()
                    for k in 0..<d { row[k] = weight[k] * (row[k] * scale) }
                } else {
                    var mean: Float = 0
                    for k in 0..<d { mean += row[k] }
                    mean /= Float(d)
                    var variance: Float = 0
                    for k in 0..<d { variance += (row[k] - mean) * (row[k] - mean) }
                    let scale = 1 / (variance / Float(d) + eps).squareRoot()
                    for k in 0..<d { row[k] = (row[k] - mean) * scale * weight[k] + bias[k] }
                }
            }
        }
    }

    private func add(_ y: [Float], to x: inout [Float]) {
        for i in 0..<x.count { x[i] += y[i] }
    }

    /// `x · Wᵀ + b`, `W` stored `[outputs, inputs]`.
    private func linear(_ x: [Float], rows: Int, inputs: Int, weight: [Float], bias: [Float], outputs: Int) -> [Float] {
        var y = [Float](repeating: 0, count: rows * outputs)
        if !bias.isEmpty {
            for r in 0..<rows { for j in 0..<outputs { y[r * outputs + j] = bias[j] } }
        }
        x.withUnsafeBufferPointer { x in
            weight.withUnsafeBufferPointer { w in
                y.withUnsafeMutableBufferPointer { y in
                    BLAS.gemm(
                        .none, .transposed, m: rows, n: outputs, k: inputs, a: x.baseAddress!, lda: inputs, b: w.baseAddress!, ldb: inputs,
                        beta: bias.isEmpty ? 0 : 1, c: y.baseAddress!, ldc: outputs)
                }
            }
        }
        return y
    }

    /// Causal self-attention (within the layer's sliding window, when it has one) and the output projection.
    private func attend(_ h: [Float], contexts: [[Int32]], rows n: Int, layer: Int, weights w: DecoderWeights.Layer) -> [Float] {
        let hd = config.headDim
        let heads = config.headCount
        let kvHeads = config.kvHeadCount
        let width = (heads + 2 * kvHeads) * hd
        var qkv = linear(h, rows: n, inputs: config.hiddenSize, weight: w.qkvWeight, bias: w.qkvBias, outputs: width)
        if !w.queryNorm.isEmpty {
            // Gemma 3: RMSNorm over each head's q and k (rows of head_dim), before RoPE.
            var heads = [Float](repeating: 0, count: hd)
            for r in 0..<n {
                for head in 0..<(config.headCount + kvHeads) {
                    let base = r * width + head * hd
                    for i in 0..<hd { heads[i] = qkv[base + i] }
                    normalize(&heads, rows: 1, weight: head < config.headCount ? w.queryNorm : w.keyNorm, bias: [], width: hd)
                    for i in 0..<hd { qkv[base + i] = heads[i] }
                }
            }
        }
        if config.family != .gpt2 { rotate(&qkv, contexts: contexts, width: width, frequencies: inverseFrequencies[layer]) }
        let longest = contexts.map(\.count).max() ?? 0
        var scores = [Float](repeating: 0, count: longest * longest)
        var context = [Float](repeating: 0, count: n * heads * hd)
        let scale = config.attentionScale ?? 1 / Float(hd).squareRoot()
        let cap = config.attentionSoftcap
        // Keys at or after `r - window + 1` (HF: kv > q - sliding_window); every earlier one without a window.
        let window = config.window(layer: layer) ?? Int.max
        let group = heads / kvHeads
        qkv.withUnsafeBufferPointer { qkv in
            scores.withUnsafeMutableBufferPointer { s in
                context.withUnsafeMutableBufferPointer { out in
                    var start = 0
                    for ctx in contexts {
                        let len = ctx.count
                        defer { start += len }
                        if len == 0 { continue }
                        for head in 0..<heads {
                            let kvHead = head / group
                            let q = qkv.baseAddress! + start * width + head * hd
                            let k = qkv.baseAddress! + start * width + (heads + kvHead) * hd
                            let v = qkv.baseAddress! + start * width + (heads + kvHeads + kvHead) * hd
                            BLAS.gemm(
                                .none, .transposed, m: len, n: len, k: hd, alpha: scale, a: q, lda: width, b: k, ldb: width,
                                c: s.baseAddress!, ldc: len)
                            for r in 0..<len {
                                let row = s.baseAddress! + r * len
                                // Causal: row r sees columns first...r; the rest get weight 0.
                                let first = window > r ? 0 : r - window + 1
                                if let cap {
                                    for c in first...r { row[c] = tanhf(row[c] / cap) * cap }
                                }
                                var top = -Float.infinity
                                for c in first...r { top = max(top, row[c]) }
                                var sum: Float = 0
                                for c in first...r {
                                    row[c] = expf(row[c] - top)
                                    sum += row[c]
                                }
                                let inverse = 1 / sum
                                for c in first...r { row[c] *= inverse }
                                for c in 0..<first { row[c] = 0 }
                                for c in (r + 1)..<len { row[c] = 0 }
                            }
                            BLAS.gemm(
                                .none, .none, m: len, n: hd, k: len, a: s.baseAddress!, lda: len, b: v, ldb: width,
                                c: out.baseAddress! + start * heads * hd + head * hd, ldc: heads * hd)
                        }
                    }
                }
            }
        }
        return linear(context, rows: n, inputs: heads * hd, weight: w.outputWeight, bias: w.outputBias, outputs: config.hiddenSize)
    }

    /// RoPE in Hugging Face's rotate-half form on the q and k parts of each row.
    private func rotate(_ qkv: inout [Float], contexts: [[Int32]], width: Int, frequencies inverseFrequencies: [Float]) {
        let hd = config.headDim
        let half = hd / 2
        let rotated = config.headCount + config.kvHeadCount
        var cosines = [Float](repeating: 0, count: half)
        var sines = [Float](repeating: 0, count: half)
        var row = 0
        for context in contexts {
            for t in 0..<context.count {
                for i in 0..<half {
                    let angle = Float(t) * inverseFrequencies[i]
                    cosines[i] = cosf(angle)
                    sines[i] = sinf(angle)
                }
                for head in 0..<rotated {
                    let base = row * width + head * hd
                    for i in 0..<half {
                        let a = qkv[base + i]
                        let b = qkv[base + half + i]
                        qkv[base + i] = a * cosines[i] - b * sines[i]
                        qkv[base + half + i] = b * cosines[i] + a * sines[i]
                    }
                }
                row += 1
            }
        }
    }

    /// The MLP's hidden side: (pre-activation, neurons).
    private func mlpHidden(_ h: [Float], rows n: Int, weights w: DecoderWeights.Layer) -> ([Float], [Float]) {
        let inner = config.intermediateSize
        switch config.family {
        case .gpt2:
            let pre = linear(h, rows: n, inputs: config.hiddenSize, weight: w.upWeight, bias: w.upBias, outputs: inner)
            let post = pre.map { x in 0.5 * x * (1 + tanhf(0.797_884_56 * (x + 0.044715 * x * x * x))) }
            return (pre, post)
        case .llama, .gemma:
            let both = linear(h, rows: n, inputs: config.hiddenSize, weight: w.upWeight, bias: w.upBias, outputs: 2 * inner)
            let gelu = config.activation == .geluTanh
            var pre = [Float](repeating: 0, count: n * inner)
            var post = [Float](repeating: 0, count: n * inner)
            for r in 0..<n {
                for j in 0..<inner {
                    let gate = both[r * 2 * inner + j]
                    let up = both[r * 2 * inner + inner + j]
                    pre[r * inner + j] = gate
                    let act = gelu ? 0.5 * gate * (1 + tanhf(0.797_884_56 * (gate + 0.044715 * gate * gate * gate))) : gate / (1 + expf(-gate))
                    post[r * inner + j] = act * up
                }
            }
            return (pre, post)
        }
    }
}
