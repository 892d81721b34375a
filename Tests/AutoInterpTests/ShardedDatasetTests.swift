import AutoInterpTestSupport
import Foundation
import Logging
import Testing

@testable import AutoInterp

/// A dataset in many files (folder, glob, manifest) is one dataset: same stored rows, same
/// encoding as the same data in one file; a shard that disagrees is named.
@Suite struct ShardedDatasetTests {
    static let contexts = 30, length = 8, width = 9, seed: UInt64 = 3
    static let metadata = ["model": "synthetic", "layer": "0", "hook": "planted-concepts", "special_token_ids": "[0,1,2]"]

    /// Writes the synthetic dataset as one file and as shards of `sizes` contexts in `shards/`.
    static func write(_ dir: TemporaryDirectory, sizes: [Int] = [11, 7, 12], width: Int = width) throws -> (single: URL, folder: URL) {
        let single = dir.path("one/acts.safetensors")
        try FileManager.default.createDirectory(at: single.deletingLastPathComponent(), withIntermediateDirectories: true)
        try SyntheticDataset.write(to: single, contexts: contexts, length: length, width: width, seed: seed)
        let data = SyntheticDataset.generate(contexts: contexts, length: length, width: width, seed: seed)
        let folder = dir.path("shards")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        var start = 0
        for (i, size) in sizes.enumerated() {
            let tokens = Array(data.tokens[(start * length)..<((start + size) * length)])
            let mask = Array(data.mask[(start * length)..<((start + size) * length)])
            // Numbered so that name order (part-10 before part-2) and natural order differ.
            let writer = try DatasetWriter(
                url: folder.appendingPathComponent("part-\(i == 0 ? 2 : i * 10).safetensors"), contextLength: length, width: width, tokens: tokens,
                mask: mask, vocabulary: SyntheticDataset.vocabulary, metadata: metadata)
            try writer.append(Array(data.activations[(start * length * width)..<((start + size) * length * width)]))
            try writer.finish()
            start += size
        }
        return (single, folder)
    }

    /// What `select` stores for every unit: statistics and examples, without row ids.
    static func storedRows(
        _ dir: TemporaryDirectory, activations: URL, latents: URL? = nil, sae: URL?, name: String, neurons: UnitSpec = .all,
        vocab: URL? = nil
    ) throws -> [String] {
        var request = RunSetup.Request(
            name: name, resultsFolder: dir.path("results"), activations: activations, vocab: vocab, sae: sae,
            features: sae == nil && latents == nil ? .indices([]) : .all, neurons: neurons)
        request.latents = latents
        let outcome = try RunSetup(logger: Logger(label: "test.setup")).prepare(request)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return try outcome.store.units(runID: outcome.run.id).map { unit in
            let examples = try outcome.store.examples(unitID: unit.id)
            return String(decoding: try encoder.encode(unit.statistics), as: UTF8.self) + String(decoding: try encoder.encode(examples), as: UTF8.self)
        }
    }

    @Test func shardsGiveTheSameStoredRowsAsOneFile() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let (single, folder) = try Self.write(dir)
        let sae = dir.path("sae")
        try SyntheticDataset.writeSAE(to: sae, width: Self.width, seed: Self.seed)
        try JSONSerialization.data(withJSONObject: ["part-2.safetensors", "part-10.safetensors", "part-20.safetensors"])
            .write(to: folder.appendingPathComponent("manifest.json"))

        let expected = try Self.storedRows(dir, activations: single, sae: sae, name: "one")
        #expect(expected.count == 7 + Self.width)
        #expect(try Self.storedRows(dir, activations: folder, sae: sae, name: "folder") == expected)
        #expect(try Self.storedRows(dir, activations: folder.appendingPathComponent("part-*.safetensors"), sae: sae, name: "glob") == expected)
        #expect(try Self.storedRows(dir, activations: folder.appendingPathComponent("manifest.json"), sae: sae, name: "manifest") == expected)

        let dataset = try ActivationDataset(url: folder)
        #expect(dataset.contextCount == Self.contexts && dataset.shardURLs.map(\.lastPathComponent) == ["part-2.safetensors", "part-10.safetensors", "part-20.safetensors"])
        // A read across shard boundaries equals the one file's.
        let one = try ActivationDataset(url: single)
        var a = [Float](repeating: 0, count: 20 * Self.length * Self.width), b = a
        try a.withUnsafeMutableBufferPointer { try dataset.readActivations(contexts: 5..<25, into: $0.baseAddress!) }
        try b.withUnsafeMutableBufferPointer { try one.readActivations(contexts: 5..<25, into: $0.baseAddress!) }
        #expect(a == b)
    }

    @Test func encodingShardsWritesTheSameFileAsOneFile() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let (single, folder) = try Self.write(dir)
        let sae = SyntheticDataset.sae(width: Self.width, seed: Self.seed)
        let encoder = DatasetEncoder(tokensPerBatch: 40)  // batches of 5 contexts cross the shard edges
        _ = try encoder.encode(dataset: ActivationDataset(url: single), sae: sae, output: dir.path("one.safetensors"))
        _ = try encoder.encode(dataset: ActivationDataset(url: folder), sae: sae, output: dir.path("shards.safetensors"))
        #expect(try Data(contentsOf: dir.path("one.safetensors")) == Data(contentsOf: dir.path("shards.safetensors")))
    }

    @Test func aShardThatDisagreesIsNamed() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let (_, folder) = try Self.write(dir)
        // A fourth shard of width 8 instead of 9.
        let bad = folder.appendingPathComponent("part-30.safetensors")
        let writer = try DatasetWriter(
            url: bad, contextLength: Self.length, width: 8, tokens: Array(repeating: 3, count: Self.length), mask: nil,
            vocabulary: SyntheticDataset.vocabulary, metadata: Self.metadata)
        try writer.append(Array(repeating: 0, count: Self.length * 8))
        try writer.finish()
        let error = #expect(throws: AutoInterpError.self) { try ActivationDataset(url: folder) }
        #expect(error?.description.hasPrefix(bad.path + ": 'activations' width d = 8 (first shard: 9) differs from the first shard") == true, "\(error?.description ?? "")")

        // A shard whose own header is wrong is named by the per-file check.
        try SafeTensorsWriter.write([.int32("tokens", shape: [1, 8], Array(repeating: 3, count: 8))], to: bad)
        let missing = #expect(throws: AutoInterpError.self) { try ActivationDataset(url: folder) }
        #expect(missing?.description.hasPrefix(bad.path + ":") == true && missing?.description.contains("'activations'") == true)

        // An empty folder, a glob matching nothing and a bad manifest say what to do.
        try FileManager.default.createDirectory(at: dir.path("empty"), withIntermediateDirectories: true)
        #expect((#expect(throws: AutoInterpError.self) { try ActivationDataset(url: dir.path("empty")) })?.description.contains("holds no .safetensors shard") == true)
        #expect((#expect(throws: AutoInterpError.self) { try ActivationDataset(url: dir.path("none-*.safetensors")) })?.description.contains("matches no file") == true)
        try Data("{\"shards\": 1}".utf8).write(to: dir.path("m.json"))
        #expect((#expect(throws: AutoInterpError.self) { try ActivationDataset(url: dir.path("m.json")) })?.description.contains("JSON array") == true)
    }

    @Test func naturalOrderComparesNumbersByValue() {
        let names = ["p-10.safetensors", "p-2.safetensors", "p-1.safetensors", "a.safetensors", "p-02.safetensors"]
        #expect(names.sorted(by: DatasetShards.naturalOrder) == ["a.safetensors", "p-1.safetensors", "p-02.safetensors", "p-2.safetensors", "p-10.safetensors"])
    }
}
