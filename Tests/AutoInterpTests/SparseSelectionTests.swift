import AutoInterpTestSupport
import Foundation
import Testing

@testable import AutoInterp

/// Selection from a CSR by its non-zeros (``UnitActivationSource/readsSparse``: a context where a
/// unit is 0 throughout goes through the silent path, without a dense row) makes exactly the
/// selections of the dense read of the same values.
@Suite struct SparseSelectionTests {
    /// A CSR over `tokens` tokens and `features` latents with negative values, contexts where a
    /// latent is silent, non-zeros on masked and special tokens (the dataset decides which tokens
    /// are selectable), stored zeros and tokens stored twice.
    static func writeCSR(to url: URL, tokens: Int, features: Int, seed: UInt64) throws {
        var rng = SeededGenerator(seed: seed, stream: 7)
        var indptr: [Int64] = [0], indices: [Int32] = [], values: [Float] = []
        for t in 0..<tokens {
            for f in 0..<features {
                // Latent f fires in about one token in (f + 2), in runs of contexts: silent contexts are common.
                guard (t / 8 + f) % 3 != 0, Int.random(in: 0..<(f + 2), using: &rng) == 0 else { continue }
                indices.append(Int32(f))
                values.append(f == 1 ? -Float.random(in: 0.1...2, using: &rng) : Float.random(in: 0.1...5, using: &rng))
                // Latent 4 has stored zeros, latent 5 tokens stored twice (the last value counts): the dense per-context code.
                if f == 4, t % 5 == 0 { values[values.count - 1] = 0 }
                if f == 5, t % 7 == 0 {
                    indices.append(Int32(f))
                    values.append(Float.random(in: 0.1...5, using: &rng))
                }
            }
            indptr.append(Int64(indices.count))
        }
        try SafeTensorsWriter.write(
            [.int64("indptr", shape: [tokens + 1], indptr), .int32("indices", shape: [indices.count], indices),
             .float32("values", shape: [values.count], values)],
            metadata: ["d_sae": String(features)], to: url)
    }

    @Test func sparseReadSelectsWhatTheDenseReadSelects() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let url = dir.path("acts.safetensors")
        try SyntheticDataset.write(to: url, contexts: 50, length: 8, width: 9, seed: 3)
        let dataset = try ActivationDataset(url: url)
        let csr = dir.path("latents.safetensors")
        try Self.writeCSR(to: csr, tokens: dataset.tokenCount, features: 6, seed: 3)
        let cache = try LatentCache(url: csr)
        var config = SelectionConfig()
        config.seed = 11
        for tokensPerBatch in [24, 4096] {
            let sparse = try UnitActivationSource(
                dataset: dataset, sae: nil, latents: cache, features: Array(0..<6), neurons: [], tokensPerBatch: tokensPerBatch)
            // A neuron in the source makes it read every row densely.
            let dense = try UnitActivationSource(
                dataset: dataset, sae: nil, latents: cache, features: Array(0..<6), neurons: [0], tokensPerBatch: tokensPerBatch)
            #expect(sparse.readsSparse && !dense.readsSparse)
            let fromSparse = try ExampleSelector(config: config).select(from: sparse)
            let fromDense = Array(try ExampleSelector(config: config).select(from: dense).prefix(6))
            #expect(fromSparse.map(\.unit) == fromDense.map(\.unit))
            #expect(fromSparse.map(\.statistics) == fromDense.map(\.statistics))
            #expect(fromSparse.map(\.examples) == fromDense.map(\.examples))
            // The fixture exercises both paths: silent contexts, and a latent that is only ever negative.
            #expect(fromSparse[1].statistics.maxActivation == 0 && fromSparse[0].statistics.maxActivation > 0)
            #expect(fromSparse[0].examples.contains { $0.subset == .silent } && fromSparse[0].examples.contains { $0.subset == .top })
        }
    }

    /// The planted-concept SAE, or the same weights as a TopK SAE keeping 2 features a token.
    static func sae(topK: Bool) -> SparseAutoencoder {
        var sae = SyntheticDataset.sae(width: 9, seed: 5)
        if topK { (sae.config.architecture, sae.config.k) = (.topk, 2) }
        return sae
    }

    /// All features, or some (a TopK encoder computes every feature and the scratch file keeps the studied ones).
    @Test(arguments: [(false, [0, 1, 2, 3, 4, 5, 6]), (true, [0, 1, 2, 3, 4, 5, 6]), (true, [1, 3, 5]), (false, [2, 6])])
    func theSAEIsEncodedOnceEvenForOneChunk(topK: Bool, features: [Int]) throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let url = dir.path("acts.safetensors")
        try SyntheticDataset.write(to: url, contexts: 40, length: 8, width: 9, seed: 5)
        let dataset = try ActivationDataset(url: url)
        let sae = Self.sae(topK: topK)
        let whole = try ExampleSelector().select(from: UnitActivationSource(dataset: dataset, sae: sae, features: features, neurons: []))
        #expect(whole.contains { $0.statistics.maxActivation > 0 })
        var selections: [UnitSelection] = []
        var reports: [SelectionProgress] = []
        let chunks = try ChunkedSelection(config: SelectionConfig()).run(
            dataset: dataset, sae: sae, latents: nil, units: whole.map(\.unit), scratchFolder: dir.url, progress: { reports.append($0) }
        ) { selections.append($0) }
        #expect(chunks == 1)
        // One encode into the scratch CSR, then its two sparse passes: same rows as two encoding passes.
        #expect(reports.last?.tokensTotal == 3 * dataset.tokenCount)
        #expect(selections.map(\.statistics) == whole.map(\.statistics))
        #expect(selections.map(\.examples) == whole.map(\.examples))
        #expect(!FileManager.default.fileExists(atPath: dir.path(SelectionLatents.fileName).path))
    }
}
