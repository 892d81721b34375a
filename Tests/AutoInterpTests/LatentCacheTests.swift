import AutoInterpTestSupport
import Foundation
import Testing

@testable import AutoInterp

/// `--latents`: features read from a sparse cache (our `encode` CSR, delphi's latent splits)
/// give the same units and examples as selecting through the SAE on the dense activations.
///
/// The delphi fixture is written by `Fixtures/LatentCaches/make_delphi_cache.py` (numpy and
/// safetensors, following delphi's `LatentCache.save_splits`): an identity SAE over activations
/// exact in F16, so the F16 cache holds exactly what the SAE computes.
@Suite struct LatentCacheTests {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/LatentCaches")
    static var dataset: URL { fixtures.appendingPathComponent("dataset.safetensors") }
    static var sae: URL { fixtures.appendingPathComponent("sae") }
    static var delphi: URL { fixtures.appendingPathComponent("delphi/layers.0") }

    @Test func delphiCacheSelectsWhatTheSAESelects() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let expected = try ShardedDatasetTests.storedRows(dir, activations: Self.dataset, sae: Self.sae, name: "sae", neurons: .indices([]))
        #expect(expected.count == 12)
        // Tokens from the cache itself (no --activations), and from the dataset beside it.
        let fromCache = try ShardedDatasetTests.storedRows(
            dir, activations: Self.delphi, latents: Self.delphi, sae: nil, name: "delphi", neurons: .indices([]))
        #expect(fromCache == expected)
        let withDataset = try ShardedDatasetTests.storedRows(
            dir, activations: Self.dataset, latents: Self.delphi, sae: nil, name: "delphi-dataset", neurons: .indices([]))
        #expect(withDataset == expected)
        // One split file alone holds latents 4...7.
        let cache = try LatentCache(url: Self.delphi.appendingPathComponent("4_7.safetensors"))
        #expect(cache.layout == .delphi && cache.featureCount == 8)
    }

    @Test func selectCommandTakesADelphiCacheWithoutActivations() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let args = ["select", "--latents", Self.delphi.path, "--features", "0-5", "--name", "d", "--results", dir.path("results").path, "--quiet"]
        let result = try CLIRunner.run(args)
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("run 'd': 6 units (6 features, 0 neurons)"), "\(result.stdout)")
        let missing = try CLIRunner.run(["select", "--features", "all", "--name", "e", "--results", dir.path("results").path, "--quiet"])
        #expect(missing.status != 0 && missing.stderr.contains("--activations is required (or --latents"), "\(missing.stderr)")
    }

    @Test func encodeCSRSelectsWhatTheSAESelects() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let sae = try SparseAutoencoder.load(path: Self.sae, options: SAELoadOptions(), scope: .encoder)
        let csr = dir.path("latents.safetensors")
        _ = try DatasetEncoder(tokensPerBatch: 24).encode(dataset: ActivationDataset(url: Self.dataset), sae: sae, output: csr)
        let expected = try ShardedDatasetTests.storedRows(dir, activations: Self.dataset, sae: Self.sae, name: "sae", neurons: .indices([0, 5]))
        // Features from the CSR, neurons from the dense dataset.
        let withDataset = try ShardedDatasetTests.storedRows(dir, activations: Self.dataset, latents: csr, sae: nil, name: "csr", neurons: .indices([0, 5]))
        #expect(withDataset == expected)
        // A file of only the tokens is enough for features.
        let tokens = try SafeTensorsFile(url: Self.dataset).int64s("tokens").map { Int32($0) }
        let tokensOnly = dir.path("tokens/tokens.safetensors")
        try FileManager.default.createDirectory(at: tokensOnly.deletingLastPathComponent(), withIntermediateDirectories: true)
        try SafeTensorsWriter.write([.int32("tokens", shape: [24, 8], tokens)], to: tokensOnly)
        let featuresOnly = try ShardedDatasetTests.storedRows(
            dir, activations: tokensOnly, latents: csr, sae: nil, name: "csr-tokens", neurons: .indices([]),
            vocab: Self.fixtures.appendingPathComponent("vocab.json"))
        #expect(featuresOnly == Array(expected.prefix(12)))
        // Neurons need the dense activations.
        let error = #expect(throws: AutoInterpError.self) {
            try ShardedDatasetTests.storedRows(
                dir, activations: tokensOnly, latents: csr, sae: nil, name: "csr-neurons", neurons: .all, vocab: Self.fixtures.appendingPathComponent("vocab.json"))
        }
        #expect(error?.description.contains("neurons need dense activations") == true)
    }

    @Test func badCachesAreNamed() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        // A CSR with no tokens of its own needs --activations.
        let csr = dir.path("latents.safetensors")
        _ = try DatasetEncoder().encode(
            dataset: ActivationDataset(url: Self.dataset), sae: SparseAutoencoder.load(path: Self.sae, options: SAELoadOptions(), scope: .encoder), output: csr)
        let noTokens = #expect(throws: AutoInterpError.self) {
            try ShardedDatasetTests.storedRows(dir, activations: csr, latents: csr, sae: nil, name: "a", neurons: .indices([]))
        }
        #expect(noTokens?.description.contains("stores no tokens: pass the dataset") == true)
        // --sae and --latents together.
        let both = #expect(throws: AutoInterpError.self) {
            try ShardedDatasetTests.storedRows(dir, activations: Self.dataset, latents: csr, sae: Self.sae, name: "b", neurons: .indices([]))
        }
        #expect(both?.description.contains("`latents` replaces `sae`") == true)
        // A cache of another dataset: token count differs.
        let other = dir.path("other/acts.safetensors")
        try FileManager.default.createDirectory(at: other.deletingLastPathComponent(), withIntermediateDirectories: true)
        try SyntheticDataset.write(to: other, contexts: 5, length: 8, width: 12, seed: 1)
        let mismatch = #expect(throws: AutoInterpError.self) {
            try ShardedDatasetTests.storedRows(dir, activations: other, latents: csr, sae: nil, name: "c", neurons: .indices([]))
        }
        #expect(mismatch?.description.contains("holds 192 tokens but") == true, "\(mismatch?.description ?? "")")
        #expect((#expect(throws: AutoInterpError.self) {
            try ShardedDatasetTests.storedRows(dir, activations: other, latents: Self.delphi, sae: nil, name: "d", neurons: .indices([]))
        })?.description.contains("is it the cache of this dataset?") == true)
        // Unsorted delphi locations are refused with the split's name.
        let split = try SafeTensorsFile(url: Self.delphi.appendingPathComponent("0_3.safetensors"))
        var locations = try split.int64s("locations").map { Int32($0) }
        let n = locations.count / 3
        for k in 0..<3 { locations.swapAt(k, 3 * (n - 1) + k) }  // last entry first
        let folder = dir.path("unsorted")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        try SafeTensorsWriter.write(
            [.int32("locations", shape: [n, 3], locations), .float32("activations", shape: [n], try split.floats("activations")),
             .int32("tokens", shape: [24, 8], try split.int64s("tokens").map { Int32($0) })],
            to: folder.appendingPathComponent("0_3.safetensors"))
        try FileManager.default.copyItem(at: Self.delphi.appendingPathComponent("vocab.json"), to: folder.appendingPathComponent("vocab.json"))
        let unsorted = #expect(throws: AutoInterpError.self) {
            try ShardedDatasetTests.storedRows(dir, activations: folder, latents: folder, sae: nil, name: "e", neurons: .indices([]))
        }
        #expect(unsorted?.description.contains("0_3.safetensors: 'locations' are not sorted by context") == true, "\(unsorted?.description ?? "")")
    }
}
