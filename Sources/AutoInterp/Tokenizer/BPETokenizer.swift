package import Foundation

/// An added token of a BPE tokenizer (`added_tokens` in `tokenizer.json`): matched in the raw text
/// before pre-tokenisation and never split.
package struct BPEAddedToken: Sendable, Equatable {
    package var id: Int32
    package var content: String
    /// Whitespace before the token is absorbed into it.
    package var lstrip: Bool
    /// Whitespace after the token is absorbed into it.
    package var rstrip: Bool
    /// A special (control) token such as BOS or a chat-template marker.
    package var special: Bool

    package init(id: Int32, content: String, lstrip: Bool = false, rstrip: Bool = false, special: Bool = true) {
        self.id = id
        self.content = content
        self.lstrip = lstrip
        self.rstrip = rstrip
        self.special = special
    }
}

/// Byte-level BPE (GPT-2, Llama 3, SmolLM2, Qwen2), giving the ids Hugging Face `tokenizers` gives
/// for `encode(text, add_special_tokens=False)`.
///
/// Added tokens are cut out of the text first (leftmost, then longest), the rest is normalised
/// (NFC when the tokenizer says so), pre-tokenised (`BPEPreTokenizer`), and each piece's UTF-8
/// bytes are merged by rank. Nothing is prepended: BOS is the caller's choice (`--prepend-bos`).
package struct BPETokenizer: Sendable {
    /// Token text by id as the vocabulary writes it (byte-mapped: `Ġthe`).
    package let vocabulary: [String]
    /// The added tokens, by id.
    package let addedTokens: [Int32: BPEAddedToken]
    package let preTokenizer: BPEPreTokenizer
    /// Apply Unicode NFC before pre-tokenising.
    package let nfc: Bool
    /// Look a whole piece up before merging (`ignore_merges`, Llama 3).
    package let ignoreMerges: Bool
    /// The id a byte missing from the vocabulary becomes (`unk_token`); without one such bytes are
    /// dropped, as `tokenizers` does.
    package let unknownID: Int32?

    /// Raw bytes of each id (empty for an id with no byte form).
    private let tokenBytes: [[UInt8]]
    private let idsByBytes: [[UInt8]: Int32]
    private let byteIDs: [Int32]
    /// (left id << 32 | right id) → (rank, merged id).
    private let merges: [UInt64: (rank: Int32, id: Int32)]
    private let matcher: AddedTokenMatcher

    /// A tokenizer from its parts.
    ///
    /// - Parameters:
    ///   - vocabulary: byte-mapped token text by id.
    ///   - merges: pairs of byte-mapped tokens, highest priority first.
    ///   - source: the file, for error messages.
    /// - Throws: `AutoInterpError.invalidFile` when a merge or byte is missing from the vocabulary.
    package init(
        vocabulary: [String], merges mergeList: [(String, String)], addedTokens: [BPEAddedToken], preTokenizer: BPEPreTokenizer,
        nfc: Bool = false, ignoreMerges: Bool = false, unknownID: Int32? = nil, source: String
    ) throws {
        func fail(_ problem: String) -> AutoInterpError { .invalidFile(source, problem) }
        var vocabulary = vocabulary
        for token in addedTokens {
            guard token.id >= 0 else { throw fail("added token '\(token.content)' has negative id \(token.id)") }
            while vocabulary.count <= Int(token.id) { vocabulary.append("") }
            if vocabulary[Int(token.id)].isEmpty { vocabulary[Int(token.id)] = token.content }
        }
        self.vocabulary = vocabulary
        self.preTokenizer = preTokenizer
        self.nfc = nfc
        self.ignoreMerges = ignoreMerges
        self.unknownID = unknownID
        let added = Dictionary(addedTokens.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
        self.addedTokens = added
        var bytes: [[UInt8]] = []
        bytes.reserveCapacity(vocabulary.count)
        var byBytes: [[UInt8]: Int32] = [:]
        byBytes.reserveCapacity(vocabulary.count)
        for (id, text) in vocabulary.enumerated() {
            guard added[Int32(id)] == nil, let raw = ByteLevelMap.decode(text), !raw.isEmpty else {
                bytes.append(Array(text.utf8))
                continue
            }
            bytes.append(raw)
            if byBytes[raw] == nil { byBytes[raw] = Int32(id) }
        }
        tokenBytes = bytes
        idsByBytes = byBytes
        // A byte without a token (real vocabularies lack some control bytes) is -1: unknown.
        let singles = (0..<256).map { byBytes[[UInt8($0)]] ?? -1 }
        guard singles.filter({ $0 >= 0 }).count >= 128 else {
            throw fail(
                "the vocabulary has tokens for only \(singles.filter { $0 >= 0 }.count) of the 256 bytes; not a byte-level BPE tokenizer?")
        }
        byteIDs = singles
        var table: [UInt64: (rank: Int32, id: Int32)] = [:]
        table.reserveCapacity(mergeList.count)
        for (rank, pair) in mergeList.enumerated() {
            guard let left = ByteLevelMap.decode(pair.0).flatMap({ byBytes[$0] }),
                let right = ByteLevelMap.decode(pair.1).flatMap({ byBytes[$0] }),
                let merged = byBytes[tokenBytes[Int(left)] + tokenBytes[Int(right)]]
            else {
                throw fail("merge \(rank) '\(pair.0) \(pair.1)' names a token that is not in the vocabulary")
            }
            let key = UInt64(UInt32(left)) << 32 | UInt64(UInt32(right))
            if table[key] == nil { table[key] = (Int32(rank), merged) }
        }
        merges = table
        matcher = try AddedTokenMatcher(addedTokens, source: source)
    }

    /// The number of ids (vocabulary plus added tokens).
    package var count: Int { vocabulary.count }

    /// The id of an added token, by its text.
    package func addedTokenID(_ content: String) -> Int32? {
        addedTokens.values.first { $0.content == content }?.id
    }

    // MARK: - Encoding

    /// The token ids of `text`, without BOS or any other template token.
    package func encode(_ text: String) -> [Int32] {
        var ids: [Int32] = []
        for segment in splitAddedTokens(text) {
            switch segment {
            case .added(let id): ids.append(id)
            case .text(let part):
                let normalized = nfc ? part.precomposedStringWithCanonicalMapping : part
                for piece in preTokenizer.pieces(normalized) { encodePiece(Array(piece.utf8), into: &ids) }
            }
        }
        return ids
    }

    /// The text of one id, its bytes decoded as UTF-8 (invalid sequences become U+FFFD).
    package func text(of id: Int32) -> String {
        guard id >= 0, Int(id) < tokenBytes.count else { return "" }
        return String(decoding: tokenBytes[Int(id)], as: UTF8.self)
    }

    /// The text of several ids, bytes joined before decoding (a character split across tokens survives).
    package func decode(_ ids: [Int32]) -> String {
        String(decoding: ids.flatMap { id in id >= 0 && Int(id) < tokenBytes.count ? tokenBytes[Int(id)] : [] }, as: UTF8.self)
    }

    typealias Segment = AddedTokenMatcher.Segment

    /// Cuts the added tokens out of `text` (see `AddedTokenMatcher`).
    func splitAddedTokens(_ text: String) -> [Segment] { matcher.split(text) }

    /// BPE on one piece's bytes: repeatedly merge the adjacent pair of lowest rank (leftmost on ties).
    private func encodePiece(_ bytes: [UInt8], into ids: inout [Int32]) {
        if bytes.isEmpty { return }
        if ignoreMerges, let whole = idsByBytes[bytes] {
            ids.append(whole)
            return
        }
        var symbols = bytes.map { byteIDs[Int($0)] }
        if symbols.contains(-1) {
            symbols = symbols.compactMap { $0 >= 0 ? $0 : unknownID }
            if symbols.isEmpty { return }
        }
        BPEMerging.merge(&symbols, merges)
        ids.append(contentsOf: symbols)
    }
}
