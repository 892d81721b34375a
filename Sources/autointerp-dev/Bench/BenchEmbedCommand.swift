import ArgumentParser
import AutoInterp
import AutoInterpCLIOptions
import Foundation

/// `autointerp-dev bench embed`: the embedding scorer's sentence embedder on a text file, for
/// `Benchmarks/embedding_scorer.sh` (time per unit, and the embeddings to compare with Python).
struct BenchEmbedCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "embed",
        abstract: "Embed one text per line with a sentence-embedding model folder; time it and write the embeddings."
    )

    @Option(help: "Sentence-embedding model folder (e.g. all-MiniLM-L6-v2).")
    var model: String

    @Option(help: "Texts, one per line.")
    var texts: String

    @Option(help: "Where to write the embeddings: float32 little-endian, one row per text.")
    var output: String

    @Option(help: "Texts per unit in the per-unit figure (1 explanation + the classify contexts: 10 deciles x 2 + 20 silent).")
    var perUnit = 41

    @Option(help: "Timed repetitions (the best is printed).")
    var repeats = 3

    func run() async throws {
        try await DevConsole.reportingErrors {
            #if DEBUG
                DevConsole.note("warning: this is a debug build; benchmark figures need `swift build -c release`")
            #endif
            let started = Date()
            let embedder = try SentenceEmbedder.load(directory: URL(fileURLWithPath: model))
            let loaded = Date().timeIntervalSince(started)
            let lines = try String(contentsOfFile: texts, encoding: .utf8)
                .split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
            let inputs = lines.last == "" ? Array(lines.dropLast()) : lines
            guard !inputs.isEmpty else { throw AutoInterpError.invalidFile(texts, "has no text") }
            var best = Double.infinity
            var vectors: [[Float]] = []
            for _ in 0..<max(1, repeats) {
                let t0 = Date()
                vectors = try embedder.embed(inputs)
                best = min(best, Date().timeIntervalSince(t0))
            }
            var data = Data(capacity: vectors.count * embedder.dimension * 4)
            for v in vectors { v.withUnsafeBytes { data.append(contentsOf: $0) } }
            try data.write(to: URL(fileURLWithPath: output))
            let perText = best / Double(inputs.count)
            print(String(format: "model %@: %@ pooling%@, dimension %d, loaded in %.2f s", embedder.name, embedder.pooling.mode.rawValue,
                embedder.pooling.normalize ? " + L2" : "", embedder.dimension, loaded))
            print(String(format: "%d texts in %.3f s (best of %d): %.2f ms per text, %.1f ms per unit (%d texts)",
                inputs.count, best, max(1, repeats), 1000 * perText, 1000 * perText * Double(perUnit), perUnit))
        }
    }
}
