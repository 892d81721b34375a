import Foundation
import Logging

/// Element type of the harvested `activations` tensor.
public enum HarvestDType: String, Sendable, CaseIterable {
    case f16
    case f32

    var safeTensorsDType: SafeTensorsDType { self == .f16 ? .F16 : .F32 }
}

/// How far a harvest has got, reported after every batch.
public struct HarvestProgress: Sendable {
    public var contextsDone: Int
    public var contextsTotal: Int
    /// Real (unpadded) tokens run through the model so far.
    public var tokensDone: Int
    public var elapsedSeconds: Double

    /// Real tokens per second so far.
    public var tokensPerSecond: Double { elapsedSeconds > 0 ? Double(tokensDone) / elapsedSeconds : 0 }
}

/// What a finished harvest wrote.
public struct HarvestSummary: Sendable {
    public var output: URL
    public var vocabulary: URL
    public var contexts: Int
    public var contextLength: Int
    /// Real tokens (mask = 1), `[CLS]` and `[SEP]` included.
    public var tokens: Int
    /// Texts cut to fit the context length.
    public var truncatedContexts: Int
    public var width: Int
    public var elapsedSeconds: Double
    public var metadata: [String: String]
}

/// Runs texts through a BERT-family model and writes one layer's MLP activations as an
/// activation dataset (see DESIGN.md): `tokens` I32 `[n, ctx]`, `mask` U8 `[n, ctx]`,
/// `activations` F16/F32 `[n, ctx, intermediate_size]`, and `vocab.json` beside the file.
///
/// Each text is its own context: `[CLS] pieces… [SEP]`, cut to the context length, padded with
/// `[PAD]` (mask 0, activations 0). Activations are streamed to disk batch by batch, so the
/// file may be larger than memory; tokens and mask are small and held in memory.
public final class Harvester {
    public let tokenizer: WordPieceTokenizer
    public let model: BertModel
    /// The layer read, 0-based as in `encoder.layer[layer]`.
    public let layer: Int
    /// Written as the `model` metadata key.
    public let modelName: String
    private let logger: Logger

    /// Loads the tokenizer and layers `0...layer` of the model in `modelDirectory`.
    ///
    /// - Parameters:
    ///   - modelName: the `model` metadata value; defaults to the folder's name (its parent's too when it is just `model`).
    /// - Throws: `AutoInterpError` naming the folder or file and the problem; `.invalidInput` for a layer out of range.
    public init(modelDirectory: URL, layer: Int, modelName: String? = nil, logger: Logger = Logger(label: "autointerp.harvest")) throws {
        let config = try BertConfig.load(modelDirectory.appendingPathComponent("config.json"))
        guard (0..<config.numHiddenLayers).contains(layer) else {
            throw AutoInterpError.invalidInput(
                "--layer \(layer) is out of range: \(modelDirectory.path) has layers 0...\(config.numHiddenLayers - 1)")
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
        self.logger = logger
    }

    /// The hook name written to metadata: the module whose output is recorded.
    public var hook: String { "encoder.layer.\(layer).intermediate.intermediate_act_fn" }

    // MARK: - Harvest

    /// Harvests every text of a JSONL file (`{"text": …}` per line, blank lines skipped).
    ///
    /// - Throws: `AutoInterpError` naming the file and line for a bad line, or the output path for a write failure.
    @discardableResult
    public func harvest(
        textsFile: URL, output: URL, contextLength: Int = 64, dtype: HarvestDType = .f16, batchSize: Int = 32,
        progress: ((HarvestProgress) -> Void)? = nil
    ) throws -> HarvestSummary {
        try checkContextLength(contextLength)
        var encoded: [[Int32]] = []
        var truncated = 0
        try JSONLTextReader(url: textsFile).forEachText { text, _ in
            let encoding = tokenizer.encode(text, maxLength: contextLength)
            if encoding.truncated { truncated += 1 }
            encoded.append(encoding.ids)
        }
        guard !encoded.isEmpty else {
            throw AutoInterpError.invalidFile(textsFile.path, "no texts; expected one {\"text\": \"...\"} object per line")
        }
        var metadata = ["texts": textsFile.lastPathComponent]
        return try harvest(
            encoded: encoded, truncated: truncated, output: output, contextLength: contextLength, dtype: dtype,
            batchSize: batchSize, extraMetadata: &metadata, progress: progress)
    }

    /// Harvests texts held in memory, one context each.
    @discardableResult
    public func harvest(
        texts: [String], output: URL, contextLength: Int = 64, dtype: HarvestDType = .f16, batchSize: Int = 32,
        progress: ((HarvestProgress) -> Void)? = nil
    ) throws -> HarvestSummary {
        try checkContextLength(contextLength)
        guard !texts.isEmpty else { throw AutoInterpError.invalidInput("harvest: no texts to run") }
        let encodings = texts.map { tokenizer.encode($0, maxLength: contextLength) }
        var metadata: [String: String] = [:]
        return try harvest(
            encoded: encodings.map(\.ids), truncated: encodings.filter(\.truncated).count, output: output,
            contextLength: contextLength, dtype: dtype, batchSize: batchSize, extraMetadata: &metadata, progress: progress)
    }

    private func checkContextLength(_ contextLength: Int) throws {
        guard contextLength >= 2, contextLength <= model.config.maxPositionEmbeddings else {
            throw AutoInterpError.invalidInput(
                "--context-len \(contextLength) must be between 2 and the model's \(model.config.maxPositionEmbeddings) positions")
        }
    }

    private func harvest(
        encoded: [[Int32]], truncated: Int, output: URL, contextLength ctx: Int, dtype: HarvestDType, batchSize: Int,
        extraMetadata: inout [String: String], progress: ((HarvestProgress) -> Void)?
    ) throws -> HarvestSummary {
        let start = Date()
        let n = encoded.count
        let width = model.config.intermediateSize
        let batch = max(1, batchSize)

        var tokens = [Int32](repeating: tokenizer.paddingID, count: n * ctx)
        var mask = [UInt8](repeating: 0, count: n * ctx)
        var realTokens = 0
        for (c, ids) in encoded.enumerated() {
            for (t, id) in ids.enumerated() {
                tokens[c * ctx + t] = id
                mask[c * ctx + t] = 1
            }
            realTokens += ids.count
        }

        let specials = tokenizer.specialTokenIDs.map(String.init).joined(separator: ",")
        var metadata = extraMetadata
        metadata["model"] = modelName
        metadata["layer"] = String(layer)
        metadata["hook"] = hook
        metadata["special_token_ids"] = "[\(specials)]"
        metadata["context_len"] = String(ctx)
        metadata["architecture"] = "bert"

        let folder = output.deletingLastPathComponent()
        do {
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        } catch {
            throw AutoInterpError.io(folder.path, "cannot create the output folder: \(error.localizedDescription)")
        }
        let vocabURL = folder.appendingPathComponent("vocab.json")
        try writeVocabulary(to: vocabURL)

        let writer = try SafeTensorsStreamWriter(
            url: output,
            entries: [
                .init(name: "tokens", dtype: .I32, shape: [n, ctx]),
                .init(name: "mask", dtype: .U8, shape: [n, ctx]),
                .init(name: "activations", dtype: dtype.safeTensorsDType, shape: [n, ctx, width]),
            ],
            metadata: metadata)
        try writer.append(tokens)
        try writer.append(mask)
        logger.debug("harvest: \(n) contexts x \(ctx) tokens, layer \(layer), width \(width) -> \(output.path)")

        var done = 0
        var tokensDone = 0
        var half = dtype == .f16 ? [Float16](repeating: 0, count: batch * ctx * width) : []
        var single = dtype == .f32 ? [Float](repeating: 0, count: batch * ctx * width) : []
        while done < n {
            let upper = min(n, done + batch)
            let sequences = Array(encoded[done..<upper])
            let packed = try model.intermediateActivations(sequences, layer: layer)
            let count = (upper - done) * ctx * width
            // Scatter packed rows into [contexts, ctx, width], padding rows zero.
            switch dtype {
            case .f16:
                half.withUnsafeMutableBufferPointer { out in
                    packed.withUnsafeBufferPointer { src in
                        scatter(sequences, ctx: ctx, width: width, from: src, into: out) { Float16($0) }
                    }
                }
                try half.withUnsafeBytes { try writer.append(UnsafeRawBufferPointer(rebasing: $0[0..<(count * 2)])) }
            case .f32:
                single.withUnsafeMutableBufferPointer { out in
                    packed.withUnsafeBufferPointer { src in
                        scatter(sequences, ctx: ctx, width: width, from: src, into: out) { $0 }
                    }
                }
                try single.withUnsafeBytes { try writer.append(UnsafeRawBufferPointer(rebasing: $0[0..<(count * 4)])) }
            }
            tokensDone += sequences.reduce(0) { $0 + $1.count }
            done = upper
            progress?(HarvestProgress(
                contextsDone: done, contextsTotal: n, tokensDone: tokensDone, elapsedSeconds: Date().timeIntervalSince(start)))
        }
        try writer.finish()
        let elapsed = Date().timeIntervalSince(start)
        logger.debug("harvest: wrote \(output.path) (\(realTokens) tokens in \(String(format: "%.1f", elapsed)) s)")
        return HarvestSummary(
            output: output, vocabulary: vocabURL, contexts: n, contextLength: ctx, tokens: realTokens,
            truncatedContexts: truncated, width: width, elapsedSeconds: elapsed, metadata: metadata)
    }

    /// Writes packed activation rows to their `[context, position]` slots; padding slots become 0.
    private func scatter<T>(
        _ sequences: [[Int32]], ctx: Int, width: Int, from src: UnsafeBufferPointer<Float>,
        into out: UnsafeMutableBufferPointer<T>, convert: (Float) -> T
    ) {
        let zero = convert(0)
        var row = 0
        for (c, sequence) in sequences.enumerated() {
            let base = c * ctx * width
            for t in 0..<ctx {
                let o = base + t * width
                if t < sequence.count {
                    let s = row * width
                    for k in 0..<width { out[o + k] = convert(src[s + k]) }
                    row += 1
                } else {
                    for k in 0..<width { out[o + k] = zero }
                }
            }
        }
    }

    /// `vocab.json`: the token strings as a JSON array, index = id.
    private func writeVocabulary(to url: URL) throws {
        do {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.withoutEscapingSlashes]
            try encoder.encode(tokenizer.vocabulary).write(to: url, options: .atomic)
        } catch {
            throw AutoInterpError.io(url.path, "cannot write vocab.json: \(error.localizedDescription)")
        }
    }
}
