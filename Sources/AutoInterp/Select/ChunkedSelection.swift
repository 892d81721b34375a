public import Foundation

/// What selection has done so far, for a progress display (tokens/s, ETA) outside the library.
public struct SelectionProgress: Sendable {
    /// Tokens read so far, over every pass of every chunk, and in all.
    public var tokensDone: Int
    public var tokensTotal: Int
    /// Units stored by this invocation so far, and the units it selects.
    public var unitsDone: Int
    public var unitsTotal: Int
    /// Seconds since selection started.
    public var elapsed: Double

    public var tokensPerSecond: Double { elapsed > 0 ? Double(tokensDone) / elapsed : 0 }
    /// Seconds left at the rate so far (nil before the first batch).
    public var eta: Double? {
        tokensDone > 0 && tokensPerSecond > 0 ? Double(tokensTotal - tokensDone) / tokensPerSecond : nil
    }
}

/// Selection over many units in chunks that fit a memory budget.
///
/// The per-unit state ``ExampleSelector`` keeps (top-k heap, reservoirs, histogram, and one
/// `Float` per activating context for the classification deciles) is estimated per unit by
/// ``bytesPerUnit(config:dataset:tokensPerBatch:)``; units are split into chunks of at most
/// `memoryBudget` bytes, each selected with its own two passes over the dataset and stored before
/// the next chunk starts. Each unit's result depends only on its own activations and seeded
/// stream, so chunking changes no stored row; a run killed during selection resumes at the first
/// chunk not stored (its units are missing from the database).
package struct ChunkedSelection {
    package var config: SelectionConfig
    /// Bytes of per-unit state one chunk may hold.
    package var memoryBudget: Int
    package var tokensPerBatch = 4096

    /// The default budget: 1 GiB of per-unit selection state per chunk.
    package static let defaultMemoryBudget = 1 << 30

    package init(config: SelectionConfig, memoryBudget: Int = ChunkedSelection.defaultMemoryBudget) {
        self.config = config
        self.memoryBudget = memoryBudget
    }

    /// Bytes of selection state per unit: the kept contexts (each `context_len` floats), the
    /// histogram, the decile maxima (at most one `Float` per context), and the unit's rows of the
    /// batch buffers (the unit's activations and, for a feature, its encoder output column).
    /// (A sparse read, see ``UnitActivationSource/readsSparse``, holds no dense batch rows: the
    /// estimate is then an upper bound, and chunks stay as they were.)
    package static func bytesPerUnit(config: SelectionConfig, dataset: ActivationDataset, tokensPerBatch: Int) -> Int {
        let kept = config.topPool + config.nonActivating + config.quantileBins * config.quantilePerBin + config.scoreRandom
            + SelectionConfig.classifyDeciles * config.classifyPerDecile + config.classifySilent
        let perKept = dataset.contextLength.multipliedReportingOverflow(by: 4).partialValue + 64
        let batchTokens = max(1, tokensPerBatch / max(dataset.contextLength, 1)) * dataset.contextLength
        let deciles = config.classifyPerDecile > 0 ? dataset.contextCount * 4 : 0
        // Hard negatives: the candidate reservoir, and up to `hardNeighbours` more rows of the batch buffer.
        let hard = config.hardNegatives > 0
            ? (config.hardNegatives + config.classifySilent) * perKept + SelectionConfig.hardNeighbours * batchTokens * 4 : 0
        return kept * perKept + config.histogramBins * 8 + deciles + 2 * batchTokens * 4 + 512 + hard
    }

    /// `units` in order, cut into chunks of at most `budget / bytesPerUnit` units (at least one).
    package static func chunks(_ units: [UnitRef], bytesPerUnit: Int, budget: Int) -> [[UnitRef]] {
        let size = max(1, budget / max(bytesPerUnit, 1))
        return stride(from: 0, to: units.count, by: size).map { Array(units[$0..<min($0 + size, units.count)]) }
    }

    /// Selects `units` chunk by chunk, handing each unit's selection to `store` as it is made
    /// (in `units` order), every unit of a chunk before the next chunk starts, then calls
    /// `chunkDone` (a caller that stores units in batches writes the chunk's last ones).
    ///
    /// With an SAE and a `scratchFolder`, the features are first encoded once into
    /// ``SelectionLatents`` there (reused on resume, removed when done), and every chunk's two
    /// passes read that by its non-zeros instead of encoding again.
    ///
    /// - Returns: the number of chunks.
    @discardableResult
    package func run(
        dataset: ActivationDataset, sae: SparseAutoencoder?, latents: LatentCache?, units: [UnitRef],
        neighbours: [UnitRef: [UnitRef]] = [:], scratchFolder: URL? = nil,
        progress: ((SelectionProgress) -> Void)? = nil, chunkDone: (() throws -> Void)? = nil, store: (UnitSelection) throws -> Void
    ) throws -> Int {
        let perUnit = Self.bytesPerUnit(config: config, dataset: dataset, tokensPerBatch: tokensPerBatch)
        // Features and neurons never share a chunk, so a chunk reads the dense activations only when it must
        // (both sides of the neurons read the same columns).
        let features = units.filter { $0.kind == .feature }, neurons = units.filter(\.kind.isNeuron)
        let featureChunks = Self.chunks(features, bytesPerUnit: perUnit, budget: memoryBudget)
        let chunks = featureChunks + Self.chunks(neurons, bytesPerUnit: perUnit, budget: memoryBudget)
        let started = Date()
        let tokensPerChunk = 2 * dataset.tokenCount
        var (tokensTotal, overflow) = tokensPerChunk.multipliedReportingOverflow(by: chunks.count)
        var report = SelectionProgress(
            tokensDone: 0, tokensTotal: overflow ? Int.max : tokensTotal, unitsDone: 0, unitsTotal: units.count, elapsed: 0)

        var sae = sae, latents = latents
        var scratch: URL? = nil
        // Encoded once even for one chunk: its two passes would otherwise encode twice.
        if let model = sae, latents == nil, !features.isEmpty, let scratchFolder {
            let url = scratchFolder.appendingPathComponent(SelectionLatents.fileName)
            // The hard negatives' neighbour features are encoded with the studied ones.
            let studied = features.map(\.index)
            let ids = studied + Set(features.flatMap { neighbours[$0] ?? [] }.filter { $0.kind == .feature }.map(\.index))
                .subtracting(studied).sorted()
            if let found = SelectionLatents.reusable(at: url, features: ids, dataset: dataset) {
                latents = found
            } else {
                (tokensTotal, overflow) = tokensTotal.addingReportingOverflow(dataset.tokenCount)
                report.tokensTotal = overflow ? Int.max : tokensTotal
                latents = try SelectionLatents.write(
                    dataset: dataset, sae: model, features: ids, to: url, tokensPerBatch: tokensPerBatch
                ) { done in
                    report.tokensDone = done
                    report.elapsed = Date().timeIntervalSince(started)
                    progress?(report)
                }
            }
            sae = nil
            scratch = url
        }
        let encoded = report.tokensDone
        for (c, chunk) in chunks.enumerated() {
            let source = try UnitActivationSource(
                dataset: dataset, sae: sae, latents: latents, features: chunk.filter { $0.kind == .feature }.map(\.index),
                neurons: chunk.filter { $0.kind == .neuron }.map(\.index),
                negativeNeurons: chunk.filter { $0.kind == .negativeNeuron }.map(\.index), neighbours: neighbours,
                tokensPerBatch: tokensPerBatch)
            let batches = source.batches.count
            try ExampleSelector(config: config).select(from: source, progress: { done, _ in
                guard let progress else { return }
                // Steps are batches of two passes; the last batch of a pass may be short.
                let tokens = min(dataset.tokenCount, ((done - 1) % batches + 1) * source.contextsPerBatch * dataset.contextLength)
                report.tokensDone = encoded + c * tokensPerChunk + (done > batches ? dataset.tokenCount : 0) + tokens
                report.elapsed = Date().timeIntervalSince(started)
                progress(report)
            }, each: store)
            try chunkDone?()
            report.unitsDone += chunk.count
            report.elapsed = Date().timeIntervalSince(started)
            progress?(report)
        }
        if let scratch { try? FileManager.default.removeItem(at: scratch) }
        return chunks.count
    }
}
