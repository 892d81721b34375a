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
        #expect(error?.description.contains("fewer --snippets") == true)
    }

    /// A tree laid out like the pinned archive's, at `root`, with `extra` unrelated files.
    static func pinnedTree(_ root: URL, extra: Bool) throws {
        func write(_ path: String, _ text: String) throws {
            let url = root.appendingPathComponent(path)
            try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try text.write(to: url, atomically: true, encoding: .utf8)
        }
        for i in 0..<30 {
            let guide = (0..<20).map { "Paragraph \($0) of guide \(i): reStructuredText is plain text." }
            try write("docs/user/guide\(i).txt", guide.joined(separator: "\n\n"))
            try write("docutils/module\(i).py", (0..<20).map { "def f\($0)(x):\n    return x * \($0) + \(i)" }.joined(separator: "\n\n"))
            let page = (0..<20).map { "<p>Page \(i), paragraph \($0) of the HTML docs.</p>" }
            try write("docs/html/page\(i).html", page.joined(separator: "\n\n"))
        }
        try write("README.txt", "The top-level readme says what the package is, at some length.\n\nA second paragraph of it.")
        try write("test/functional/input/data.txt", "Test inputs are not prose of the docs and are not taken.")
        guard extra else { return }
        // What another package set adds: other files elsewhere, and an unrelated package's docs beside the archive.
        try write("docs/user/notes.md", "Markdown is not one of the chosen kinds.")
        try write("docutils/data/table.csv", "a,b,c")
        try write("../usr/share/doc/chromium/README.txt", "Chromium's documentation must not enter the corpus.")
    }

    @Test func pinnedSourcesHashTheSameOnDifferentPackageSetsAndFolders() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let a = dir.path("machine-a/cache/docutils-0.21.2"), b = dir.path("elsewhere/machine-b/unpacked/docutils-0.21.2")
        try Self.pinnedTree(a, extra: false)
        try Self.pinnedTree(b, extra: true)
        func build(_ root: URL, _ output: URL) throws -> CorpusBuilder.Summary {
            try CorpusBuilder(snippets: 200, seed: 0, sources: CorpusBuilder.pinnedSources(root: root), labelRoot: root).build(to: output)
        }
        let first = try build(a, dir.path("a.jsonl"))
        let second = try build(b, dir.path("b.jsonl"))
        #expect(first.perSource == ["prose": 90, "python": 70, "html": 40])
        #expect(first.sha256 == second.sha256)
        #expect(try CorpusRecord.hash(of: dir.path("b.jsonl")) == first.sha256)
        let text = try String(contentsOf: dir.path("b.jsonl"), encoding: .utf8)
        #expect(!text.contains("machine") && !text.contains("Chromium") && !text.contains("Test inputs"))
        #expect(text.contains("\"source\":\"prose:docs/user/guide") && text.contains("\"source\":\"python:docutils/module"))
        // Another seed, another corpus (the hash sees the content).
        let other = try CorpusBuilder(snippets: 200, seed: 1, sources: CorpusBuilder.pinnedSources(root: a), labelRoot: a)
            .build(to: dir.path("c.jsonl"))
        #expect(other.sha256 != first.sha256)
    }

    @Test func anArchiveThatIsNotThePinnedOneIsRefused() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let cache = dir.path("corpus-cache")
        try FileManager.default.createDirectory(at: cache, withIntermediateDirectories: true)
        try Data("not docutils".utf8).write(to: cache.appendingPathComponent(PinnedCorpusSource.docutils.archive))
        let error = #expect(throws: AutoInterpError.self) { _ = try CorpusFetcher(cache: cache).root(say: { _ in }) }
        #expect(error?.message.contains("is not the pinned 3a6b18732edf") == true, "\(error?.message ?? "")")
        #expect(error?.message.contains("delete the file and rerun") == true)
    }

    @Test func cutKeepsPiecesShort() {
        let long = String(repeating: "word ", count: 100)
        let pieces = CorpusBuilder.cut("this short line is long enough\n" + long, max: 50)
        #expect(pieces.allSatisfy { $0.count <= 50 })
        #expect(pieces.joined(separator: " ").split(separator: " ").count == 106)
    }
}
