import AutoInterpLLM
import AutoInterpTestSupport
import Foundation
import Testing

@testable import AutoInterp

/// `harvest --shard-tokens N`: shards of N / context-len contexts in a folder, read by
/// `--activations FOLDER` as the same dataset the one-file harvest writes.
@Suite struct HarvestShardTests {
    static let texts = (0..<7).map { "text \($0): the cat sat on the mat and the dog ran \($0 * 7)" }

    /// Every context's tokens, mask and activations, and what `select` stores from them.
    static func same(_ a: URL, _ b: URL, dir: TemporaryDirectory, name: String) throws {
        let one = try ActivationDataset(url: a), many = try ActivationDataset(url: b)
        #expect(one.contextCount == many.contextCount && one.width == many.width && one.vocabulary == many.vocabulary)
        #expect(one.metadata == many.metadata)
        var x = [Float](repeating: 0, count: one.tokenCount * one.width), y = x
        try x.withUnsafeMutableBufferPointer { try one.readActivations(contexts: 0..<one.contextCount, into: $0.baseAddress!) }
        try y.withUnsafeMutableBufferPointer { try many.readActivations(contexts: 0..<many.contextCount, into: $0.baseAddress!) }
        #expect(x == y)
        #expect((0..<one.contextCount).allSatisfy { Array(one.tokens(context: $0)) == Array(many.tokens(context: $0)) })
        let rows = try ShardedDatasetTests.storedRows(dir, activations: a, sae: nil, name: name + "-one")
        #expect(!rows.isEmpty)
        #expect(try ShardedDatasetTests.storedRows(dir, activations: b, sae: nil, name: name + "-shards") == rows)
    }

    @Test func bertHarvestInThreeShardsIsTheOneFileHarvest() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        try TinyBertFixture.write(to: dir.path("model"))
        let harvester = try Harvester(modelDirectory: dir.path("model"), layer: 1, modelName: "tiny")
        let single = dir.path("one/acts.safetensors")
        try harvester.harvest(texts: Self.texts, output: single, contextLength: 8, batchSize: 2)
        // Batches of 2 contexts against shards of 3: a batch straddles each boundary.
        let folder = dir.path("shards")
        let summary = try harvester.harvest(texts: Self.texts, output: folder, contextLength: 8, batchSize: 2, contextsPerShard: 3)
        let names = try FileManager.default.contentsOfDirectory(atPath: folder.path).sorted()
        #expect(names == ["shard-00000.safetensors", "shard-00001.safetensors", "shard-00002.safetensors", "vocab.json"])
        #expect(try (0..<3).map { try SafeTensorsFile(url: folder.appendingPathComponent(ShardedDatasetWriter.shardName($0))).info("tokens").shape }
            == [[3, 8], [3, 8], [1, 8]])
        #expect(summary.output == folder && summary.contexts == 7)
        try Self.same(single, folder, dir: dir, name: "bert")
    }

    @Test func decoderHarvestInShardsPerHookIsTheOneFileHarvest() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let hooks = [DecoderHook(layer: 0, kind: .residPost), DecoderHook(layer: 1, kind: .mlpPost)]
        let harvester = try DecoderHarvester(modelPath: DecoderProvenanceTests.llama, hooks: hooks, prependBOS: true)
        let single = dir.path("one/acts.safetensors")
        try harvester.harvest(texts: Self.texts, output: single, contextLength: 10, dtype: .f32, batchSize: 3)
        let folder = dir.path("shards")
        let summaries = try harvester.harvest(texts: Self.texts, output: folder, contextLength: 10, dtype: .f32, batchSize: 3, contextsPerShard: 2)
        #expect(summaries.map(\.output) == hooks.map { folder.appendingPathComponent($0.description) })
        for (hook, summary) in zip(hooks, summaries) {
            let names = try FileManager.default.contentsOfDirectory(atPath: summary.output.path).filter { $0.hasSuffix(".safetensors") }
            #expect(names.count == 4)  // 7 contexts in shards of 2
            try Self.same(harvester.outputs(for: single)[hook]!, summary.output, dir: dir, name: "\(hook)")
        }
    }

    @Test func decoderHarvestOfATextsFileRecordsTheCorpusInEveryHookAndShard() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let texts = dir.path("corpus.jsonl")
        try Self.texts.map { "{\"text\": \"\($0)\"}" }.joined(separator: "\n").write(to: texts, atomically: true, encoding: .utf8)
        let hash = SHA256.hex(try Data(contentsOf: texts))
        let hooks = [DecoderHook(layer: 0, kind: .residPost), DecoderHook(layer: 1, kind: .mlpPost)]
        let harvester = try DecoderHarvester(modelPath: DecoderProvenanceTests.llama, hooks: hooks, prependBOS: true)
        let single = dir.path("one/acts.safetensors")
        let folder = dir.path("shards")
        let summaries = try harvester.harvest(textsFile: texts, output: single, contextLength: 10, dtype: .f32, batchSize: 3)
            + harvester.harvest(textsFile: texts, output: folder, contextLength: 10, dtype: .f32, batchSize: 3, contextsPerShard: 3)
        #expect(summaries.count == 4)
        for summary in summaries {
            #expect(summary.metadata["texts"] == "corpus.jsonl" && summary.metadata["texts_sha256"] == hash)
            // What select/run read: the file, or every shard of the folder (its own hook kept).
            let files = summary.output.pathExtension == "safetensors"
                ? [summary.output]
                : try FileManager.default.contentsOfDirectory(at: summary.output, includingPropertiesForKeys: nil)
                    .filter { $0.pathExtension == "safetensors" }
            #expect(files.count == (summary.output == folder.appendingPathComponent(summary.metadata["hook"] ?? "") ? 3 : 1))
            for file in files {
                let metadata = try SafeTensorsFile(url: file).metadata
                #expect(metadata["texts"] == "corpus.jsonl" && metadata["texts_sha256"] == hash)
                #expect(metadata["hook"] == summary.metadata["hook"])
            }
            let described = try #require(DatasetDescription(metadata: try ActivationDataset(url: summary.output).metadata))
            #expect(described.textsSHA256 == hash && described.texts == "corpus.jsonl")
        }
        // Texts given in memory name no file.
        let inMemory = try harvester.harvest(texts: Self.texts, output: dir.path("mem/acts.safetensors"), contextLength: 10, dtype: .f32)
        #expect(inMemory.allSatisfy { $0.metadata["texts_sha256"] == nil })
    }

    @Test func shardTokensBelowOneContextIsRefusedInOneLine() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        try TinyBertFixture.write(to: dir.path("model"))
        let texts = dir.path("texts.jsonl")
        try Self.texts.map { "{\"text\": \"\($0)\"}" }.joined(separator: "\n").write(to: texts, atomically: true, encoding: .utf8)
        func run(_ extra: [String]) throws -> CLIRunner.Result {
            try CLIRunner.run(
                ["harvest", "--model", dir.path("model").path, "--texts", texts.path, "--layer", "0", "--context-len", "8", "--quiet",
                 "--output", dir.path("out").path] + extra)
        }
        let small = try run(["--shard-tokens", "7"])
        #expect(small.status != 0 && small.oneLineErrorProblem(["--shard-tokens", "8"]) == nil, "\(small.stderr)")
        #expect(!FileManager.default.fileExists(atPath: dir.path("out").path))
        let ok = try run(["--shard-tokens", "20"])  // 2 contexts of 8 per shard
        #expect(ok.status == 0, "\(ok.stderr)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path("out").path).filter { $0.hasPrefix("shard-") }.count == 4)
        let dataset = try ActivationDataset(url: dir.path("out"))
        #expect(dataset.contextCount == 7)
    }
}
