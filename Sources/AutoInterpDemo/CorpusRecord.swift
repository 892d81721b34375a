import AutoInterp
import AutoInterpLLM
package import Foundation

/// `corpus.json` beside `corpus.jsonl`: where the corpus came from and its SHA-256, so two demo
/// folders can be compared (equal hashes, equal corpora) and a reader knows what was studied.
package struct CorpusRecord: Codable, Sendable, Equatable {
    /// `docutils==0.21.2`.
    package var source: String
    /// Hex SHA-256 of the source archive.
    package var archiveSHA256: String
    package var snippets: Int
    package var seed: UInt64
    /// Hex SHA-256 of `corpus.jsonl`.
    package var sha256: String

    package init(source: PinnedCorpusSource, snippets: Int, seed: UInt64, sha256: String) {
        self.source = source.requirement
        self.archiveSHA256 = source.sha256
        self.snippets = snippets
        self.seed = seed
        self.sha256 = sha256
    }

    /// The record's file for `corpus`.
    package static func url(beside corpus: URL) -> URL { corpus.deletingLastPathComponent().appendingPathComponent("corpus.json") }

    /// Writes `corpus.json` beside `corpus`.
    package func write(beside corpus: URL) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        do {
            try encoder.encode(self).write(to: Self.url(beside: corpus), options: .atomic)
        } catch {
            throw AutoInterpError.io(Self.url(beside: corpus).path, "cannot write the corpus record: \(error.localizedDescription)")
        }
    }

    /// Hex SHA-256 of the corpus file.
    package static func hash(of corpus: URL) throws -> String {
        do { return SHA256.hex(try Data(contentsOf: corpus)) } catch { throw AutoInterpError.io(corpus.path, "cannot read the corpus") }
    }
}
