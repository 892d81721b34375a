import AutoInterpLLM
public import Foundation

/// Whether a dataset's files must hold dense `activations`.
public enum DenseActivations: Sendable {
    /// Every shard holds `activations` (the contract of `--activations`).
    case required
    /// Shards may hold only `tokens` (and `mask`): features come from a latent cache.
    case optional
    /// Only `tokens` (and `mask`) are read, whatever else the files hold (a delphi latent split).
    case ignored
}

/// A layer's activations over tokenised contexts, per the DESIGN.md input contract.
///
/// Each safetensors file holds `tokens` (I32/I64 `[n_contexts, context_len]`), `activations`
/// (F32/F16/BF16 `[n_contexts, context_len, d]`) and an optional `mask` (U8, 1 = real token);
/// token strings come from `vocab.json` beside it. The files are memory-mapped and read in context
/// batches, so they may be larger than memory.
///
/// A dataset may be one file or many shards (a folder, a glob or a manifest; see
/// ``DatasetShards``) with the same `d`, context length, activation dtype and special tokens, read
/// in order as one dataset: contexts are numbered across shards. Every header rule is checked per
/// shard, and a shard that disagrees with the first is named in the error.
public final class ActivationDataset: @unchecked Sendable {
    /// What was opened: the file, folder, glob or manifest.
    public let url: URL
    public let vocabURL: URL
    /// The shard files in reading order (one for a single-file dataset).
    public var shardURLs: [URL] { shards.map(\.file.url) }
    public let contextCount: Int
    public let contextLength: Int
    /// Width `d` of the activations: the number of neurons (0 for a tokens-only file).
    public let width: Int
    /// Token strings by id.
    public let vocabulary: [String]
    /// Token ids excluded from example selection (from `__metadata__` `special_token_ids`).
    public let specialTokenIDs: Set<Int32>
    /// `__metadata__` pairs of the (first) file.
    public var metadata: [String: String] { shards[0].file.metadata }

    /// One file of the dataset and the contexts it holds.
    struct Shard {
        let file: SafeTensorsFile
        /// Nil for a tokens-only file (or when opened with `dense: .ignored`).
        let activations: SafeTensorInfo?
        let hasMask: Bool
        /// The shard's contexts, numbered across the dataset.
        let contexts: Range<Int>
    }

    private let shards: [Shard]
    private let tokenIDs: [Int32]
    private let maskBits: [UInt8]?

    /// Tokens in the dataset, padding included.
    public var tokenCount: Int { contextCount * contextLength }
    /// Element type of the stored activations.
    public var activationDType: SafeTensorsDType { shards[0].activations?.dtype ?? .F32 }
    /// True when the dataset carries a `mask` tensor (in any shard; shards without one are all real tokens).
    public var hasMask: Bool { maskBits != nil }
    /// True when the dataset holds dense activations (false for a tokens-only file).
    public var hasActivations: Bool { shards[0].activations != nil }

    /// Opens and validates a dataset.
    ///
    /// - Parameters:
    ///   - url: the safetensors file, or a folder, glob or manifest of shards.
    ///   - vocabURL: the token strings; default `vocab.json` beside the dataset (see ``DatasetShards``).
    ///   - dense: whether the files must hold `activations` (`.optional` also accepts files of only
    ///     `tokens` and `mask`; `.ignored` reads only those), for selection from a latent cache.
    /// - Throws: `AutoInterpError.invalidFile` naming the file (shard) and what is wrong.
    public init(url: URL, vocabURL: URL? = nil, dense: DenseActivations = .required) throws {
        self.url = url
        let layout = try DatasetShards.resolve(url)
        var shards: [Shard] = []
        var ids: [Int32] = []
        var masks: [[UInt8]?] = []
        var special: Set<Int32> = []
        var largest: (id: Int32, path: String)? = nil
        var contexts = 0
        var firstLength = 0
        for shardURL in layout.urls {
            let opened = try Self.openShard(shardURL, dense: dense)
            let path = shardURL.path
            if let first = shards.first {
                let firstPath = first.file.url.path
                func disagree(_ what: String) -> AutoInterpError {
                    .invalidFile(path, "\(what) differs from the first shard \(firstPath): every shard needs the same d, context length, dtype and vocabulary")
                }
                if opened.length != firstLength {
                    throw disagree("context length \(opened.length) (first shard: \(firstLength))")
                }
                switch (opened.activations, first.activations) {
                case (let mine?, let theirs?):
                    if mine.shape[2] != theirs.shape[2] { throw disagree("'activations' width d = \(mine.shape[2]) (first shard: \(theirs.shape[2]))") }
                    if mine.dtype != theirs.dtype { throw disagree("'activations' dtype \(mine.dtype.rawValue) (first shard: \(theirs.dtype.rawValue))") }
                case (nil, nil): break
                default: throw disagree("having 'activations' or not")
                }
                if opened.special != special {
                    throw disagree("__metadata__ special_token_ids \(opened.special.sorted()) (first shard: \(special.sorted()))")
                }
            } else {
                special = opened.special
                firstLength = opened.length
            }
            if let top = opened.tokens.max(), top > (largest?.id ?? -1) { largest = (top, path) }
            let range = contexts..<(contexts + opened.count)
            contexts += opened.count
            shards.append(Shard(file: opened.file, activations: opened.activations, hasMask: opened.mask != nil, contexts: range))
            ids += opened.tokens
            masks.append(opened.mask)
        }
        self.shards = shards
        contextCount = contexts
        contextLength = firstLength
        width = shards[0].activations?.shape[2] ?? 0
        tokenIDs = ids
        if masks.contains(where: { $0 != nil }) {
            maskBits = zip(masks, shards).flatMap { mask, shard in mask ?? [UInt8](repeating: 1, count: shard.contexts.count * firstLength) }
        } else {
            maskBits = nil
        }
        specialTokenIDs = special

        let vocabURL = vocabURL ?? layout.defaultVocabulary
        self.vocabURL = vocabURL
        vocabulary = try Self.loadVocabulary(vocabURL)
        if let largest, Int(largest.id) >= vocabulary.count {
            throw AutoInterpError.invalidFile(
                vocabURL.path, "has \(vocabulary.count) entries but \(largest.path) uses token id \(largest.id) (pass the matching vocabulary with \(Setting.vocab))")
        }
    }

    /// One shard, its header checked as a whole dataset's would be.
    private static func openShard(
        _ url: URL, dense: DenseActivations
    ) throws -> (file: SafeTensorsFile, activations: SafeTensorInfo?, tokens: [Int32], mask: [UInt8]?, special: Set<Int32>, count: Int, length: Int) {
        let path = url.path
        let file = try SafeTensorsFile(url: url)
        let tokens = try file.info("tokens")
        guard tokens.dtype == .I32 || tokens.dtype == .I64, tokens.shape.count == 2 else {
            throw AutoInterpError.invalidFile(path, "'tokens' must be I32 or I64 [n_contexts, context_len], found \(tokens.dtype.rawValue) \(tokens.shape)")
        }
        var activationInfo: SafeTensorInfo? = nil
        if dense == .required || (dense == .optional && file.contains("activations")) {
            let activations = try file.info("activations")
            guard [.F32, .F16, .BF16].contains(activations.dtype), activations.shape.count == 3 else {
                throw AutoInterpError.invalidFile(path, "'activations' must be F32, F16 or BF16 [n_contexts, context_len, d], found \(activations.dtype.rawValue) \(activations.shape)")
            }
            guard Array(activations.shape.prefix(2)) == tokens.shape else {
                throw AutoInterpError.invalidFile(path, "'activations' \(activations.shape) does not match 'tokens' \(tokens.shape) in its first two dimensions")
            }
            activationInfo = activations
        }
        guard tokens.shape[0] > 0, tokens.shape[1] > 0 else {
            throw AutoInterpError.invalidFile(path, "holds no contexts ('tokens' has shape \(tokens.shape)); write at least one context of at least one token")
        }
        if let activationInfo, activationInfo.shape[2] <= 0 {
            throw AutoInterpError.invalidFile(path, "'activations' has width 0 \(activationInfo.shape): there are no neurons to study (write the layer's activations)")
        }
        let ids = try file.int64s("tokens").enumerated().map { index, id in
            guard id >= 0, id <= Int64(Int32.max) else {
                throw AutoInterpError.invalidFile(path, "token id \(id) at position \(index) is negative or too large")
            }
            return Int32(id)
        }
        var maskBits: [UInt8]? = nil
        if file.contains("mask") {
            let mask = try file.info("mask")
            guard mask.dtype == .U8 || mask.dtype == .BOOL, mask.shape == tokens.shape else {
                throw AutoInterpError.invalidFile(path, "'mask' must be U8 \(tokens.shape), found \(mask.dtype.rawValue) \(mask.shape)")
            }
            maskBits = Array(file.rawBytes(mask))
        }
        let special = try parseSpecialTokens(file.metadata["special_token_ids"], path: path)
        return (file, activationInfo, ids, maskBits, special, tokens.shape[0], tokens.shape[1])
    }

    // MARK: - Tokens and mask

    /// Token ids of one context (padding included).
    public func tokens(context: Int) -> ArraySlice<Int32> {
        tokenIDs[(context * contextLength)..<((context + 1) * contextLength)]
    }

    /// Whether the token at flat index `token` is real (not padding).
    @inline(__always)
    public func isReal(token: Int) -> Bool { maskBits.map { $0[token] != 0 } ?? true }

    /// Whether the token at flat index `token` may be selected, counted and scored:
    /// real, and not a special token unless `includeSpecial`.
    @inline(__always)
    public func isSelectable(token: Int, includeSpecial: Bool) -> Bool {
        guard isReal(token: token) else { return false }
        return includeSpecial || specialTokenIDs.isEmpty || !specialTokenIDs.contains(tokenIDs[token])
    }

    /// The string of a token id.
    public func string(forToken id: Int32) -> String { vocabulary[Int(id)] }

    // MARK: - Activations

    /// Reads the activations of `contexts` as F32 into `destination` (`[contexts, context_len, d]`, row-major).
    ///
    /// The range may span shards. - Throws: `AutoInterpError.invalidFile` if a value is NaN or
    /// infinite, naming the shard and the context (in the shard, and in the dataset when sharded).
    public func readActivations(contexts: Range<Int>, into destination: UnsafeMutablePointer<Float>) throws {
        precondition(contexts.lowerBound >= 0 && contexts.upperBound <= contextCount)
        let perContext = contextLength * width
        for shard in shards where shard.contexts.overlaps(contexts) {
            let part = shard.contexts.clamped(to: contexts)
            guard let info = shard.activations else {
                throw AutoInterpError.invalidFile(
                    shard.file.url.path, "holds only tokens, no 'activations': neurons and SAE features need the dense activations (or pass \(Setting.latents))")
            }
            let local = (part.lowerBound - shard.contexts.lowerBound)..<(part.upperBound - shard.contexts.lowerBound)
            let elements = (local.lowerBound * perContext)..<(local.upperBound * perContext)
            let target = destination + (part.lowerBound - contexts.lowerBound) * perContext
            try shard.file.copyFloats(info, elements: elements, into: target)
            // NaN or Inf poisons every statistic downstream: find it here, once, with its place.
            var bad = -1
            for i in 0..<elements.count where !target[i].isFinite {
                bad = i
                break
            }
            if bad >= 0 {
                let context = local.lowerBound + bad / perContext
                let position = (bad % perContext) / width
                let global = shards.count > 1 ? " (dataset context \(context + shard.contexts.lowerBound))" : ""
                throw AutoInterpError.invalidFile(
                    shard.file.url.path,
                    "activation \(target[bad]) (not finite) at context \(context)\(global), position \(position), neuron \(bad % width)")
            }
        }
    }

    /// Lets the OS drop the mapped pages of `contexts` once they are read (keeps resident memory bounded).
    public func releasePages(contexts: Range<Int>) {
        let perContext = contextLength * width
        for shard in shards where shard.contexts.overlaps(contexts) {
            guard let info = shard.activations else { continue }
            let part = shard.contexts.clamped(to: contexts)
            let local = (part.lowerBound - shard.contexts.lowerBound)..<(part.upperBound - shard.contexts.lowerBound)
            shard.file.releasePages(info, elements: (local.lowerBound * perContext)..<(local.upperBound * perContext))
        }
    }

    // MARK: - Loading helpers

    private static func parseSpecialTokens(_ text: String?, path: String) throws -> Set<Int32> {
        guard let text, !text.isEmpty else { return [] }
        guard let data = text.data(using: .utf8), let ids = try? JSONSerialization.jsonObject(with: data) as? [Any] else {
            throw AutoInterpError.invalidFile(path, "__metadata__ special_token_ids must be a JSON array of integers, found '\(text.prefix(40))'")
        }
        return Set(try ids.map { value in
            guard let number = value as? NSNumber, let id = Int32(exactly: number.doubleValue) else {
                throw AutoInterpError.invalidFile(path, "__metadata__ special_token_ids holds a non-integer '\(value)'")
            }
            return id
        })
    }

    private static func loadVocabulary(_ url: URL) throws -> [String] {
        let data: Data
        do {
            data = try Data(contentsOf: url)
        } catch {
            throw AutoInterpError.io(url.path, "cannot read the vocabulary (put vocab.json beside the dataset or pass \(Setting.vocab) FILE)")
        }
        return try parseVocabulary(data, path: url.path)
    }

    /// The token strings of a `vocab.json` file's bytes; `path` names it in errors.
    static func parseVocabulary(_ data: Data, path: String) throws -> [String] {
        let url = URL(fileURLWithPath: path)
        if let offset = TextValidation.firstInvalidUTF8(in: data) {
            throw AutoInterpError.invalidFile(url.path, "is not valid UTF-8 (first bad byte at offset \(offset)); write vocab.json as UTF-8")
        }
        guard let array = try? JSONSerialization.jsonObject(with: data) as? [Any] else {
            throw AutoInterpError.invalidFile(url.path, "vocabulary must be a JSON array of token strings")
        }
        return try array.enumerated().map { index, item in
            guard let token = item as? String else {
                throw AutoInterpError.invalidFile(url.path, "vocabulary entry \(index) is not a string")
            }
            return token
        }
    }
}
