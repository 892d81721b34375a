import Foundation

/// The nearest units of each studied unit, for its hard negatives (``SelectionConfig/hardNegatives``).
///
/// - Features: cosine similarity of SAE decoder rows (`W_dec`), each studied feature against every
///   feature, as delphi's "neighbour" negatives. The products go through ``BLAS/gemm`` in blocks
///   of ``studiedBlock`` studied rows × ``candidateBlock`` candidate rows, so the work memory is
///   fixed (a few MiB) whatever `d_sae`, and only the top `k` per studied unit are kept.
/// - Neurons: the dataset holds no output weights, so the neighbours are the neurons that fire
///   (> 0) together with it most often over a sample of tokens (Jaccard index of the firing sets),
///   the co-firing counts being one indicator product through ``BLAS/gemm``.
///
/// Ties go to the lower index; a unit is never its own neighbour; a zero decoder row or a unit
/// that never fires in the sample has none.
package enum UnitNeighbours {
    /// Studied rows per product block.
    static let studiedBlock = 512
    /// Candidate rows per product block.
    static let candidateBlock = 2048
    /// Tokens of the neurons' co-firing sample (spread evenly over the dataset's contexts).
    package static let coFiringTokens = 8192

    /// A bounded best-first list of (score, index), highest score first, ties by lower index.
    struct TopK {
        let k: Int
        var items: [(score: Float, index: Int)] = []

        mutating func offer(_ score: Float, _ index: Int) {
            guard k > 0 else { return }
            if items.count == k {
                guard let last = items.last, score > last.score || (score == last.score && index < last.index) else { return }
                items.removeLast()
            }
            let at = items.firstIndex { score > $0.score || (score == $0.score && index < $0.index) } ?? items.count
            items.insert((score, index), at: at)
        }
    }

    /// The `k` rows of `count` most cosine-similar to each studied row.
    ///
    /// - Parameters:
    ///   - studied: row indices (into `0..<count`) whose neighbours are wanted.
    ///   - rows: writes rows `range` (each `dimension` floats) into the buffer.
    /// - Returns: per studied row, in order, its neighbours' indices, most similar first.
    package static func byCosine(
        studied: [Int], count: Int, dimension: Int, k: Int, studiedBlock: Int = studiedBlock, candidateBlock: Int = candidateBlock,
        rows: (Range<Int>, UnsafeMutablePointer<Float>) throws -> Void
    ) throws -> [[Int]] {
        let studiedBlock = max(1, studiedBlock)
        let candidateBlock = max(1, candidateBlock)
        guard !studied.isEmpty, count > 0, dimension > 0, k > 0 else { return studied.map { _ in [] } }
        var tops = studied.map { _ in TopK(k: k) }
        var mine = [Float](repeating: 0, count: min(studied.count, studiedBlock) * dimension)
        var theirs = [Float](repeating: 0, count: min(count, candidateBlock) * dimension)
        var products = [Float](repeating: 0, count: min(studied.count, studiedBlock) * min(count, candidateBlock))
        for s0 in stride(from: 0, to: studied.count, by: studiedBlock) {
            let group = Array(studied[s0..<min(s0 + studiedBlock, studied.count)])
            try mine.withUnsafeMutableBufferPointer { a in
                for (i, row) in group.enumerated() { try rows(row..<(row + 1), a.baseAddress! + i * dimension) }
                normalise(a.baseAddress!, rows: group.count, dimension: dimension)
            }
            for c0 in stride(from: 0, to: count, by: candidateBlock) {
                let candidates = c0..<min(c0 + candidateBlock, count)
                try theirs.withUnsafeMutableBufferPointer { b in
                    try rows(candidates, b.baseAddress!)
                    normalise(b.baseAddress!, rows: candidates.count, dimension: dimension)
                }
                mine.withUnsafeBufferPointer { a in
                    theirs.withUnsafeBufferPointer { b in
                        products.withUnsafeMutableBufferPointer { c in
                            BLAS.gemm(
                                .none, .transposed, m: group.count, n: candidates.count, k: dimension, a: a.baseAddress!, lda: dimension,
                                b: b.baseAddress!, ldb: dimension, c: c.baseAddress!, ldc: candidates.count)
                        }
                    }
                }
                for (i, row) in group.enumerated() {
                    for (j, candidate) in candidates.enumerated() where candidate != row {
                        let score = products[i * candidates.count + j]
                        if score.isFinite, score != 0 { tops[s0 + i].offer(score, candidate) }
                    }
                }
            }
        }
        return tops.map { $0.items.map(\.index) }
    }

    /// Scales each row to unit length (a zero row stays zero).
    static func normalise(_ values: UnsafeMutablePointer<Float>, rows: Int, dimension: Int) {
        for r in 0..<rows {
            let row = values + r * dimension
            let norm = BLAS.nrm2(row, count: dimension)
            if norm > 0, norm.isFinite { BLAS.scal(1 / norm, row, count: dimension) } else { row.update(repeating: 0, count: dimension) }
        }
    }

    /// The `k` neurons firing together with each studied neuron most often (Jaccard index of the
    /// sets of tokens where each is > 0) over `sample`, `tokens × width` activations, row-major.
    package static func byCoFiring(
        studied: [Int], sample: [Float], tokens: Int, width: Int, k: Int, studiedBlock: Int = studiedBlock
    ) -> [[Int]] {
        let studiedBlock = max(1, studiedBlock)
        guard !studied.isEmpty, tokens > 0, width > 0, k > 0, sample.count == tokens * width else { return studied.map { _ in [] } }
        let firing = sample.map { $0 > 0 ? Float(1) : 0 }
        var counts = [Float](repeating: 0, count: width)
        for t in 0..<tokens {
            for j in 0..<width { counts[j] += firing[t * width + j] }
        }
        var tops = studied.map { _ in TopK(k: k) }
        var mine = [Float](repeating: 0, count: tokens * min(studied.count, studiedBlock))
        var together = [Float](repeating: 0, count: min(studied.count, studiedBlock) * width)
        for s0 in stride(from: 0, to: studied.count, by: studiedBlock) {
            let group = Array(studied[s0..<min(s0 + studiedBlock, studied.count)])
            for t in 0..<tokens {
                for (i, neuron) in group.enumerated() { mine[t * group.count + i] = firing[t * width + neuron] }
            }
            // together[i, j] = Σ_t mine[t, i] · firing[t, j]
            mine.withUnsafeBufferPointer { a in
                firing.withUnsafeBufferPointer { b in
                    together.withUnsafeMutableBufferPointer { c in
                        BLAS.gemm(
                            .transposed, .none, m: group.count, n: width, k: tokens, a: a.baseAddress!, lda: group.count,
                            b: b.baseAddress!, ldb: width, c: c.baseAddress!, ldc: width)
                    }
                }
            }
            for (i, neuron) in group.enumerated() {
                for j in 0..<width where j != neuron {
                    let both = together[i * width + j]
                    guard both > 0 else { continue }
                    tops[s0 + i].offer(both / (counts[neuron] + counts[j] - both), j)
                }
            }
        }
        return tops.map { $0.items.map(\.index) }
    }

    /// `tokens` of `dataset`'s dense activations from contexts spread evenly over it, row-major
    /// (`tokens × width`), and how many tokens that is.
    package static func coFiringSample(
        _ dataset: ActivationDataset, tokens wanted: Int = coFiringTokens
    ) throws -> (values: [Float], tokens: Int) {
        let length = max(dataset.contextLength, 1)
        let contexts = min(dataset.contextCount, max(1, wanted / length))
        guard contexts > 0, dataset.width > 0 else { return ([], 0) }
        let (size, overflow) = (contexts * length).multipliedReportingOverflow(by: dataset.width)
        guard !overflow else { throw AutoInterpError.invalidInput("\(dataset.url.path): the co-firing sample is too large") }
        var values = [Float](repeating: 0, count: size)
        try values.withUnsafeMutableBufferPointer { buffer in
            for i in 0..<contexts {
                let context = i * dataset.contextCount / contexts
                try dataset.readActivations(contexts: context..<(context + 1), into: buffer.baseAddress! + i * length * dataset.width)
            }
        }
        return (values, contexts * length)
    }
}

extension UnitNeighbours {
    /// Each studied feature's nearest features by decoder cosine; `sae` must hold its decoder.
    package static func features(
        _ features: [Int], sae: SparseAutoencoder, k: Int = SelectionConfig.hardNeighbours
    ) throws -> [UnitRef: [UnitRef]] {
        guard sae.hasDecoder else {
            throw AutoInterpError.invalidInput("hard negatives need the SAE's decoder (W_dec), which was not read")
        }
        let dimension = sae.dIn
        let found = try sae.decoderWeights.withUnsafeBufferPointer { w in
            try byCosine(studied: features, count: sae.dSAE, dimension: dimension, k: k) { range, into in
                into.update(from: w.baseAddress! + range.lowerBound * dimension, count: range.count * dimension)
            }
        }
        return Dictionary(uniqueKeysWithValues: zip(features, found).map { (UnitRef(.feature, $0), $1.map { UnitRef(.feature, $0) }) })
    }

    /// Each studied feature's nearest features by decoder cosine, the rows of an SAELens folder's
    /// `W_dec` (`sae_weights.safetensors`) read block by block from the mapped file, each block's
    /// pages handed back after use: memory stays at one block whatever `d_sae`. Nil when the
    /// folder's `W_dec` is not stored `[d_sae, d_in]` in a float dtype (then read the decoder).
    static func features(
        _ features: [Int], saeLensFolder folder: URL, dSAE: Int, dIn: Int, k: Int = SelectionConfig.hardNeighbours
    ) throws -> [UnitRef: [UnitRef]]? {
        let url = folder.appendingPathComponent(SAELensWriter.weightsFileName)
        guard FileManager.default.fileExists(atPath: url.path) else { return nil }
        let file = try SafeTensorsFile(url: url)
        guard file.contains("W_dec"), let info = try? file.info("W_dec"), info.shape == [dSAE, dIn], info.dtype.isConvertibleFloat else {
            return nil
        }
        let found = try byCosine(studied: features, count: dSAE, dimension: dIn, k: k) { range, into in
            let elements = (range.lowerBound * dIn)..<(range.upperBound * dIn)
            try file.copyFloats(info, elements: elements, into: into)
            file.releasePages(info, elements: elements)
        }
        return Dictionary(uniqueKeysWithValues: zip(features, found).map { (UnitRef(.feature, $0), $1.map { UnitRef(.feature, $0) }) })
    }

    /// Each studied neuron's most co-firing neurons over an even sample of `dataset`; for a neuron
    /// studied on its negative side (`negative`), the neurons firing below 0 together with it most
    /// often (co-firing of the negated sample), as negative-side units.
    package static func neurons(
        _ neurons: [Int], negative: [Int] = [], dataset: ActivationDataset, k: Int = SelectionConfig.hardNeighbours
    ) throws -> [UnitRef: [UnitRef]] {
        guard !(neurons.isEmpty && negative.isEmpty) else { return [:] }
        var sample = try coFiringSample(dataset)
        var result: [UnitRef: [UnitRef]] = [:]
        for (kind, studied) in [(UnitKind.neuron, neurons), (.negativeNeuron, negative)] where !studied.isEmpty {
            if kind == .negativeNeuron {
                for i in sample.values.indices { sample.values[i] = 0 - sample.values[i] }
            }
            let found = byCoFiring(studied: studied, sample: sample.values, tokens: sample.tokens, width: dataset.width, k: k)
            for (neuron, near) in zip(studied, found) { result[UnitRef(kind, neuron)] = near.map { UnitRef(kind, $0) } }
        }
        return result
    }

    /// Each studied feature's most co-firing features in a latent cache (`--latents` has no
    /// decoder): the same Jaccard index as for neurons, over ``coFiringTokens`` tokens of
    /// contexts spread evenly over the dataset, kept sparse (each token's firing features), so
    /// memory is the sample's non-zeros and one context's `d_sae × context_len` read buffer,
    /// whatever `d_sae`.
    package static func latents(
        _ features: [Int], cache: LatentCache, dataset: ActivationDataset, k: Int = SelectionConfig.hardNeighbours
    ) throws -> [UnitRef: [UnitRef]] {
        guard !features.isEmpty else { return [:] }
        let width = cache.featureCount
        let length = max(dataset.contextLength, 1)
        let contexts = min(dataset.contextCount, max(1, coFiringTokens / length))
        let slots = (0..<width).map { Int32($0) }
        var firing: [[Int]] = []  // per sampled token, the columns > 0
        firing.reserveCapacity(contexts * length)
        var one = [Float](repeating: 0, count: width * length)  // feature-major, one context
        for i in 0..<contexts {
            let context = i * dataset.contextCount / contexts
            try one.withUnsafeMutableBufferPointer { buffer in
                buffer.update(repeating: 0)
                try cache.read(
                    contexts: context..<(context + 1), contextLength: dataset.contextLength, contextCount: dataset.contextCount,
                    slots: slots, into: buffer.baseAddress!, rowStride: length)
            }
            var tokens = [[Int]](repeating: [], count: length)
            for c in 0..<width {
                for p in 0..<length where one[c * length + p] > 0 { tokens[p].append(c) }
            }
            firing += tokens
        }
        let columns = features.map { cache.column(of: $0) ?? 0 }
        let found = byCoFiring(studied: columns, firing: firing, width: width, k: k)
        let ids = cache.featureIDs
        return Dictionary(
            uniqueKeysWithValues: zip(features, found).map { feature, near in
                (UnitRef(.feature, feature), near.map { UnitRef(.feature, ids?[$0] ?? $0) })
            })
    }

    /// ``byCoFiring(studied:sample:tokens:width:k:studiedBlock:)`` from a sparse sample: for each
    /// token, the units (`0..<width`) that fire on it. Same Jaccard index, same ties.
    package static func byCoFiring(studied: [Int], firing: [[Int]], width: Int, k: Int) -> [[Int]] {
        guard !studied.isEmpty, width > 0, k > 0 else { return studied.map { _ in [] } }
        var counts = [Int](repeating: 0, count: width)
        for token in firing { for j in token { counts[j] += 1 } }
        var positions: [Int: [Int]] = [:]
        for (i, unit) in studied.enumerated() { positions[unit, default: []].append(i) }
        var together = [[Int: Int]](repeating: [:], count: studied.count)
        for token in firing {
            for s in token {
                guard let mine = positions[s] else { continue }
                for i in mine {
                    for j in token where j != s { together[i][j, default: 0] += 1 }
                }
            }
        }
        return studied.indices.map { i in
            var top = TopK(k: k)
            for (j, both) in together[i] {
                top.offer(Float(both) / Float(counts[studied[i]] + counts[j] - both), j)
            }
            return top.items.map(\.index)
        }
    }
}
