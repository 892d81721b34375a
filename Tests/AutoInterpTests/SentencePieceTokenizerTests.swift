import AutoInterpTestSupport
import Foundation
import Testing

@testable import AutoInterp

/// Gemma-style SentencePiece BPE (byte fallback, `▁` normalizer) against Hugging Face `tokenizers` on the
/// hostile text list, from `tokenizer.json` and from a Gemma GGUF's `tokenizer.ggml.*` as transformers reads it
/// (`Tests/Scripts/make_spm_fixtures.py`: a tiny tokenizer trained in Gemma's layout, since no Gemma tokenizer
/// exists offline at fixture size).
struct SentencePieceTokenizerTests {
    static let fixtures = BPETokenizerTests.fixtures
    static let gguf = DecoderModelTests.fixtures.appendingPathComponent("gemma3-gguf/model.gguf")

    static func tokenizer(_ source: String) throws -> any DecoderTokenizer {
        source == "json"
            ? try DecoderTokenizers.load(tokenizerJSON: fixtures.appendingPathComponent("gemma.json"))
            : try DecoderTokenizers.load(gguf: GGUFFile(url: gguf))
    }

    @Test(arguments: ["json", "gguf"])
    func idsEqualHuggingFace(source: String) throws {
        let all = try JSONDecoder().decode(
            [String: [BPETokenizerTests.Case]].self, from: Data(contentsOf: Self.fixtures.appendingPathComponent("gemma-cases.json")))
        let cases = try #require(all[source])
        #expect(cases.count > 25)
        let tokenizer = try Self.tokenizer(source)
        #expect(tokenizer is SentencePieceTokenizer)
        for c in cases { #expect(tokenizer.encode(c.text) == c.ids, "\(source): \(c.text.debugDescription)") }
        // Byte fallback is exercised: some text becomes <0xXX> pieces.
        #expect(cases.contains { $0.ids.contains { (7..<263).contains($0) } })
    }

    @Test func specialAndUserDefinedTokensAreAddedTokens() throws {
        for source in ["json", "gguf"] {
            let tokenizer = try Self.tokenizer(source)
            let start = try #require(tokenizer.addedTokens.values.first { $0.content == "<start_of_turn>" })
            #expect(start.special, "\(source)")
            let newline = try #require(tokenizer.addedTokens.values.first { $0.content == "\n" })
            #expect(!newline.special, "\(source)")
            #expect(tokenizer.encode("a<start_of_turn>b").contains(start.id))
            #expect(tokenizer.text(of: 2) == "<bos>")
            // ▁ shows as a space, a byte piece as its byte.
            let piece = try #require(tokenizer.vocabulary.firstIndex { $0.hasPrefix("\u{2581}") && $0.count > 2 })
            #expect(tokenizer.text(of: Int32(piece)).hasPrefix(" "))
            #expect(tokenizer.text(of: 7 + 65) == "A")
        }
    }

    @Test func derivedMergesFollowTheFileOrderLongerLeftFirst() {
        let merges = SentencePieceTokenizer.derivedMerges(["a", "b", "c", "ab", "bc", "abc"])
        #expect(merges.map { "\($0.0) \($0.1)" } == ["a b", "b c", "ab c", "a bc"])
    }

    @Test func refusesWhatItCannotFollow() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let original = try String(contentsOf: Self.fixtures.appendingPathComponent("gemma.json"), encoding: .utf8)
        func rejection(_ edit: (String) -> String) -> String {
            let url = dir.path("tokenizer.json")
            do {
                try edit(original).write(to: url, atomically: true, encoding: .utf8)
                _ = try DecoderTokenizers.load(tokenizerJSON: url)
                return "accepted"
            } catch {
                return "\(error)"
            }
        }
        #expect(rejection { $0 } == "accepted")
        #expect(rejection { $0.replacingOccurrences(of: "\"type\": \"Replace\"", with: "\"type\": \"NFKC\"") }.contains("normalizer"))
        #expect(rejection { $0.replacingOccurrences(of: "\"MergedWithPrevious\"", with: "\"Isolated\"") }.contains("pre-tokenizer"))
        #expect(rejection { $0.replacingOccurrences(of: "\"fuse_unk\": true", with: "\"fuse_unk\": false") }.contains("fuse_unk"))
    }
}
