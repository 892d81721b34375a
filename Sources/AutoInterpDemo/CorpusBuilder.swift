import AutoInterp
import AutoInterpLLM
package import Foundation

/// Builds the demo corpus from real text of a fixed, versioned source: never text written for it,
/// and never whatever the machine happens to have installed.
///
/// The demo's sources (``pinnedSources(root:)``) are the files of one pinned PyPI source archive,
/// `docutils==0.21.2` (``PinnedCorpusSource/docutils``, checked by SHA-256 by ``CorpusFetcher``):
/// - prose: its reStructuredText documentation (`docs/**/*.txt` and the top-level `*.txt`);
/// - code: its Python package (`docutils/**/*.py`);
/// - markup: its HTML files (`**/*.html`).
/// Files are taken in path order and labelled by their path inside the archive, so the corpus,
/// and its SHA-256 (``Summary/sha256``), are the same on every machine and in every folder.
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
    /// Labels name files relative to this folder (the unpacked archive), so the corpus does not
    /// depend on where it was unpacked; nil keeps whole paths.
    package var labelRoot: URL?

    package init(snippets: Int = 4000, maxCharacters: Int = 280, seed: UInt64 = 0, sources: [Source], labelRoot: URL? = nil) {
        self.snippets = snippets
        self.maxCharacters = maxCharacters
        self.seed = seed
        self.sources = sources
        self.labelRoot = labelRoot
    }

    /// What a build wrote.
    package struct Summary: Sendable {
        package var snippets: Int
        package var characters: Int
        /// Snippets per source name.
        package var perSource: [String: Int]
        /// Hex SHA-256 of the JSONL written: the corpus's identity.
        package var sha256: String
    }

    // MARK: - Sources

    /// The demo's sources: prose, code and markup of the unpacked pinned archive at `root`.
    package static func pinnedSources(root: URL) -> [Source] {
        let base = root.path
        return [
            Source(
                name: "prose", share: 0.45,
                files: {
                    files(under: base + "/docs") { $0.pathExtension == "txt" }
                        + files(under: base, recursive: false) { $0.pathExtension == "txt" }
                }, split: paragraphs),
            Source(
                name: "python", share: 0.35, files: { files(under: base + "/docutils") { $0.pathExtension == "py" } }, split: paragraphs),
            Source(
                name: "html", share: 0.20, files: { files(under: base) { ["html", "htm"].contains($0.pathExtension.lowercased()) } },
                split: paragraphs),
        ]
    }

    /// Regular files under `root` that `keep` accepts, in path order (only `root`'s own when not `recursive`).
    static func files(under root: String, recursive: Bool = true, where keep: (URL) -> Bool) -> [URL] {
        let options: FileManager.DirectoryEnumerationOptions = recursive ? [] : [.skipsSubdirectoryDescendants]
        guard
            let walker = FileManager.default.enumerator(
                at: URL(fileURLWithPath: root), includingPropertiesForKeys: [.isRegularFileKey], options: options)
        else {
            return []
        }
        var out: [URL] = []
        for case let url as URL in walker where keep(url) {
            if (try? url.resourceValues(forKeys: [.isRegularFileKey]).isRegularFile) == true { out.append(url) }
        }
        return out.sorted { $0.path < $1.path }
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
                let label = "\(source.name):\(label(file))"
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
                "found only \(chosen.count) text snippets for the corpus (want \(snippets)) in \(labelRoot?.path ?? "its sources"): "
                    + "fewer --snippets, or delete the corpus cache and rerun to fetch \(PinnedCorpusSource.docutils.requirement) again")
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
        return Summary(snippets: chosen.count, characters: characters, perSource: perSource, sha256: SHA256.hex(lines))
    }

    /// `file`'s path inside ``labelRoot`` (its whole path when outside it or without one).
    private func label(_ file: URL) -> String {
        guard let labelRoot else { return file.path }
        let root = labelRoot.standardizedFileURL.path + "/"
        let path = file.standardizedFileURL.path
        return path.hasPrefix(root) ? String(path.dropFirst(root.count)) : path
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
