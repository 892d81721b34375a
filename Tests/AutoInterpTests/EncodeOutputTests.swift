import AutoInterpTestSupport
import Foundation
import Testing

@testable import AutoInterp

/// `encode`'s CSR file is byte for byte what a plain loop makes — one batch read, encoded and
/// appended after another, then written in one go — whatever the read-ahead thread, the uncopied
/// input and the scratch files do on the way.
struct EncodeOutputTests {
    /// The CSR file the simplest loop writes for `batchTokens`-token batches.
    static func reference(dataset: ActivationDataset, sae: SparseAutoencoder, batchTokens: Int) throws -> Data {
        let contextsPerBatch = min(dataset.contextCount, max(1, batchTokens / dataset.contextLength))
        let encoder = try SAEEncoder(sae: sae, batchSize: contextsPerBatch * dataset.contextLength)
        var all = SparseRows()
        var input = [Float](repeating: 0, count: contextsPerBatch * dataset.contextLength * dataset.width)
        for start in stride(from: 0, to: dataset.contextCount, by: contextsPerBatch) {
            let contexts = start..<min(start + contextsPerBatch, dataset.contextCount)
            try input.withUnsafeMutableBufferPointer { try dataset.readActivations(contexts: contexts, into: $0.baseAddress!) }
            var rows = SparseRows()
            input.withUnsafeBufferPointer {
                encoder.encodeSparse($0.baseAddress!, tokens: contexts.count * dataset.contextLength, appendingTo: &rows)
            }
            all.append(contentsOf: rows)
        }
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let url = dir.path("reference.safetensors")
        try SafeTensorsWriter.write(
            [
                .int64("indptr", shape: [all.indptr.count], all.indptr),
                .int32("indices", shape: [all.indices.count], all.indices),
                .float32("values", shape: [all.values.count], all.values),
            ],
            metadata: ["d_sae": String(sae.dSAE), "n_tokens": String(dataset.tokenCount)], to: url)
        return try Data(contentsOf: url)
    }

    @Test(arguments: [false, true])
    func csrIsByteIdenticalToAPlainLoop(subtractDecoderBias: Bool) throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let (width, dSAE) = (24, 96)
        let (contexts, length) = (23, 9)
        var rng = SeededGenerator(seed: 4)
        let datasetURL = dir.path("acts.safetensors")
        try SafeTensorsWriter.write(
            [
                .int32("tokens", shape: [contexts, length], (0..<(contexts * length)).map { Int32($0 % 2) }),
                .float32("activations", shape: [contexts, length, width], (0..<(contexts * length * width)).map { _ in Float(rng.nextGaussian()) }),
            ], to: datasetURL)
        try Data(#"["a", "b"]"#.utf8).write(to: dir.path("vocab.json"))
        let dataset = try ActivationDataset(url: datasetURL)
        var sae = SAEFixture.random(dIn: width, dSAE: dSAE, activeFraction: 0.1, seed: 9)
        if subtractDecoderBias {
            // The prepared-input path (x - b_dec copied) as well as the uncopied one.
            sae.config.applyBDecToInput = true
            sae.decoderBias = (0..<width).map { Float($0 % 5) * 0.1 - 0.2 }
        }
        // One context per batch, several batches with a short last one, one batch for everything.
        for batchTokens in [9, 63, contexts * length] {
            let output = dir.path("csr-\(batchTokens).safetensors")
            let summary = try DatasetEncoder(tokensPerBatch: batchTokens).encode(dataset: dataset, sae: sae, output: output)
            let written = try Data(contentsOf: output)
            #expect(written == (try Self.reference(dataset: dataset, sae: sae, batchTokens: batchTokens)), "batch \(batchTokens)")
            #expect(summary.nonZeros > dataset.tokenCount * 5)  // the fixture fires (about 10 of 96 per token)
        }
        // No scratch or partial file is left beside the output.
        let left = try FileManager.default.contentsOfDirectory(atPath: dir.url.path).filter { $0.contains("scratch") || $0.contains("partial") }
        #expect(left.isEmpty, "\(left)")
    }

    @Test func aBadValueInALaterBatchIsReportedFromTheReadAhead() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let width = 6
        let contexts = 8, length = 4
        var values = [Float](repeating: 0.5, count: contexts * length * width)
        values[(6 * length + 2) * width + 3] = .nan  // context 6, position 2, neuron 3: the fourth batch of two contexts
        let url = dir.path("acts.safetensors")
        try SafeTensorsWriter.write(
            [
                .int32("tokens", shape: [contexts, length], [Int32](repeating: 1, count: contexts * length)),
                .float32("activations", shape: [contexts, length, width], values),
            ], to: url)
        try Data(#"["a", "b"]"#.utf8).write(to: dir.path("vocab.json"))
        let dataset = try ActivationDataset(url: url)
        let sae = SAEFixture.random(dIn: width, dSAE: 8, seed: 2)
        let output = dir.path("out.safetensors")
        let error = #expect(throws: AutoInterpError.self) {
            try DatasetEncoder(tokensPerBatch: 2 * length).encode(dataset: dataset, sae: sae, output: output)
        }
        #expect(error?.message.contains("context 6, position 2, neuron 3") == true)
        #expect(!FileManager.default.fileExists(atPath: output.path))
    }
}
