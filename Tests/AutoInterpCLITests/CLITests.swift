import AutoInterpTestSupport
import Foundation
import Testing

@testable import AutoInterp

/// The `autointerp` executable on good and bad input: bad input exits non-zero with one clear line.
struct CLITests {
    @Test func encodeRoundTripMatchesTheLibrary() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let (datasetURL, saeURL) = try CLIFixtures.example(dir)
        let out = dir.path("features.safetensors")
        let result = try CLIRunner.run(["encode", "--sae", saeURL.path, "--activations", datasetURL.path, "--output", out.path, "--quiet"])
        #expect(result.status == 0, "\(result.stderr)")
        let csr = try SafeTensorsFile(url: out)
        #expect(csr.metadata == ["d_sae": "7", "n_tokens": "400"])
        let indptr = try csr.int64s("indptr"), indices = try csr.int64s("indices"), values = try csr.floats("values")
        #expect(indptr.count == 401 && Int(indptr.last!) == indices.count && indices.count == values.count)
        #expect(try csr.info("indices").dtype == .I32 && csr.info("indptr").dtype == .I64)

        // Dense output and an in-process encode agree with the CSR, token by token.
        let denseURL = dir.path("dense.safetensors")
        #expect(try CLIRunner.run(["encode", "--sae", saeURL.path, "--activations", datasetURL.path, "--output", denseURL.path, "--dense", "--quiet"]).status == 0)
        let dense = try SafeTensorsFile(url: denseURL).floats("features")
        #expect(dense.count == 400 * 7)
        let dataset = try ActivationDataset(url: datasetURL)
        let sae = try SparseAutoencoder(folder: saeURL)
        var x = [Float](repeating: 0, count: 400 * 9)
        try x.withUnsafeMutableBufferPointer { try dataset.readActivations(contexts: 0..<40, into: $0.baseAddress!) }
        let encoder = try SAEEncoder(sae: sae, batchSize: 400)
        var reference = [Float](repeating: 0, count: 400 * 7)
        x.withUnsafeBufferPointer { x in reference.withUnsafeMutableBufferPointer { encoder.encodeDense(x.baseAddress!, tokens: 400, into: $0.baseAddress!) } }
        #expect(dense == reference)
        for t in 0..<400 {
            var row = [Float](repeating: 0, count: 7)
            for i in Int(indptr[t])..<Int(indptr[t + 1]) { row[Int(indices[i])] = values[i] }
            #expect(row == Array(reference[(t * 7)..<((t + 1) * 7)]), "token \(t)")
        }
        // The planted concepts are found: feature 0 (animal) fires exactly on animal words.
        let animals = Set(SyntheticDataset.animals)
        for t in 0..<400 where dataset.isReal(token: t) {
            let word = dataset.string(forToken: dataset.tokens(context: t / 10)[t])
            #expect((reference[t * 7] > 0) == animals.contains(word), "\(word)")
        }
    }

    @Test func selectCreatesAndResumesARun() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let (datasetURL, saeURL) = try CLIFixtures.example(dir)
        let args = ["select", "--activations", datasetURL.path, "--sae", saeURL.path, "--features", "all", "--neurons", "0-3", "--name", "r", "--results", dir.path("results").path, "--quiet"]
        let first = try CLIRunner.run(args)
        #expect(first.status == 0, "\(first.stderr)")
        #expect(first.stdout.contains("11 units (7 features, 4 neurons)"))
        let second = try CLIRunner.run(args)
        #expect(second.stdout.contains("stored now: 0, already stored: 11"))
        let store = try RunStore(url: dir.path("results/r/autointerp.sqlite"))
        let run = try #require(try store.run(named: "r"))
        #expect(try store.units(runID: run.id).count == 11)
        let changed = try CLIRunner.run(args.map { $0 == "0-3" ? "0-4" : $0 })
        #expect(changed.oneLineErrorProblem(["different config", "--force-new"]) == nil)
    }

    // MARK: - Bad input

    @Test func truncatedDatasetIsOneLine() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let (datasetURL, saeURL) = try CLIFixtures.example(dir)
        let bytes = try Data(contentsOf: datasetURL)
        try bytes.prefix(bytes.count - 100).write(to: datasetURL)
        let result = try CLIRunner.run(["encode", "--sae", saeURL.path, "--activations", datasetURL.path, "--output", dir.path("o").path])
        #expect(result.oneLineErrorProblem([datasetURL.path, "truncated"]) == nil)
    }

    @Test func headerPastTheEndIsOneLine() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let (datasetURL, saeURL) = try CLIFixtures.example(dir)
        try SafeTensorsFixture.write(to: datasetURL, header: "{}", declaredLength: 1 << 20)
        let result = try CLIRunner.run(["encode", "--sae", saeURL.path, "--activations", datasetURL.path, "--output", dir.path("o").path])
        #expect(result.oneLineErrorProblem([datasetURL.path, "past the end"]) == nil)
    }

    @Test func duplicateTensorNamesInTheSAEAreOneLine() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let (datasetURL, saeURL) = try CLIFixtures.example(dir)
        let weights = saeURL.appendingPathComponent("sae_weights.safetensors")
        try SafeTensorsFixture.write(
            to: weights, header: #"{"W_enc":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"W_enc":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#,
            data: Array(repeating: 0, count: 8))
        let result = try CLIRunner.run(["encode", "--sae", saeURL.path, "--activations", datasetURL.path, "--output", dir.path("o").path])
        #expect(result.oneLineErrorProblem([weights.path, "duplicate tensor name 'W_enc'"]) == nil)
    }

    @Test func saeOfTheWrongWidthIsOneLine() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let (datasetURL, _) = try CLIFixtures.example(dir)
        try SyntheticDataset.writeSAE(to: dir.path("wide"), width: 12, seed: 1)
        let result = try CLIRunner.run(["encode", "--sae", dir.path("wide").path, "--activations", datasetURL.path, "--output", dir.path("o").path])
        #expect(result.oneLineErrorProblem(["d_in = 12", "width 9", datasetURL.path]) == nil)
        let select = try CLIRunner.run([
            "select", "--activations", datasetURL.path, "--sae", dir.path("wide").path, "--features", "0-3", "--name", "x", "--results", dir.path("r").path,
        ])
        #expect(select.oneLineErrorProblem(["d_in = 12", "width 9"]) == nil)
    }

    @Test func nanActivationIsOneLine() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let (datasetURL, saeURL) = try CLIFixtures.example(dir)
        var data = SyntheticDataset.generate(contexts: 40, length: 10, width: 9, seed: 5)
        data.activations[(13 * 10 + 4) * 9 + 2] = .nan
        let writer = try DatasetWriter(url: datasetURL, contextLength: 10, width: 9, tokens: data.tokens, mask: data.mask, vocabulary: SyntheticDataset.vocabulary)
        try writer.append(data.activations)
        try writer.finish()
        let result = try CLIRunner.run(["encode", "--sae", saeURL.path, "--activations", datasetURL.path, "--output", dir.path("o").path, "--quiet"])
        #expect(result.oneLineErrorProblem([datasetURL.path, "context 13, position 4, neuron 2"]) == nil)
        #expect(!FileManager.default.fileExists(atPath: dir.path("o").path))
    }

    @Test func vocabularyTooShortIsOneLine() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let (datasetURL, saeURL) = try CLIFixtures.example(dir)
        try JSONSerialization.data(withJSONObject: ["[PAD]", "[CLS]"]).write(to: dir.path("vocab.json"))
        let result = try CLIRunner.run(["encode", "--sae", saeURL.path, "--activations", datasetURL.path, "--output", dir.path("o").path])
        #expect(result.oneLineErrorProblem(["vocab.json", "has 2 entries", "--vocab"]) == nil)
    }

    @Test func badUnitSpecIsOneLine() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let (datasetURL, _) = try CLIFixtures.example(dir)
        let result = try CLIRunner.run(["select", "--activations", datasetURL.path, "--neurons", "5-2", "--name", "x", "--results", dir.path("r").path])
        #expect(result.oneLineErrorProblem(["unit spec '5-2'"]) == nil)
        let range = try CLIRunner.run(["select", "--activations", datasetURL.path, "--neurons", "0-20", "--name", "x", "--results", dir.path("r").path])
        #expect(range.oneLineErrorProblem(["neuron 9 is out of range", "9 neurons"]) == nil)
    }

    @Test func neuronSignIsForNeuronsOnlyAndBothDoublesThem() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let (datasetURL, saeURL) = try CLIFixtures.example(dir)
        let features = try CLIRunner.run([
            "select", "--activations", datasetURL.path, "--sae", saeURL.path, "--features", "0-3", "--neuron-sign", "negative",
            "--name", "x", "--results", dir.path("r").path,
        ])
        #expect(features.oneLineErrorProblem(["--neuron-sign", "features are non-negative", "--neurons"]) == nil)
        #expect(!FileManager.default.fileExists(atPath: dir.path("r/x").path))
        let both = try CLIRunner.run([
            "select", "--activations", datasetURL.path, "--neurons", "0-3", "--neuron-sign", "both", "--name", "y",
            "--results", dir.path("r").path, "--quiet",
        ])
        #expect(both.status == 0, "\(both.stderr)")
        #expect(both.stdout.contains("8 units (0 features, 4 neurons, 4 negative-side neurons)"), "\(both.stdout)")
    }
}
