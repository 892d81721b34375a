import AutoInterp
package import Foundation

/// Builds the demo corpus from real text that Debian packages install: never text written for it.
///
/// Sources (each optional; whatever is installed is used):
/// - prose in several languages: the `fortunes`, `fortunes-de`, `fortunes-it`, `fortunes-es`
///   packages (`/usr/share/games/fortunes/**`), split on their `%` separators;
/// - code: the Python standard library that `python3` installs (`/usr/lib/python3*/*.py`);
/// - markup and documentation: HTML, Markdown and plain-text files under `/usr/share/doc`
///   and the licence texts in `/usr/share/common-licenses`.
/// Texts are cut into snippets of about one context each, drawn in fixed shares per source,
/// shuffled with a seed and written as JSONL `{"text": …, "source": …}`.
package struct CorpusBuilder {
    /// One kind of text and where it lives.
    package struct Source: Sendable {
        package var name: String
        package var share: Double
        package var files: @Sendable () -> [URL]
        package var split: @Sendable (String) -> [String]
    }

    /// Snippets to write.
    package var snippets: Int
    /// Longest snippet in characters (about 64 WordPiece tokens of prose).
    package var maxCharacters: Int
    package var seed: UInt64
    package var sources: [Source]

    package init(snippets: Int = 4000, maxCharacters: Int = 280, seed: UInt64 = 0, sources: [Source] = CorpusBuilder.debianSources) {
        self.snippets = snippets
        self.maxCharacters = maxCharacters
        self.seed = seed
        self.sources = sources
    }

    /// What a build wrote.
    package struct Summary: Sendable {
        package var snippets: Int
        package var characters: Int
        /// Snippets per source name.
        package var perSource: [String: Int]
    }

    // MARK: - Sources

    /// The Debian sources described in the type's documentation.
    package static let debianSources: [Source] = [
        Source(name: "fortunes", share: 0.45, files: { files(under: "/usr/share/games/fortunes") { !$0.pathExtension.contains("dat") && $0.pathExtension != "u8" } }, split: fortunes),
        Source(name: "python", share: 0.35, files: { pythonFiles() }, split: paragraphs),
        Source(
            name: "docs", share: 0.20,
            files: {
                files(under: "/usr/share/doc") { ["html", "htm", "md", "txt", "rst", "xml"].contains($0.pathExtension.lowercased()) }
                    + files(under: "/usr/share/common-licenses") { _ in true }
            }, split: paragraphs),
    ]

    static func files(under root: String, where keep: (URL) -> Bool) -> [URL] {
        guard let walker = FileManager.default.enumerator(at: URL(fileURLWithPath: root), includingPropertiesForKeys: [.isRegularFileKey]) else {
            return []
        }
        var out: [URL] = []
        for case let url as URL in walker where keep(url) {
            if (try? url.resourceValues(forKeys: [.isRegularFileKey]).isRegularFile) == true { out.append(url) }
        }
        return out.sorted { $0.path < $1.path }
    }

    static func pythonFiles() -> [URL] {
        let libs = (try? FileManager.default.contentsOfDirectory(atPath: "/usr/lib"))?.filter { $0.hasPrefix("python3.") }.sorted() ?? []
        guard let lib = libs.last else { return [] }
        return files(under: "/usr/lib/\(lib)") { $0.pathExtension == "py" && !$0.path.contains("/test") && !$0.path.contains("site-packages") }
    }

    /// Fortune files: entries separated by lines holding only `%`.
    @Sendable static func fortunes(_ text: String) -> [String] {
        text.components(separatedBy: "\n%\n").map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }.filter { !$0.isEmpty }
    }

    /// Blank-line separated blocks.
    @Sendable static func paragraphs(_ text: String) -> [String] {
        text.components(separatedBy: "\n\n").map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }.filter { $0.count >= 20 }
    }

    // MARK: - Building

    /// Writes the corpus to `output`.
    ///
    /// - Throws: `AutoInterpError.invalidInput` when the sources hold too little text (names the packages to install).
    package func build(to output: URL) throws -> Summary {
        var rng = SeededGenerator(seed: seed)
        var chosen: [(text: String, source: String)] = []
        var perSource: [String: Int] = [:]
        let totalShare = sources.reduce(0) { $0 + $1.share }
        for source in sources {
            let want = Int((Double(snippets) * source.share / totalShare).rounded())
            var pieces: [(String, String)] = []
            for file in source.files() {
                guard let data = try? Data(contentsOf: file), !data.contains(0) else { continue }
                let text = String(decoding: data, as: UTF8.self)
                let label = "\(source.name):\(file.path)"
                for block in source.split(text) {
                    for snippet in Self.cut(block, max: maxCharacters) { pieces.append((snippet, label)) }
                }
            }
            pieces.shuffle(using: &rng)
            let taken = pieces.prefix(want)
            perSource[source.name] = taken.count
            chosen += taken.map { (text: $0.0, source: $0.1) }
        }
        guard chosen.count >= snippets / 2 else {
            throw AutoInterpError.invalidInput(
                "found only \(chosen.count) text snippets for the corpus (want \(snippets)): install the text packages with `apt-get install -y fortunes fortunes-de fortunes-it fortunes-es python3`")
        }
        chosen.shuffle(using: &rng)
        var lines = ""
        var characters = 0
        for item in chosen {
            let object = ["text": item.text, "source": item.source]
            let json = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])
            lines += String(decoding: json, as: UTF8.self) + "\n"
            characters += item.text.count
        }
        do {
            try FileManager.default.createDirectory(at: output.deletingLastPathComponent(), withIntermediateDirectories: true)
            try Data(lines.utf8).write(to: output, options: .atomic)
        } catch {
            throw AutoInterpError.io(output.path, "cannot write the corpus: \(error.localizedDescription)")
        }
        return Summary(snippets: chosen.count, characters: characters, perSource: perSource)
    }

    /// Cuts a block into pieces of at most `max` characters at whitespace (whole lines where possible).
    static func cut(_ block: String, max: Int) -> [String] {
        var out: [String] = []
        var current = ""
        for line in block.split(separator: "\n", omittingEmptySubsequences: false) {
            let piece = String(line)
            if current.count + piece.count + 1 > max, !current.isEmpty {
                out.append(current)
                current = ""
            }
            if piece.count > max {
                var words = ""
                for word in piece.split(separator: " ") {
                    if words.count + word.count + 1 > max, !words.isEmpty {
                        out.append(words)
                        words = ""
                    }
                    words += (words.isEmpty ? "" : " ") + word
                }
                current = words
            } else {
                current += (current.isEmpty ? "" : "\n") + piece
            }
        }
        if current.trimmingCharacters(in: .whitespacesAndNewlines).count >= 20 { out.append(current) }
        return out.filter { $0.trimmingCharacters(in: .whitespacesAndNewlines).count >= 20 }
    }
}
