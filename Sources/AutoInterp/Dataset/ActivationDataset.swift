public import Foundation

/// A layer's activations over tokenised contexts, per the DESIGN.md input contract.
///
/// The safetensors file holds `tokens` (I32/I64 `[n_contexts, context_len]`), `activations`
/// (F32/F16/BF16 `[n_contexts, context_len, d]`) and an optional `mask` (U8, 1 = real token);
/// token strings come from `vocab.json` beside it. The file is memory-mapped and read in context
/// batches, so it may be larger than memory.
public final class ActivationDataset: @unchecked Sendable {
    public let url: URL
    public let vocabURL: URL
    package let file: SafeTensorsFile
    public let contextCount: Int
    public let contextLength: Int
    /// Width `d` of the activations: the number of neurons.
    public let width: Int
    /// Token strings by id.
    public let vocabulary: [String]
    /// Token ids excluded from example selection (from `__metadata__` `special_token_ids`).
    public let specialTokenIDs: Set<Int32>
    /// `__metadata__` pairs of the file.
    public var metadata: [String: String] { file.metadata }

    private let tokenInfo: SafeTensorInfo
    private let activationInfo: SafeTensorInfo
    private let maskInfo: SafeTensorInfo?
    private let tokenIDs: [Int32]
    private let maskBits: [UInt8]?

    /// Tokens in the file, padding included.
    public var tokenCount: Int { contextCount * contextLength }
    /// Element type of the stored activations.
    public var activationDType: SafeTensorsDType { activationInfo.dtype }
    /// True when the file carries a `mask` tensor.
    public var hasMask: Bool { maskBits != nil }

    /// Opens and validates a dataset.
    ///
    /// - Parameters:
    ///   - url: the safetensors file.
    ///   - vocabURL: the token strings; default `vocab.json` in the same folder.
    /// - Throws: `AutoInterpError.invalidFile` naming the file and what is wrong.
    public init(url: URL, vocabURL: URL? = nil) throws {
        self.url = url
        let path = url.path
        file = try SafeTensorsFile(url: url)
        let tokens = try file.info("tokens")
        guard tokens.dtype == .I32 || tokens.dtype == .I64, tokens.shape.count == 2 else {
            throw AutoInterpError.invalidFile(path, "'tokens' must be I32 or I64 [n_contexts, context_len], found \(tokens.dtype.rawValue) \(tokens.shape)")
        }
        let activations = try file.info("activations")
        guard [.F32, .F16, .BF16].contains(activations.dtype), activations.shape.count == 3 else {
            throw AutoInterpError.invalidFile(path, "'activations' must be F32, F16 or BF16 [n_contexts, context_len, d], found \(activations.dtype.rawValue) \(activations.shape)")
        }
        guard Array(activations.shape.prefix(2)) == tokens.shape else {
            throw AutoInterpError.invalidFile(path, "'activations' \(activations.shape) does not match 'tokens' \(tokens.shape) in its first two dimensions")
        }
        guard tokens.shape[0] > 0, tokens.shape[1] > 0 else {
            throw AutoInterpError.invalidFile(path, "holds no contexts ('tokens' has shape \(tokens.shape)); write at least one context of at least one token")
        }
        guard activations.shape[2] > 0 else {
            throw AutoInterpError.invalidFile(path, "'activations' has width 0 \(activations.shape): there are no neurons to study (write the layer's activations)")
        }
        contextCount = tokens.shape[0]
        contextLength = tokens.shape[1]
        width = activations.shape[2]
        tokenInfo = tokens
        activationInfo = activations
        tokenIDs = try file.int64s("tokens").enumerated().map { index, id in
            guard id >= 0, id <= Int64(Int32.max) else {
                throw AutoInterpError.invalidFile(path, "token id \(id) at position \(index) is negative or too large")
            }
            return Int32(id)
        }
        if file.contains("mask") {
            let mask = try file.info("mask")
            guard mask.dtype == .U8 || mask.dtype == .BOOL, mask.shape == tokens.shape else {
                throw AutoInterpError.invalidFile(path, "'mask' must be U8 \(tokens.shape), found \(mask.dtype.rawValue) \(mask.shape)")
            }
            maskInfo = mask
            maskBits = Array(file.rawBytes(mask))
        } else {
            maskInfo = nil
            maskBits = nil
        }
        specialTokenIDs = try Self.parseSpecialTokens(file.metadata["special_token_ids"], path: path)

        let vocabURL = vocabURL ?? url.deletingLastPathComponent().appendingPathComponent("vocab.json")
        self.vocabURL = vocabURL
        vocabulary = try Self.loadVocabulary(vocabURL)
        if let largest = tokenIDs.max(), Int(largest) >= vocabulary.count {
            throw AutoInterpError.invalidFile(
                vocabURL.path, "has \(vocabulary.count) entries but \(path) uses token id \(largest) (pass the matching vocabulary with --vocab)")
        }
    }

    // MARK: - Tokens and mask

    /// Token ids of one context (padding included).
    public func tokens(context: Int) -> ArraySlice<Int32> {
        tokenIDs[(context * contextLength)..<((context + 1) * contextLength)]
    }

    /// Whether each position of a context is a real token (all true without a mask).
    public func mask(context: Int) -> [Bool]? {
        guard let maskBits else { return nil }
        return maskBits[(context * contextLength)..<((context + 1) * contextLength)].map { $0 != 0 }
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
    /// - Throws: `AutoInterpError.invalidFile` if a value is NaN or infinite, naming the context.
    public func readActivations(contexts: Range<Int>, into destination: UnsafeMutablePointer<Float>) throws {
        precondition(contexts.lowerBound >= 0 && contexts.upperBound <= contextCount)
        let perContext = contextLength * width
        let elements = (contexts.lowerBound * perContext)..<(contexts.upperBound * perContext)
        try file.copyFloats(activationInfo, elements: elements, into: destination)
        // NaN or Inf poisons every statistic downstream: find it here, once, with its place.
        var bad = -1
        for i in 0..<elements.count where !destination[i].isFinite {
            bad = i
            break
        }
        if bad >= 0 {
            let context = contexts.lowerBound + bad / perContext
            let position = (bad % perContext) / width
            throw AutoInterpError.invalidFile(
                url.path, "activation \(destination[bad]) (not finite) at context \(context), position \(position), neuron \(bad % width)")
        }
    }

    /// Lets the OS drop the mapped pages of `contexts` once they are read (keeps resident memory bounded).
    public func releasePages(contexts: Range<Int>) {
        let perContext = contextLength * width
        file.releasePages(activationInfo, elements: (contexts.lowerBound * perContext)..<(contexts.upperBound * perContext))
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
            throw AutoInterpError.io(url.path, "cannot read the vocabulary (put vocab.json beside the dataset or pass --vocab FILE)")
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
