import AutoInterpTestSupport
import Foundation
import Testing

@testable import AutoInterp

/// Byte-level BPE against Hugging Face `tokenizers` on a hostile text list, for tokenizers in the
/// layouts of GPT-2, Llama 3, SmolLM2 and Qwen2 (`Tests/Scripts/make_bpe_fixtures.py`).
struct BPETokenizerTests {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/Tokenizers")

    struct Case: Decodable {
        var text: String
        var ids: [Int32]
    }

    static func cases() throws -> [String: [Case]] {
        try JSONDecoder().decode([String: [Case]].self, from: Data(contentsOf: fixtures.appendingPathComponent("cases.json")))
    }

    @Test(arguments: ["gpt2", "llama3", "smollm2", "qwen2"])
    func idsEqualHuggingFace(layout: String) throws {
        let tokenizer = try BPETokenizer.load(tokenizerJSON: Self.fixtures.appendingPathComponent("\(layout).json"))
        let cases = try #require(try Self.cases()[layout])
        #expect(cases.count > 20)
        for c in cases {
            let ids = tokenizer.encode(c.text)
            #expect(ids == c.ids, "\(layout): \(c.text.debugDescription)")
            #expect(
                tokenizer.decode(ids) == c.text || layout == "qwen2" || layout == "smollm2",
                "\(layout) round trip: \(c.text.debugDescription)")
        }
    }

    @Test func addedTokensAreCutOutWithTheirStrip() throws {
        let tokenizer = try BPETokenizer.load(tokenizerJSON: Self.fixtures.appendingPathComponent("smollm2.json"))
        let start = try #require(tokenizer.addedTokenID("<|im_start|>"))
        let tool = try #require(tokenizer.addedTokenID("<tool>"))
        #expect(tokenizer.splitAddedTokens("a<|im_start|>b") == [.text("a"), .added(start), .text("b")])
        #expect(tokenizer.splitAddedTokens("a  <tool>  b") == [.text("a"), .added(tool), .text("b")])
        #expect(tokenizer.text(of: start) == "<|im_start|>")
    }

    @Test func refusesWhatItCannotFollow() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let original = try String(contentsOf: Self.fixtures.appendingPathComponent("gpt2.json"), encoding: .utf8)
        func rejection(_ edit: (String) -> String) -> String {
            let url = dir.path("tokenizer.json")
            do {
                try edit(original).write(to: url, atomically: true, encoding: .utf8)
                _ = try BPETokenizer.load(tokenizerJSON: url)
                return "accepted"
            } catch {
                return "\(error)"
            }
        }
        #expect(rejection { $0 } == "accepted")
        #expect(
            rejection { $0.replacingOccurrences(of: "\"byte_fallback\": false", with: "\"byte_fallback\": true") }.contains("byte_fallback")
        )
        #expect(rejection { $0.replacingOccurrences(of: "\"type\": \"BPE\"", with: "\"type\": \"Unigram\"") }.contains("Unigram"))
        #expect(
            rejection { $0.replacingOccurrences(of: "\"normalizer\": null", with: "\"normalizer\": {\"type\": \"Lowercase\"}") }.contains(
                "Lowercase"))
        let firstMerge = "\"Ġ\",\n        \"Ġ\""
        #expect(rejection { $0.replacingOccurrences(of: firstMerge, with: "\"Ġ\",\n        \"ĠĠzz\"") }.contains("merge 0"))
        #expect(rejection { String($0.prefix(100)) }.contains("not a JSON object"))
    }
}
