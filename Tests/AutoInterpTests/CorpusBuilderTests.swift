import AutoInterp
import AutoInterpTestSupport
import Foundation
import Testing

@testable import AutoInterpDemo

struct CorpusBuilderTests {
    static func sources(_ dir: TemporaryDirectory) throws -> [CorpusBuilder.Source] {
        let fortunes = dir.path("fortunes")
        let entries = (0..<200).map { "Fortune number \($0): a penny saved is a penny earned, more or less." }
        try entries.joined(separator: "\n%\n").write(to: fortunes, atomically: true, encoding: .utf8)
        let code = dir.path("code.py")
        let functions = (0..<200).map { "def f\($0)(x):\n    return x * \($0) + len(str(x))" }
        try functions.joined(separator: "\n\n").write(to: code, atomically: true, encoding: .utf8)
        return [
            .init(name: "prose", share: 0.5, files: { [fortunes] }, split: CorpusBuilder.fortunes),
            .init(name: "code", share: 0.5, files: { [code] }, split: CorpusBuilder.paragraphs),
        ]
    }

    @Test func buildsSharesDeterministically() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let builder = CorpusBuilder(snippets: 100, maxCharacters: 120, seed: 3, sources: try Self.sources(dir))
        let summary = try builder.build(to: dir.path("a.jsonl"))
        #expect(summary.snippets == 100 && summary.perSource == ["prose": 50, "code": 50])
        _ = try builder.build(to: dir.path("b.jsonl"))
        let a = try String(contentsOf: dir.path("a.jsonl"), encoding: .utf8)
        #expect(a == (try String(contentsOf: dir.path("b.jsonl"), encoding: .utf8)))
        let lines = a.split(separator: "\n")
        #expect(lines.count == 100)
        for line in lines {
            let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: String])
            let text = try #require(object["text"])
            #expect(text.count <= 120 && text.count >= 20)
            #expect(object["source"]?.hasPrefix("prose:") == true || object["source"]?.hasPrefix("code:") == true)
        }
    }

    @Test func tooLittleTextNamesThePackages() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let builder = CorpusBuilder(snippets: 10_000, seed: 0, sources: try Self.sources(dir))
        let error = #expect(throws: AutoInterpError.self) { try builder.build(to: dir.path("c.jsonl")) }
        #expect(error?.description.contains("apt-get install") == true)
    }

    @Test func cutKeepsPiecesShort() {
        let long = String(repeating: "word ", count: 100)
        let pieces = CorpusBuilder.cut("this short line is long enough\n" + long, max: 50)
        #expect(pieces.allSatisfy { $0.count <= 50 })
        #expect(pieces.joined(separator: " ").split(separator: " ").count == 106)
    }
}
