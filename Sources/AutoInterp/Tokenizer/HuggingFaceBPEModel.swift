import Foundation

/// The parts of a Hugging Face `tokenizer.json` BPE model that the byte-level reader
/// (``BPETokenizer``) and the SentencePiece-style one (``SentencePieceTokenizer``) read alike.
enum HuggingFaceBPEModel {
    typealias Problem = (String) -> AutoInterpError

    /// `model.vocab` as a token per id (ids 0..<10M; a gap is an empty token).
    static func vocabulary(_ model: [String: Any], fail: Problem) throws -> [String] {
        guard let vocab = model["vocab"] as? [String: Any] else { throw fail("model has no 'vocab' object") }
        var vocabulary: [String] = []
        for (token, value) in vocab {
            guard let number = value as? NSNumber, let id = Int(exactly: number.doubleValue), (0..<10_000_000).contains(id) else {
                throw fail("vocab entry '\(token)' has no valid id")
            }
            while vocabulary.count <= id { vocabulary.append("") }
            vocabulary[id] = token
        }
        return vocabulary
    }

    /// `model.merges`, each `"a b"` or `["a", "b"]`, in rank order.
    static func merges(_ model: [String: Any], fail: Problem) throws -> [(String, String)] {
        var merges: [(String, String)] = []
        for (index, item) in ((model["merges"] as? [Any]) ?? []).enumerated() {
            if let pair = item as? [String], pair.count == 2 {
                merges.append((pair[0], pair[1]))
            } else if let text = item as? String, let space = text.firstIndex(of: " ") {
                merges.append((String(text[..<space]), String(text[text.index(after: space)...])))
            } else {
                throw fail("merge \(index) is neither \"a b\" nor [\"a\", \"b\"]")
            }
        }
        return merges
    }

    /// The id of `model.unk_token`, when it names a vocabulary entry.
    static func unknownID(_ model: [String: Any]) -> Int32? {
        (model["unk_token"] as? String).flatMap { (model["vocab"] as? [String: Any])?[$0] as? NSNumber }.flatMap { Int32(exactly: $0.doubleValue) }
    }

    /// `added_tokens`; `single_word` is refused, and `check` may refuse more of an entry.
    static func addedTokens(
        _ root: [String: Any], fail: Problem, unsupported: Problem, check: (_ entry: [String: Any], _ content: String) throws -> Void = { _, _ in }
    ) throws -> [BPEAddedToken] {
        var added: [BPEAddedToken] = []
        for item in (root["added_tokens"] as? [[String: Any]]) ?? [] {
            guard let id = (item["id"] as? NSNumber).flatMap({ Int32(exactly: $0.doubleValue) }), let content = item["content"] as? String
            else {
                throw fail("an added_tokens entry lacks an integer id or a content string")
            }
            if item["single_word"] as? Bool == true { throw unsupported("added token '\(content)' with single_word") }
            try check(item, content)
            added.append(
                BPEAddedToken(
                    id: id, content: content, lstrip: item["lstrip"] as? Bool ?? false, rstrip: item["rstrip"] as? Bool ?? false,
                    special: item["special"] as? Bool ?? false))
        }
        return added
    }
}

/// BPE's merge loop over token ids: merge the adjacent pair of lowest rank until none merges.
enum BPEMerging {
    /// `merges` keyed by `left << 32 | right` (ids as `UInt32`), the merged id and its rank.
    static func merge(_ symbols: inout [Int32], _ merges: [UInt64: (rank: Int32, id: Int32)]) {
        while symbols.count > 1 {
            var best = Int32.max
            var at = -1
            var merged: Int32 = 0
            for j in 0..<(symbols.count - 1) {
                let key = UInt64(UInt32(symbols[j])) << 32 | UInt64(UInt32(symbols[j + 1]))
                if let m = merges[key], m.rank < best {
                    best = m.rank
                    at = j
                    merged = m.id
                }
            }
            if at < 0 { break }
            symbols[at] = merged
            symbols.remove(at: at + 1)
        }
    }
}
