package import Foundation

/// Picks the tokenizer a model folder's `tokenizer.json` or a GGUF's `tokenizer.ggml.*` describes.
package enum DecoderTokenizers {
    /// Byte-level BPE, or SentencePiece-style BPE when the model has `byte_fallback` (Gemma).
    package static func load(tokenizerJSON url: URL) throws -> any DecoderTokenizer {
        let data: Data
        do { data = try Data(contentsOf: url) } catch {
            throw AutoInterpError.io(url.path, "cannot read: \(error.localizedDescription)")
        }
        let root = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any]
        if let model = root?["model"] as? [String: Any], model["byte_fallback"] as? Bool == true, let root {
            return try SentencePieceTokenizer(tokenizerJSON: root, path: url.path)
        }
        return try BPETokenizer.load(tokenizerJSON: url)
    }

    /// `tokenizer.ggml.model` `gpt2` (byte-level BPE) or `llama` (SentencePiece, Gemma architectures).
    package static func load(gguf file: GGUFFile) throws -> any DecoderTokenizer {
        if try file.string("tokenizer.ggml.model") == "llama" { return try SentencePieceTokenizer(gguf: file) }
        return try BPETokenizer.load(gguf: file)
    }
}

extension SentencePieceTokenizer {
    /// A `tokenizer.json` whose model is `BPE` with `byte_fallback` (Gemma's layout): normalizer
    /// `Replace(" ", "▁")`, optionally after `Prepend("▁")`; no pre-tokenizer, or Gemma's
    /// `Split(" ", MergedWithPrevious)`, which finds no space once the normalizer has run.
    ///
    /// - Throws: `.unsupported` naming any other setting that would change the ids.
    init(tokenizerJSON root: [String: Any], path: String) throws {
        func fail(_ problem: String) -> AutoInterpError { .invalidFile(path, problem) }
        func unsupported(_ what: String) -> AutoInterpError { .unsupported("\(path): \(what) is not supported by this version") }
        guard let model = root["model"] as? [String: Any], model["type"] as? String == "BPE" else { throw fail("no BPE 'model' object") }
        if let dropout = model["dropout"], !(dropout is NSNull) { throw unsupported("BPE dropout") }
        if model["fuse_unk"] as? Bool == false { throw unsupported("byte-fallback BPE without fuse_unk") }
        for key in ["continuing_subword_prefix", "end_of_word_suffix"] {
            if let text = model[key] as? String, !text.isEmpty { throw unsupported("BPE \(key) '\(text)'") }
        }
        if model["ignore_merges"] as? Bool == true { throw unsupported("ignore_merges with byte_fallback") }
        let vocabulary = try HuggingFaceBPEModel.vocabulary(model, fail: fail)
        let merges = try HuggingFaceBPEModel.merges(model, fail: fail)
        let added = try HuggingFaceBPEModel.addedTokens(root, fail: fail, unsupported: unsupported) { item, content in
            if item["normalized"] as? Bool == true && item["special"] as? Bool != true {
                throw unsupported("added token '\(content)' matched after normalisation")
            }
        }
        // The normalizer: Replace(" " → "▁"), with or without a Prepend("▁") before it.
        var steps: [[String: Any]] = []
        if let normalizer = root["normalizer"] as? [String: Any] {
            steps = normalizer["type"] as? String == "Sequence" ? ((normalizer["normalizers"] as? [[String: Any]]) ?? []) : [normalizer]
        }
        var replaces = false
        var prepends = false
        for step in steps {
            switch step["type"] as? String {
            case "Replace":
                guard (step["pattern"] as? [String: Any])?["String"] as? String == " ", step["content"] as? String == Self.marker else {
                    throw unsupported("a Replace normalizer other than ' ' → '▁'")
                }
                replaces = true
            case "Prepend":
                guard step["prepend"] as? String == Self.marker, !replaces else { throw unsupported("a Prepend normalizer other than '▁' first") }
                prepends = true
            case let other: throw unsupported("normalizer '\(other ?? "?")' with byte_fallback")
            }
        }
        guard replaces else { throw unsupported("a byte-fallback BPE without the Replace(' ', '▁') normalizer") }
        if let pre = root["pre_tokenizer"] as? [String: Any] {
            let pattern = (pre["pattern"] as? [String: Any])?["String"] as? String
            guard pre["type"] as? String == "Split", pattern == " ", pre["behavior"] as? String == "MergedWithPrevious",
                pre["invert"] as? Bool != true
            else {
                throw unsupported("pre-tokenizer '\(pre["type"] as? String ?? "?")' with byte_fallback (none, or Gemma's Split on ' ')")
            }
        }
        let unknown = HuggingFaceBPEModel.unknownID(model)
        try self.init(vocabulary: vocabulary, merges: merges, addedTokens: added, prependMarker: prepends, unknownID: unknown, source: path)
    }

    /// A GGUF's SentencePiece vocabulary (`tokenizer.ggml.model` `llama`) of a Gemma architecture, built as
    /// `transformers` builds it from the same file: pieces that are runs of spaces respelled as `▁`s, merges
    /// from the file or else derived from the vocabulary (every split of a piece into two pieces, pieces in
    /// file order, longer left part first), control tokens (type 3) as special added tokens and
    /// user-defined ones (type 4, `\n`, `<table>`, …) as plain added tokens.
    ///
    /// - Throws: `.unsupported` for another architecture (Llama 2 style SentencePiece) or `add_space_prefix`.
    init(gguf file: GGUFFile) throws {
        let path = file.url.path
        let arch = try file.string("general.architecture") ?? "?"
        guard arch.hasPrefix("gemma") else {
            throw AutoInterpError.unsupported(
                "\(path): a SentencePiece tokenizer (tokenizer.ggml.model llama) for architecture '\(arch)' is not read by this version (Gemma's is)")
        }
        if file.metadata["tokenizer.ggml.add_space_prefix"]?.bool == true {
            throw AutoInterpError.unsupported("\(path): tokenizer.ggml.add_space_prefix true is not read by this version")
        }
        guard let raw = try file.strings("tokenizer.ggml.tokens") else { throw AutoInterpError.invalidFile(path, "no tokenizer.ggml.tokens") }
        let tokens = raw.map { token in
            !token.isEmpty && token.allSatisfy({ $0 == " " }) ? String(repeating: Self.marker, count: token.count) : token
        }
        let types = file.metadata["tokenizer.ggml.token_type"]?.array?.map { $0.int ?? 1 } ?? []
        var merges: [(String, String)] = []
        if let listed = try file.strings("tokenizer.ggml.merges") {
            merges = try listed.enumerated().map { index, text in
                guard let space = text.firstIndex(of: " ") else { throw AutoInterpError.invalidFile(path, "tokenizer.ggml.merges[\(index)] has no space") }
                return (String(text[..<space]), String(text[text.index(after: space)...]))
            }
        } else {
            merges = Self.derivedMerges(tokens)
        }
        var lastID: [[UInt8]: Int] = [:]
        for (id, token) in tokens.enumerated() { lastID[Array(token.utf8)] = id }
        var added: [BPEAddedToken] = []
        for (id, type) in types.enumerated() where id < raw.count && !raw[id].isEmpty {
            if type == 3 { added.append(BPEAddedToken(id: Int32(id), content: raw[id], special: true)) }
            // A user-defined run of spaces was respelled, so (as in transformers) it is no added token.
            if type == 4, let vocabID = lastID[Array(raw[id].utf8)] {
                added.append(BPEAddedToken(id: Int32(vocabID), content: raw[id], special: false))
            }
        }
        let unknown = try file.int("tokenizer.ggml.unknown_token_id").flatMap { Int32(exactly: $0) }
        try self.init(vocabulary: tokens, merges: merges, addedTokens: added, unknownID: unknown, source: path)
    }

    /// transformers' `generate_merges` with the file order as the score: for each piece (by its last id),
    /// every split into two pieces of the vocabulary, the longer left part first.
    static func derivedMerges(_ tokens: [String]) -> [(String, String)] {
        var lastID: [[UInt8]: Int] = [:]
        for (id, token) in tokens.enumerated() { lastID[Array(token.utf8)] = id }
        var merges: [(String, String)] = []
        for (id, token) in tokens.enumerated() where lastID[Array(token.utf8)] == id {
            let scalars = Array(token.unicodeScalars)
            guard scalars.count > 1 else { continue }
            for cut in stride(from: scalars.count - 1, through: 1, by: -1) {
                let left = String(String.UnicodeScalarView(scalars[..<cut]))
                let right = String(String.UnicodeScalarView(scalars[cut...]))
                if lastID[Array(left.utf8)] != nil && lastID[Array(right.utf8)] != nil { merges.append((left, right)) }
            }
        }
        return merges
    }
}
