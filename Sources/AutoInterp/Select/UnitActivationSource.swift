import AutoInterpLLM
import Foundation

/// Produces the activations of a fixed list of units over batches of dataset contexts.
///
/// Neurons are columns of the dataset, negative-side neurons (``UnitKind/negativeNeuron``) the same
/// columns negated, so the selection, which looks for large activations, finds where they fire most
/// negative (and a context is silent for them where the neuron is never below 0); features come
/// from running the SAE encoder on the batch, or from a sparse ``LatentCache`` (`--latents`, no SAE).
/// All go through the same selection code.
package final class UnitActivationSource {
    package let dataset: ActivationDataset
    /// Units in output order: features first, then neurons, then negative-side neurons, each as given.
    package let units: [UnitRef]
    /// Contexts read per batch.
    package let contextsPerBatch: Int
    /// Rows ``read(contexts:into:)`` writes: the studied units and their neighbours not studied.
    package let rowCount: Int
    /// The row of each unit of ``units``.
    package let unitRows: [Int]
    /// Each unit's neighbours (``units`` order) and their rows.
    package let neighbourUnits: [[UnitRef]]
    package let neighbourRows: [[Int]]

    private let neuronColumns: [Int]
    /// The columns of the negative-side neurons (rows after `neuronColumns`'), read negated.
    private let negativeColumns: [Int]
    private let featureCount: Int
    private let encoder: SAEEncoder?
    private let featureColumns: [Int]  // columns of the encoder output to keep
    private var input: [Float]
    private var encoded: [Float]
    private let latents: LatentCache?
    /// For each latent of `latents`, its feature row, or -1.
    private let latentSlots: [Int32]

    /// - Parameters:
    ///   - sae: required when `features` is non-empty and `latents` is nil.
    ///   - latents: a sparse cache the features are read from instead of encoding.
    ///   - tokensPerBatch: about how many tokens to process at once (rounded to whole contexts).
    ///   - neighbours: each studied unit's nearest units (``UnitNeighbours``), read as extra rows
    ///     for its hard negatives; a feature's neighbours are features, a neuron's neurons, a
    ///     negative-side neuron's negative-side neurons.
    ///   - negativeNeurons: neurons studied on their negative side (their columns negated).
    package init(
        dataset: ActivationDataset, sae: SparseAutoencoder?, latents: LatentCache? = nil, features studied: [Int],
        neurons studiedNeurons: [Int], negativeNeurons studiedNegatives: [Int] = [], neighbours: [UnitRef: [UnitRef]] = [:],
        tokensPerBatch: Int = 4096
    ) throws {
        self.dataset = dataset
        // The neighbours not studied themselves are read after the studied units of their kind.
        func extra(_ kind: UnitKind, _ own: [Int]) -> [Int] {
            let ownSet = Set(own)
            let wanted = Set(own.flatMap { neighbours[UnitRef(kind, $0)] ?? [] }.filter { $0.kind == kind }.map(\.index))
            return wanted.subtracting(ownSet).sorted()
        }
        let features = studied + extra(.feature, studied)
        let neurons = studiedNeurons + extra(.neuron, studiedNeurons)
        let negatives = studiedNegatives + extra(.negativeNeuron, studiedNegatives)
        if !(neurons.isEmpty && negatives.isEmpty), !dataset.hasActivations {
            throw AutoInterpError.invalidInput(
                "neurons need dense activations, but \(dataset.url.path) holds only tokens: pass the dataset with \(Setting.activations), or \(Setting.neurons) none")
        }
        if let bad = (neurons + negatives).first(where: { $0 >= dataset.width }) {
            throw AutoInterpError.invalidInput("neuron \(bad) is out of range: \(dataset.url.path) has \(dataset.width) neurons (0-\(dataset.width - 1))")
        }
        if let latents {
            var slots = [Int32](repeating: -1, count: latents.featureCount)
            for (u, feature) in features.enumerated() {
                guard let column = latents.column(of: feature) else {
                    throw AutoInterpError.invalidInput("feature \(feature) is out of range: \(latents.url.path) holds \(latents.featureCount) features")
                }
                slots[column] = Int32(u)
            }
            latentSlots = slots
        } else {
            latentSlots = []
        }
        self.latents = latents
        if !features.isEmpty, latents == nil {
            guard let sae else { throw AutoInterpError.invalidInput("features were requested but no SAE was given (pass \(Setting.sae) DIR)") }
            guard sae.dIn == dataset.width else {
                throw AutoInterpError.shapeMismatch(
                    "the SAE expects d_in = \(sae.dIn) but \(dataset.url.path) has activations of width \(dataset.width) (is it the SAE for this layer?)")
            }
        }
        contextsPerBatch = max(1, tokensPerBatch / max(dataset.contextLength, 1))
        let batchTokens = contextsPerBatch * dataset.contextLength
        neuronColumns = neurons
        negativeColumns = negatives
        featureCount = features.count
        if let sae, !features.isEmpty, latents == nil {
            if sae.config.architecture == .topk {
                encoder = try SAEEncoder(sae: sae, batchSize: batchTokens)
                featureColumns = features
            } else {
                encoder = try SAEEncoder(sae: sae, batchSize: batchTokens, features: features)
                featureColumns = Array(0..<features.count)
            }
            encoded = [Float](repeating: 0, count: batchTokens * encoder!.outputWidth)
        } else {
            encoder = nil
            featureColumns = []
            encoded = []
        }
        units = studied.map { UnitRef(.feature, $0) } + studiedNeurons.map { UnitRef(.neuron, $0) }
            + studiedNegatives.map { UnitRef(.negativeNeuron, $0) }
        rowCount = features.count + neurons.count + negatives.count
        var rowOf: [UnitRef: Int] = [:]
        for (r, feature) in features.enumerated() { rowOf[UnitRef(.feature, feature)] = r }
        for (r, neuron) in neurons.enumerated() { rowOf[UnitRef(.neuron, neuron)] = features.count + r }
        for (r, neuron) in negatives.enumerated() { rowOf[UnitRef(.negativeNeuron, neuron)] = features.count + neurons.count + r }
        unitRows = units.map { rowOf[$0] ?? 0 }
        neighbourUnits = units.map { unit in (neighbours[unit] ?? []).filter { $0.kind == unit.kind && $0 != unit } }
        neighbourRows = neighbourUnits.map { $0.compactMap { rowOf[$0] } }
        // Without neurons or an encoder the dense activations are never read.
        input = neurons.isEmpty && negatives.isEmpty && encoder == nil ? [] : [Float](repeating: 0, count: batchTokens * dataset.width)
    }

    /// Batches covering the whole dataset.
    package var batches: [Range<Int>] {
        stride(from: 0, to: dataset.contextCount, by: contextsPerBatch).map { $0..<min($0 + contextsPerBatch, dataset.contextCount) }
    }

    /// Whether ``readSparse(contexts:)`` serves every row: features only, from a CSR cache (its
    /// non-zeros come in token order), and no unit has hard-negative neighbours.
    package var readsSparse: Bool {
        latents?.layout == .csr && input.isEmpty && neuronColumns.isEmpty && neighbourUnits.allSatisfy(\.isEmpty)
    }

    /// The activations over `contexts` by row (the rows of ``unitRows``), only their non-zeros
    /// (requires ``readsSparse``).
    func readSparse(contexts: Range<Int>) throws -> SparseBatch {
        guard let latents, readsSparse else { throw AutoInterpError.invalidInput("this unit source has no sparse cache to read") }
        let length = dataset.contextLength
        return try latents.readSparse(
            tokens: (contexts.lowerBound * length)..<(contexts.upperBound * length), slots: latentSlots, rowCount: featureCount,
            contextLength: length)
    }

    /// Writes the activations over `contexts` row-major into `output[row * tokens + t]`: the rows of
    /// ``unitRows`` and ``neighbourRows`` (``rowCount`` rows).
    package func read(contexts: Range<Int>, into output: UnsafeMutablePointer<Float>) throws {
        let tokens = contexts.count * dataset.contextLength
        let width = dataset.width
        if let latents {
            let rows = output
            rows.update(repeating: 0, count: featureCount * tokens)
            try latents.read(
                contexts: contexts, contextLength: dataset.contextLength, contextCount: dataset.contextCount, slots: latentSlots,
                into: rows, rowStride: tokens)
        }
        guard !input.isEmpty else { return }
        try input.withUnsafeMutableBufferPointer { x in
            let x = x.baseAddress!
            try dataset.readActivations(contexts: contexts, into: x)
            dataset.releasePages(contexts: contexts)
            for (u, column) in neuronColumns.enumerated() {
                let row = output + (featureCount + u) * tokens
                for t in 0..<tokens { row[t] = x[t * width + column] }
            }
            for (u, column) in negativeColumns.enumerated() {
                let row = output + (featureCount + neuronColumns.count + u) * tokens
                for t in 0..<tokens { row[t] = 0 - x[t * width + column] }  // +0 where the neuron is 0, never -0
            }
            if let encoder {
                let encodedWidth = encoder.outputWidth
                encoded.withUnsafeMutableBufferPointer { z in
                    let z = z.baseAddress!
                    encoder.encodeDense(x, tokens: tokens, into: z)
                    for (u, column) in featureColumns.enumerated() {
                        let row = output + u * tokens
                        for t in 0..<tokens { row[t] = z[t * encodedWidth + column] }
                    }
                }
            }
        }
    }
}
