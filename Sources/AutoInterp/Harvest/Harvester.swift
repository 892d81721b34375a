import AutoInterpLLM
package import Foundation
package import Logging

/// Element type of the harvested `activations` tensor.
package enum HarvestDType: String, Sendable, CaseIterable {
    case f16
    case f32

    var safeTensorsDType: SafeTensorsDType { self == .f16 ? .F16 : .F32 }
}

/// How far a harvest has got, reported after every batch.
package struct HarvestProgress: Sendable {
    package var contextsDone: Int
    package var contextsTotal: Int
    /// Real (unpadded) tokens run through the model so far.
    package var tokensDone: Int
    package var elapsedSeconds: Double

    /// Real tokens per second so far.
    package var tokensPerSecond: Double { elapsedSeconds > 0 ? Double(tokensDone) / elapsedSeconds : 0 }
}

/// What a finished harvest wrote.
package struct HarvestSummary: Sendable {
    package var output: URL
    package var vocabulary: URL
    package var contexts: Int
    package var contextLength: Int
    /// Real tokens (mask = 1), `[CLS]` and `[SEP]` included.
    package var tokens: Int
    /// Texts cut to fit the context length.
    package var truncatedContexts: Int
    package var width: Int
    package var elapsedSeconds: Double
    package var metadata: [String: String]
}

/// Runs texts through a BERT-family model and writes one layer's MLP activations as an
/// activation dataset (see DESIGN.md): `tokens` I32 `[n, ctx]`, `mask` U8 `[n, ctx]`,
/// `activations` F16/F32 `[n, ctx, intermediate_size]`, and `vocab.json` beside the file.
///
/// Each text is its own context: `[CLS] pieces… [SEP]`, cut to the context length, padded with
/// `[PAD]` (mask 0, activations 0). Activations are streamed to disk batch by batch, so the
/// file may be larger than memory; tokens and mask are small and held in memory.
package final class Harvester {
    package let tokenizer: WordPieceTokenizer
    package let model: BertModel
    /// The layer read, 0-based as in `encoder.layer[layer]`.
    package let layer: Int
    /// Written as the `model` metadata key.
    package let modelName: String
    /// Batches run at once, one per thread with single-threaded BLAS; `nil` uses one per core.
    package var workerCount: Int? = nil
    private let logger: Logger

    /// Loads the tokenizer and layers `0...layer` of the model in `modelDirectory`.
    ///
    /// - Parameters:
    ///   - modelName: the `model` metadata value; defaults to the folder's name (its parent's too when it is just `model`).
    /// - Throws: `AutoInterpError` naming the folder or file and the problem; `.invalidInput` for a layer out of range.
    package init(modelDirectory: URL, layer: Int, modelName: String? = nil, logger: Logger? = nil) throws {
        let config = try BertConfig.load(modelDirectory.appendingPathComponent("config.json"))
        guard (0..<config.numHiddenLayers).contains(layer) else {
            throw AutoInterpError.invalidInput(
                "\(Setting.layer) \(layer) is out of range: \(modelDirectory.path) has layers 0...\(config.numHiddenLayers - 1)")
        }
        self.tokenizer = try WordPieceTokenizer.load(modelDirectory: modelDirectory)
        self.model = try BertModel.load(directory: modelDirectory, layerCount: layer + 1)
        guard tokenizer.vocabulary.count <= config.vocabSize else {
            throw AutoInterpError.invalidFile(
                modelDirectory.path,
                "vocab.txt has \(tokenizer.vocabulary.count) tokens but config.json's vocab_size is \(config.vocabSize); they are not from the same model")
        }
        self.layer = layer
        let standardized = modelDirectory.standardizedFileURL
        let name = standardized.lastPathComponent
        self.modelName = modelName
            ?? (name == "model" ? "\(standardized.deletingLastPathComponent().lastPathComponent)/\(name)" : name)
        self.logger = logger ?? .silent
    }

    /// The hook name written to metadata: the module whose output is recorded.
    package var hook: String { "encoder.layer.\(layer).intermediate.intermediate_act_fn" }

    // MARK: - Harvest

    /// Harvests every text of a JSONL file (`{"text": …}` per line, blank lines skipped).
    ///
    /// With `contextsPerShard`, `output` is a folder of shards of that many contexts
    /// (``ShardedDatasetWriter``: `shard-00000.safetensors`, …, and `vocab.json`).
    ///
    /// - Throws: `AutoInterpError` naming the file and line for a bad line, or the output path for a write failure.
    @discardableResult
    package func harvest(
        textsFile: URL, output: URL, contextLength: Int = 64, dtype: HarvestDType = .f16, batchSize: Int = 32,
        contextsPerShard: Int? = nil, progress: ((HarvestProgress) -> Void)? = nil
    ) throws -> HarvestSummary {
        try checkContextLength(contextLength)
        var contexts = EncodedContexts(contextLength: contextLength, paddingID: tokenizer.paddingID)
        let textsHash = try JSONLTextReader(url: textsFile).forEachText { text, _ in
            contexts.append(tokenizer.encode(text, maxLength: contextLength))
        }
        guard contexts.count > 0 else {
            throw AutoInterpError.invalidFile(textsFile.path, "no texts; expected one {\"text\": \"...\"} object per line")
        }
        return try harvest(
            contexts, output: output, dtype: dtype, batchSize: batchSize, contextsPerShard: contextsPerShard,
            extraMetadata: ["texts": textsFile.lastPathComponent, "texts_sha256": textsHash], progress: progress)
    }

    /// Harvests texts held in memory, one context each (`contextsPerShard`: as for a JSONL file).
    @discardableResult
    package func harvest(
        texts: [String], output: URL, contextLength: Int = 64, dtype: HarvestDType = .f16, batchSize: Int = 32,
        contextsPerShard: Int? = nil, progress: ((HarvestProgress) -> Void)? = nil
    ) throws -> HarvestSummary {
        try checkContextLength(contextLength)
        guard !texts.isEmpty else { throw AutoInterpError.invalidInput("harvest: no texts to run") }
        var contexts = EncodedContexts(contextLength: contextLength, paddingID: tokenizer.paddingID)
        for text in texts { contexts.append(tokenizer.encode(text, maxLength: contextLength)) }
        return try harvest(
            contexts, output: output, dtype: dtype, batchSize: batchSize, contextsPerShard: contextsPerShard, extraMetadata: [:],
            progress: progress)
    }

    private func checkContextLength(_ contextLength: Int) throws {
        guard contextLength >= 2, contextLength <= model.config.maxPositionEmbeddings else {
            throw AutoInterpError.invalidInput(
                "\(Setting.contextLen) \(contextLength) must be between 2 and the model's \(model.config.maxPositionEmbeddings) positions")
        }
    }

    private func harvest(
        _ contexts: EncodedContexts, output: URL, dtype: HarvestDType, batchSize: Int, contextsPerShard: Int?,
        extraMetadata: [String: String], progress: ((HarvestProgress) -> Void)?
    ) throws -> HarvestSummary {
        let start = Date()
        let n = contexts.count
        let ctx = contexts.contextLength
        let width = model.config.intermediateSize
        let batch = max(1, batchSize)
        let realTokens = contexts.lengths.reduce(0, +)

        let specials = tokenizer.specialTokenIDs.map(String.init).joined(separator: ",")
        var metadata = extraMetadata
        metadata["model"] = modelName
        metadata["layer"] = String(layer)
        metadata["hook"] = hook
        metadata["special_token_ids"] = "[\(specials)]"
        metadata["context_len"] = String(ctx)
        metadata["architecture"] = "bert"

        let folder = contextsPerShard == nil ? output.deletingLastPathComponent() : output
        do {
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        } catch {
            throw AutoInterpError.io(folder.path, "cannot create the output folder: \(error.localizedDescription)")
        }
        let writer = try ShardedDatasetWriter(
            url: output, contextLength: ctx, width: width, tokens: contexts.tokens, mask: contexts.mask,
            dtype: dtype.safeTensorsDType, vocabulary: tokenizer.vocabulary, metadata: metadata, contextsPerShard: contextsPerShard)
        logger.debug("harvest: \(n) contexts x \(ctx) tokens, layer \(layer), width \(width) -> \(output.path)")

        // One batch per core at a time, each on single-threaded BLAS; results appended in order.
        let workers = max(1, workerCount ?? ProcessInfo.processInfo.activeProcessorCount)
        var done = 0
        var tokensDone = 0
        try BLAS.withSingleThread {
            while done < n {
                let groups = stride(from: done, to: min(n, done + workers * batch), by: batch).map { lo in
                    contexts.sequences(lo..<min(n, lo + batch))
                }
                let results = BatchResults(count: groups.count)
                let model = self.model
                let layer = self.layer
                DispatchQueue.concurrentPerform(iterations: groups.count) { g in
                    results.store(g, Result { try Self.contextActivations(model, layer: layer, groups[g], contextLength: ctx) })
                }
                for (g, result) in results.take().enumerated() {
                    try writer.append(try result.get())
                    done += groups[g].count
                    tokensDone += groups[g].reduce(0) { $0 + $1.count }
                    progress?(HarvestProgress(
                        contextsDone: done, contextsTotal: n, tokensDone: tokensDone,
                        elapsedSeconds: Date().timeIntervalSince(start)))
                }
            }
        }
        try writer.finish()
        let elapsed = Date().timeIntervalSince(start)
        logger.debug("harvest: wrote \(output.path) (\(realTokens) tokens in \(String(format: "%.1f", elapsed)) s)")
        return HarvestSummary(
            output: output, vocabulary: folder.appendingPathComponent("vocab.json"), contexts: n, contextLength: ctx,
            tokens: realTokens, truncatedContexts: contexts.truncated, width: width, elapsedSeconds: elapsed, metadata: metadata)
    }

    /// Layer activations of some contexts laid out `[contexts, ctx, width]`; padding slots are 0.
    private static func contextActivations(
        _ model: BertModel, layer: Int, _ sequences: [[Int32]], contextLength ctx: Int
    ) throws -> [Float] {
        let width = model.config.intermediateSize
        let packed = try model.intermediateActivations(sequences, layer: layer, parallel: false)
        var out = [Float](repeating: 0, count: sequences.count * ctx * width)
        out.withUnsafeMutableBufferPointer { out in
            packed.withUnsafeBufferPointer { src in
                var row = 0
                for (c, sequence) in sequences.enumerated() {
                    let count = sequence.count * width
                    (out.baseAddress! + c * ctx * width).update(from: src.baseAddress! + row * width, count: count)
                    row += sequence.count
                }
            }
        }
        return out
    }
}

/// Encoded contexts laid out as the dataset stores them: flat, padded `tokens` and `mask`.
private struct EncodedContexts {
    let contextLength: Int
    let paddingID: Int32
    private(set) var tokens: [Int32] = []
    private(set) var mask: [UInt8] = []
    /// Real tokens per context.
    private(set) var lengths: [Int] = []
    private(set) var truncated = 0

    init(contextLength: Int, paddingID: Int32) {
        self.contextLength = contextLength
        self.paddingID = paddingID
    }

    var count: Int { lengths.count }

    mutating func append(_ encoding: WordPieceEncoding) {
        let ids = encoding.ids
        tokens.append(contentsOf: ids)
        tokens.append(contentsOf: repeatElement(paddingID, count: contextLength - ids.count))
        mask.append(contentsOf: repeatElement(1, count: ids.count))
        mask.append(contentsOf: repeatElement(0, count: contextLength - ids.count))
        lengths.append(ids.count)
        if encoding.truncated { truncated += 1 }
    }

    /// The unpadded ids of contexts `range`.
    func sequences(_ range: Range<Int>) -> [[Int32]] {
        range.map { c in Array(tokens[(c * contextLength)..<(c * contextLength + lengths[c])]) }
    }
}

/// Per-slot results filled by concurrent workers.
private final class BatchResults: @unchecked Sendable {
    private let lock = NSLock()
    private var slots: [Result<[Float], any Error>?]

    init(count: Int) { slots = Array(repeating: nil, count: count) }

    func store(_ index: Int, _ result: Result<[Float], any Error>) {
        lock.lock()
        slots[index] = result
        lock.unlock()
    }

    func take() -> [Result<[Float], any Error>] {
        lock.lock()
        defer { lock.unlock() }
        return slots.map { $0! }
    }
}
