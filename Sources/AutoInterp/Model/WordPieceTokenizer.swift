package import Foundation

/// One text encoded for a BERT-family model: `[CLS] pieces… [SEP]`, truncated, not padded.
package struct WordPieceEncoding: Sendable, Equatable {
    /// Token ids, starting with `[CLS]` and ending with `[SEP]`.
    package var ids: [Int32]
    /// The token strings of `ids`.
    package var tokens: [String]
    /// Whether word pieces were dropped to fit `maxLength`.
    package var truncated: Bool

    package init(ids: [Int32], tokens: [String], truncated: Bool) {
        self.ids = ids
        self.tokens = tokens
        self.truncated = truncated
    }
}

/// BERT's WordPiece tokenizer: `BertNormalizer` + `BertPreTokenizer` + greedy longest-match-first
/// WordPiece with `##` continuations, as Hugging Face `tokenizers` runs it for `tokenizer.json`
/// files of type `WordPiece`.
///
/// Special tokens written literally in the text (`[CLS]`, `[SEP]`, `[MASK]`, …) are matched
/// before normalisation and kept whole, as the reference's added-token pass does.
package struct WordPieceTokenizer: Sendable {
    /// Token strings by id (line `i` of `vocab.txt` is id `i`).
    package let vocabulary: [String]
    /// The normaliser and pre-tokeniser settings.
    package let normalizer: BertTextNormalizer
    /// Words longer than this many scalars become `[UNK]`.
    package let maxInputCharsPerWord: Int
    /// Prefix of a piece that continues a word.
    package let continuingSubwordPrefix: String

    package let unknownToken: String
    package let classifierToken: String
    package let separatorToken: String
    package let paddingToken: String
    package let maskToken: String

    /// Lookup keyed by UTF-8 bytes: `String` equality is canonical equivalence, the reference's is not.
    private let ids: [[UInt8]: Int32]
    private let maxPieceBytes: Int
    /// Special tokens matched literally in raw text, longest first.
    private let specialScalars: [[Unicode.Scalar]]

    // MARK: - Loading

    /// A tokenizer over `vocab.txt` (one token per line, id = line number).
    ///
    /// - Parameters:
    ///   - vocabURL: the `vocab.txt` file.
    ///   - lowercase: lower-case (and, unless `stripAccents` says otherwise, strip accents).
    ///   - stripAccents: `nil` follows `lowercase`.
    /// - Throws: `AutoInterpError` if the file cannot be read or lacks `[UNK]`, `[CLS]` or `[SEP]`.
    package init(vocabURL: URL, lowercase: Bool, stripAccents: Bool? = nil, handleChineseChars: Bool = true) throws {
        let data: Data
        do {
            data = try Data(contentsOf: vocabURL)
        } catch {
            throw AutoInterpError.io(vocabURL.path, "cannot read the WordPiece vocabulary: \(error.localizedDescription)")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw AutoInterpError.invalidFile(vocabURL.path, "not UTF-8 text; expected one WordPiece token per line")
        }
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        if lines.last == "" { lines.removeLast() }
        try self.init(
            vocabulary: lines, normalizer: BertTextNormalizer(
                lowercase: lowercase, stripAccents: stripAccents, handleChineseChars: handleChineseChars),
            source: vocabURL.path)
    }

    /// A tokenizer over an in-memory vocabulary (id = index).
    ///
    /// - Throws: `AutoInterpError` if the vocabulary lacks `[UNK]`, `[CLS]` or `[SEP]`.
    package init(
        vocabulary: [String], normalizer: BertTextNormalizer = BertTextNormalizer(),
        maxInputCharsPerWord: Int = 100, source: String = "vocabulary"
    ) throws {
        self.vocabulary = vocabulary
        self.normalizer = normalizer
        self.maxInputCharsPerWord = maxInputCharsPerWord
        self.continuingSubwordPrefix = "##"
        self.unknownToken = "[UNK]"
        self.classifierToken = "[CLS]"
        self.separatorToken = "[SEP]"
        self.paddingToken = "[PAD]"
        self.maskToken = "[MASK]"
        var ids: [[UInt8]: Int32] = [:]
        ids.reserveCapacity(vocabulary.count)
        var longest = 0
        for (i, token) in vocabulary.enumerated() {
            let bytes = Array(token.utf8)
            ids[bytes] = Int32(i)  // a later duplicate wins, as in Hugging Face's load_vocab
            longest = max(longest, bytes.count)
        }
        self.ids = ids
        self.maxPieceBytes = longest
        for required in ["[UNK]", "[CLS]", "[SEP]"] where ids[Array(required.utf8)] == nil {
            throw AutoInterpError.invalidFile(source, "the WordPiece vocabulary has no \(required) token; use the model's own vocab.txt")
        }
        let specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"].filter { ids[Array($0.utf8)] != nil }
        self.specialScalars = specials.map { Array($0.unicodeScalars) }.sorted { $0.count > $1.count }
    }

    /// The tokenizer of a Hugging Face model folder: `vocab.txt` plus the lower-casing and
    /// accent settings of `tokenizer.json` (its `BertNormalizer`) or `tokenizer_config.json`.
    ///
    /// - Throws: `AutoInterpError` if `vocab.txt` is missing or a config file is malformed.
    package static func load(modelDirectory: URL) throws -> WordPieceTokenizer {
        let vocabURL = modelDirectory.appendingPathComponent("vocab.txt")
        guard FileManager.default.fileExists(atPath: vocabURL.path) else {
            throw AutoInterpError.invalidFile(modelDirectory.path, "no vocab.txt; a BERT model folder needs its WordPiece vocabulary")
        }
        var lowercase = true
        var stripAccents: Bool? = nil
        var chinese = true
        let tokenizerJSON = modelDirectory.appendingPathComponent("tokenizer.json")
        let configJSON = modelDirectory.appendingPathComponent("tokenizer_config.json")
        if let object = try readJSONObject(tokenizerJSON),
           let norm = object["normalizer"] as? [String: Any], norm["type"] as? String == "BertNormalizer" {
            lowercase = norm["lowercase"] as? Bool ?? true
            stripAccents = norm["strip_accents"] as? Bool
            chinese = norm["handle_chinese_chars"] as? Bool ?? true
        } else if let object = try readJSONObject(configJSON) {
            lowercase = object["do_lower_case"] as? Bool ?? true
            stripAccents = object["strip_accents"] as? Bool
            chinese = object["tokenize_chinese_chars"] as? Bool ?? true
        }
        return try WordPieceTokenizer(
            vocabURL: vocabURL, lowercase: lowercase, stripAccents: stripAccents, handleChineseChars: chinese)
    }

    private static func readJSONObject(_ url: URL) throws -> [String: Any]? {
        guard FileManager.default.fileExists(atPath: url.path) else { return nil }
        do {
            let data = try Data(contentsOf: url)
            guard let object = try JSONSerialization.jsonObject(with: data) as? [String: Any] else {
                throw AutoInterpError.invalidFile(url.path, "expected a JSON object")
            }
            return object
        } catch let error as AutoInterpError {
            throw error
        } catch {
            throw AutoInterpError.invalidFile(url.path, "not valid JSON (\(error.localizedDescription)); restore the model's original file")
        }
    }

    // MARK: - Ids

    /// The id of a token string, if it is in the vocabulary.
    package func id(of token: String) -> Int32? { ids[Array(token.utf8)] }

    package var unknownID: Int32 { ids[Array(unknownToken.utf8)]! }
    package var classifierID: Int32 { ids[Array(classifierToken.utf8)]! }
    package var separatorID: Int32 { ids[Array(separatorToken.utf8)]! }
    /// The `[PAD]` id, or 0 when the vocabulary has no `[PAD]`.
    package var paddingID: Int32 { ids[Array(paddingToken.utf8)] ?? 0 }

    /// Ids of the special tokens present in the vocabulary (`[PAD]`, `[UNK]`, `[CLS]`, `[SEP]`, `[MASK]`), ascending.
    package var specialTokenIDs: [Int32] {
        [paddingToken, unknownToken, classifierToken, separatorToken, maskToken]
            .compactMap { ids[Array($0.utf8)] }.sorted()
    }

    // MARK: - Tokenising

    /// The word pieces of `text`, without `[CLS]`/`[SEP]`.
    package func tokenize(_ text: String) -> [String] {
        pieceIDs(text).map { vocabulary[Int($0)] }
    }

    /// `[CLS] pieces… [SEP]` ids, keeping at most `maxLength` tokens (pieces are cut, `[SEP]` stays).
    ///
    /// - Parameter maxLength: the longest result, at least 2.
    package func encode(_ text: String, maxLength: Int = 512) -> WordPieceEncoding {
        precondition(maxLength >= 2, "maxLength must leave room for [CLS] and [SEP]")
        var pieces = pieceIDs(text)
        let room = maxLength - 2
        let truncated = pieces.count > room
        if truncated { pieces.removeLast(pieces.count - room) }
        let out = [classifierID] + pieces + [separatorID]
        return WordPieceEncoding(ids: out, tokens: out.map { vocabulary[Int($0)] }, truncated: truncated)
    }

    /// Word-piece ids of `text`, special tokens in it kept whole.
    package func pieceIDs(_ text: String) -> [Int32] {
        var out: [Int32] = []
        for segment in splitOnSpecialTokens(Array(text.unicodeScalars)) {
            switch segment {
            case .special(let id):
                out.append(id)
            case .text(let scalars):
                var view = String.UnicodeScalarView()
                view.append(contentsOf: scalars)
                let normalized = normalizer.normalize(String(view))
                for word in normalizer.preTokenize(normalized) {
                    wordPiece(word, into: &out)
                }
            }
        }
        return out
    }

    private enum Segment {
        case text([Unicode.Scalar])
        case special(Int32)
    }

    /// Leftmost-longest literal matches of the special tokens in raw text.
    private func splitOnSpecialTokens(_ scalars: [Unicode.Scalar]) -> [Segment] {
        guard !specialScalars.isEmpty, scalars.contains("[") else { return [.text(scalars)] }
        var segments: [Segment] = []
        var start = 0
        var i = 0
        outer: while i < scalars.count {
            if scalars[i] == "[" {
                for special in specialScalars where i + special.count <= scalars.count {
                    if scalars[i..<(i + special.count)].elementsEqual(special) {
                        if start < i { segments.append(.text(Array(scalars[start..<i]))) }
                        var view = String.UnicodeScalarView()
                        view.append(contentsOf: special)
                        segments.append(.special(ids[Array(String(view).utf8)]!))
                        i += special.count
                        start = i
                        continue outer
                    }
                }
            }
            i += 1
        }
        if start < scalars.count { segments.append(.text(Array(scalars[start...]))) }
        return segments
    }

    /// Greedy longest-match-first WordPiece of one word; the whole word is `[UNK]` if any part fails.
    private func wordPiece(_ word: [Unicode.Scalar], into out: inout [Int32]) {
        if word.count > maxInputCharsPerWord {
            out.append(unknownID)
            return
        }
        // UTF-8 offset of every scalar boundary, so candidates are byte slices.
        var bytes: [UInt8] = []
        var offsets: [Int] = [0]
        for scalar in word {
            bytes.append(contentsOf: String(scalar).utf8)
            offsets.append(bytes.count)
        }
        let prefix = Array(continuingSubwordPrefix.utf8)
        let mark = out.count
        var start = 0
        while start < word.count {
            var end = word.count
            var found: Int32? = nil
            while start < end {
                let length = offsets[end] - offsets[start] + (start > 0 ? prefix.count : 0)
                if length <= maxPieceBytes {
                    var key = start > 0 ? prefix : []
                    key.append(contentsOf: bytes[offsets[start]..<offsets[end]])
                    if let id = ids[key] {
                        found = id
                        break
                    }
                }
                end -= 1
            }
            guard let id = found else {
                out.removeLast(out.count - mark)
                out.append(unknownID)
                return
            }
            out.append(id)
            start = end
        }
    }
}
