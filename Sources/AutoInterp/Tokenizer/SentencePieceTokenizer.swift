package import Foundation

/// What the harvester needs from a decoder's tokenizer: ids for text, and a display string per id.
package protocol DecoderTokenizer: Sendable {
    /// Token text by id as the vocabulary writes it.
    var vocabulary: [String] { get }
    /// The added tokens (BOS, chat-template markers, …), by id.
    var addedTokens: [Int32: BPEAddedToken] { get }
    /// The token ids of `text`, without BOS or any other template token.
    func encode(_ text: String) -> [Int32]
    /// The text one id stands for.
    func text(of id: Int32) -> String
}

extension DecoderTokenizer {
    /// The number of ids.
    package var count: Int { vocabulary.count }
}

extension BPETokenizer: DecoderTokenizer {}

/// SentencePiece-style BPE (Gemma; `tokenizers`' `BPE` with `byte_fallback`), giving the ids Hugging Face
/// `tokenizers` gives for `encode(text, add_special_tokens=False)`.
///
/// Added tokens are cut out first (as `BPETokenizer` does); each remaining segment has its spaces
/// replaced by `▁` (the normalizer; with `Prepend("▁")` a `▁` first) and is one BPE word: its Unicode
/// scalars are the starting symbols, a scalar missing from the vocabulary becomes its UTF-8 bytes'
/// `<0xXX>` tokens (byte fallback), and adjacent pairs are merged lowest rank first, leftmost on ties.
package struct SentencePieceTokenizer: DecoderTokenizer {
    package let vocabulary: [String]
    package let addedTokens: [Int32: BPEAddedToken]
    /// `Prepend("▁")` in the normalizer (Llama 2 style); Gemma has none.
    package let prependMarker: Bool
    /// `unk_token`: a scalar with neither a token nor byte tokens becomes it (consecutive ones fused).
    package let unknownID: Int32?

    /// Piece bytes → id (bytes, not `String`: Swift equates canonically equivalent strings, `tokenizers` does not).
    private let ids: [[UInt8]: Int32]
    private let byteIDs: [Int32]
    private let byteOfID: [Int32: UInt8]
    /// (left id << 32 | right id) → (rank, merged id).
    private let merges: [UInt64: (rank: Int32, id: Int32)]
    private let matcher: AddedTokenMatcher

    static let marker = "\u{2581}"

    /// A tokenizer from its parts.
    ///
    /// - Parameter merges: pairs of pieces, highest priority first; a pair whose pieces or result are
    ///   not in the vocabulary is refused.
    package init(
        vocabulary: [String], merges mergeList: [(String, String)], addedTokens: [BPEAddedToken], prependMarker: Bool = false,
        unknownID: Int32?, source: String
    ) throws {
        var vocabulary = vocabulary
        for token in addedTokens {
            guard token.id >= 0 else { throw AutoInterpError.invalidFile(source, "added token '\(token.content)' has negative id \(token.id)") }
            while vocabulary.count <= Int(token.id) { vocabulary.append("") }
            if vocabulary[Int(token.id)].isEmpty { vocabulary[Int(token.id)] = token.content }
        }
        self.vocabulary = vocabulary
        self.addedTokens = Dictionary(addedTokens.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
        self.prependMarker = prependMarker
        self.unknownID = unknownID
        // As a Python dict built over the vocabulary in id order: a repeated piece keeps its last id.
        var ids: [[UInt8]: Int32] = [:]
        ids.reserveCapacity(vocabulary.count)
        for (id, piece) in vocabulary.enumerated() where !piece.isEmpty { ids[Array(piece.utf8)] = Int32(id) }
        self.ids = ids
        let bytes = (0..<256).map { ids[Array(String(format: "<0x%02X>", $0).utf8)] ?? -1 }
        byteIDs = bytes
        byteOfID = Dictionary(bytes.enumerated().filter { $0.element >= 0 }.map { ($0.element, UInt8($0.offset)) }, uniquingKeysWith: { a, _ in a })
        var table: [UInt64: (rank: Int32, id: Int32)] = [:]
        table.reserveCapacity(mergeList.count)
        for (rank, pair) in mergeList.enumerated() {
            let (a, b) = (Array(pair.0.utf8), Array(pair.1.utf8))
            guard let left = ids[a], let right = ids[b], let merged = ids[a + b] else {
                throw AutoInterpError.invalidFile(source, "merge \(rank) '\(pair.0) \(pair.1)' names a piece that is not in the vocabulary")
            }
            let key = UInt64(UInt32(left)) << 32 | UInt64(UInt32(right))
            if table[key] == nil { table[key] = (Int32(rank), merged) }
        }
        merges = table
        matcher = try AddedTokenMatcher(addedTokens, source: source)
    }

    package func encode(_ text: String) -> [Int32] {
        var out: [Int32] = []
        for segment in matcher.split(text) {
            switch segment {
            case .added(let id): out.append(id)
            case .text(let part):
                var normalized = part.replacingOccurrences(of: " ", with: Self.marker)
                if prependMarker && !normalized.isEmpty { normalized = Self.marker + normalized }
                encodeWord(normalized, into: &out)
            }
        }
        return out
    }

    /// The piece with `▁` shown as a space and a `<0xXX>` byte token as its byte (U+FFFD when not UTF-8 on its own).
    package func text(of id: Int32) -> String {
        guard id >= 0, Int(id) < vocabulary.count else { return "" }
        let piece = vocabulary[Int(id)]
        if addedTokens[id] == nil, let byte = byteOfID[id] { return String(decoding: [byte], as: UTF8.self) }
        return piece.replacingOccurrences(of: Self.marker, with: " ")
    }

    private func encodeWord(_ word: String, into out: inout [Int32]) {
        var symbols: [Int32] = []
        var lastUnknown = false
        for scalar in word.unicodeScalars {
            if let id = ids[Array(String(scalar).utf8)] {
                symbols.append(id)
                lastUnknown = false
                continue
            }
            let bytes = Array(String(scalar).utf8).map { byteIDs[Int($0)] }
            if !bytes.contains(-1) {
                symbols += bytes
                lastUnknown = false
            } else if let unknownID, !lastUnknown {
                symbols.append(unknownID)
                lastUnknown = true
            }
        }
        BPEMerging.merge(&symbols, merges)
        out += symbols
    }
}
