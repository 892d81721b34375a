import Foundation
import Testing
@testable import AutoInterp
import AutoInterpTestSupport

/// WordPiece tokenizer on tricky inputs, against hand-derived expectations.
struct TokenizerTests {
    /// A small vocabulary: specials first, as BERT's vocab.txt has them.
    static let vocabulary = [
        "[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]",
        "cafe", "naive", "don", "'", "t", "!", "un", "##aff", "##able", "the",
        "a", "##b", "##c", ",", ".", "中", "国", "hello", "world", "x", "##x", "é", "(", ")", "_",
        "##s", "cat", "run", "##ning", "-", "$", "\u{201C}", "\u{201D}",
    ]

    static func tokenizer(lowercase: Bool = true, stripAccents: Bool? = nil) throws -> WordPieceTokenizer {
        try WordPieceTokenizer(vocabulary: vocabulary, normalizer: BertTextNormalizer(lowercase: lowercase, stripAccents: stripAccents))
    }

    @Test func accentsAreStrippedAndCaseLowered() throws {
        let t = try Self.tokenizer()
        #expect(t.tokenize("Café naïve") == ["cafe", "naive"])
        #expect(t.tokenize("CAFÉ NAÏVE") == ["cafe", "naive"])
        // Already decomposed input (e + combining acute) gives the same.
        #expect(t.tokenize("Cafe\u{301}") == ["cafe"])
    }

    @Test func accentsKeptWithoutLowercasing() throws {
        let t = try Self.tokenizer(lowercase: false)
        #expect(t.tokenize("é") == ["é"])
        // Canonically equivalent but differently encoded: the reference matches bytes, not equivalence.
        #expect(t.tokenize("e\u{301}") == ["[UNK]"])
        #expect(t.tokenize("Hello") == ["[UNK]"])
    }

    @Test func punctuationIsSplitOff() throws {
        let t = try Self.tokenizer()
        #expect(t.tokenize("don't!") == ["don", "'", "t", "!"])
        #expect(t.tokenize("(hello),world.") == ["(", "hello", ")", ",", "world", "."])
        // `$` and `_` are ASCII punctuation in BERT's definition; curly quotes are Unicode Pi/Pf.
        #expect(t.tokenize("$x_x") == ["$", "x", "_", "x"])
        #expect(t.tokenize("\u{201C}cat\u{201D}") == ["\u{201C}", "cat", "\u{201D}"])
        #expect(t.tokenize("run-running") == ["run", "-", "run", "##ning"])
    }

    @Test func unknownWordsBecomeOneUnk() throws {
        let t = try Self.tokenizer()
        #expect(t.tokenize("zebra") == ["[UNK]"])
        // A word whose tail cannot be matched is one [UNK], not partial pieces.
        #expect(t.tokenize("unaffz cat") == ["[UNK]", "cat"])
    }

    @Test func longWordsSplitIntoContinuationPieces() throws {
        let t = try Self.tokenizer()
        #expect(t.tokenize("unaffable") == ["un", "##aff", "##able"])
        #expect(t.tokenize("abc") == ["a", "##b", "##c"])
        #expect(t.tokenize("xxxx") == ["x", "##x", "##x", "##x"])
        #expect(t.tokenize("cats") == ["cat", "##s"])
    }

    @Test func wordsOverTheLengthLimitAreUnknown() throws {
        let t = try Self.tokenizer()
        #expect(t.tokenize(String(repeating: "x", count: 100)).count == 100)
        #expect(t.tokenize(String(repeating: "x", count: 101)) == ["[UNK]"])
    }

    @Test func chineseCharactersAreSeparateWords() throws {
        let t = try Self.tokenizer()
        #expect(t.tokenize("中国") == ["中", "国"])
        #expect(t.tokenize("a中国cat") == ["a", "中", "国", "cat"])
    }

    @Test func controlCharactersAndWhitespaceAreCleaned() throws {
        let t = try Self.tokenizer()
        #expect(t.tokenize("hello\u{0}\u{7}\u{200B}world") == ["[UNK]"])  // ZWSP is Cf: dropped, words join
        #expect(t.tokenize("hel\u{7}lo") == ["hello"])
        #expect(t.tokenize("hello\tworld\r\n\u{A0}cat\u{3000}.") == ["hello", "world", "cat", "."])
        #expect(t.tokenize("\u{FFFD}cat") == ["cat"])
        #expect(t.tokenize("") == [])
        #expect(t.tokenize("  \n ") == [])
    }

    /// Hugging Face `tokenizers` classifies characters with Unicode 8.0 tables; later additions are "unassigned".
    @Test func characterClassesFollowTheReferenceUnicodeTables() throws {
        let t = try Self.tokenizer()
        #expect(t.tokenize("cat\u{378}") == ["[UNK]"])  // unassigned: kept, not dropped as a control
        #expect(t.tokenize("cat" + String(Unicode.Scalar(0xFDD0)!)) == ["[UNK]"])  // noncharacter: kept
        #expect(t.tokenize("cat\u{E000}") == ["cat"])  // private use: dropped
        #expect(t.tokenize("cat\u{61D}cat") == ["[UNK]"])  // Po since Unicode 14: not punctuation here
        #expect(t.tokenize("cat\u{890}") == ["[UNK]"])  // Cf since Unicode 14: not a control here
        #expect(t.tokenize("cat\u{2E2E}cat") == ["cat", "[UNK]", "cat"])  // Po in Unicode 8: punctuation
        #expect(t.tokenize("cat\u{166D}cat") == ["cat", "[UNK]", "cat"])  // Po in Unicode 8, So today
    }

    @Test func literalSpecialTokensStayWhole() throws {
        let t = try Self.tokenizer()
        #expect(t.tokenize("cat [MASK] a[SEP]") == ["cat", "[MASK]", "a", "[SEP]"])
        #expect(t.tokenize("[mask] (cat)") == ["[UNK]", "[UNK]", "[UNK]", "(", "cat", ")"])
    }

    @Test func encodeAddsClsAndSep() throws {
        let t = try Self.tokenizer()
        let e = t.encode("hello world", maxLength: 16)
        #expect(e.tokens == ["[CLS]", "hello", "world", "[SEP]"])
        #expect(e.ids == [2, 22, 23, 3])
        #expect(!e.truncated)
    }

    @Test func truncationKeepsSep() throws {
        let t = try Self.tokenizer()
        let e = t.encode("hello world cat a the", maxLength: 4)
        #expect(e.tokens == ["[CLS]", "hello", "world", "[SEP]"])
        #expect(e.truncated)
        let exact = t.encode("hello world", maxLength: 4)
        #expect(exact.tokens == ["[CLS]", "hello", "world", "[SEP]"])
        #expect(!exact.truncated)
        #expect(t.encode("", maxLength: 4).tokens == ["[CLS]", "[SEP]"])
    }

    @Test func specialTokenIDs() throws {
        let t = try Self.tokenizer()
        #expect(t.specialTokenIDs == [0, 1, 2, 3, 4])
        #expect(t.paddingID == 0)
        #expect(t.id(of: "##aff") == 12)
    }

    @Test func loadsVocabFileAndConfig() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        try (Self.vocabulary.joined(separator: "\n") + "\n").write(to: dir.path("vocab.txt"), atomically: true, encoding: .utf8)
        try #"{"do_lower_case": false}"#.write(to: dir.path("tokenizer_config.json"), atomically: true, encoding: .utf8)
        let t = try WordPieceTokenizer.load(modelDirectory: dir.url)
        #expect(t.vocabulary == Self.vocabulary)
        #expect(t.tokenize("Hello hello") == ["[UNK]", "hello"])
        let lowered = try WordPieceTokenizer(vocabURL: dir.path("vocab.txt"), lowercase: true)
        #expect(lowered.tokenize("Hello") == ["hello"])
    }

    @Test func missingVocabularyIsOneLineError() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        #expect(throws: AutoInterpError.self) { try WordPieceTokenizer.load(modelDirectory: dir.url) }
        #expect(throws: AutoInterpError.self) { try WordPieceTokenizer(vocabulary: ["a", "b"]) }
    }
}
