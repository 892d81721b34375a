import AutoInterpLLM
import Foundation
import Testing
@testable import AutoInterp
import AutoInterpTestSupport

/// `harvest` on the tiny model: the output follows the activation dataset contract.
struct HarvestTests {
    static let lines = [
        #"{"text": "The cat sat on the mat."}"#,
        "",
        #"{"text": "hello, world!", "id": 7}"#,
        "   ",
        #"{"text": "the dog runs the cat runs a dog sat on a mat"}"#,
        #"{"text": ""}"#,
    ]

    @Test func writesTheDatasetContract() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        try TinyBertFixture.write(to: dir.path("model"))
        try Self.lines.joined(separator: "\n").write(to: dir.path("texts.jsonl"), atomically: true, encoding: .utf8)
        let harvester = try Harvester(modelDirectory: dir.path("model"), layer: 1, modelName: "tiny")
        var reports: [HarvestProgress] = []
        let summary = try harvester.harvest(
            textsFile: dir.path("texts.jsonl"), output: dir.path("out/acts.safetensors"), contextLength: 8, batchSize: 3
        ) { reports.append($0) }
        #expect(summary.contexts == 4)
        #expect(summary.truncatedContexts == 2)
        #expect(reports.map(\.contextsDone) == [3, 4])

        let file = try SafeTensorsFile(url: dir.path("out/acts.safetensors"))
        #expect(Set(file.tensorNames) == ["tokens", "mask", "activations"])
        #expect(try file.info("tokens").dtype == .I32)
        #expect(try file.info("tokens").shape == [4, 8])
        #expect(try file.info("mask").dtype == .U8)
        #expect(try file.info("mask").shape == [4, 8])
        #expect(try file.info("activations").dtype == .F16)
        #expect(try file.info("activations").shape == [4, 8, 16])
        #expect(file.metadata["model"] == "tiny")
        #expect(file.metadata["layer"] == "1")
        #expect(file.metadata["hook"] == "encoder.layer.1.intermediate.intermediate_act_fn")
        #expect(file.metadata["special_token_ids"] == "[0,1,2,3,4]")
        let specials = try JSONSerialization.jsonObject(with: Data(file.metadata["special_token_ids"]!.utf8)) as? [Int]
        #expect(specials == [0, 1, 2, 3, 4])
        // The corpus is named and hashed (SHA-256 of the texts file's bytes), and a run's config records it.
        #expect(file.metadata["texts"] == "texts.jsonl")
        #expect(file.metadata["texts_sha256"] == SHA256.hex(try Data(contentsOf: dir.path("texts.jsonl"))))
        let described = try #require(DatasetDescription(metadata: file.metadata))
        #expect(described.textsSHA256 == file.metadata["texts_sha256"] && described.model == "tiny")

        let tokens = try file.int64s("tokens")
        // [CLS] the cat sat on the mat . [SEP] is 9 tokens: cut to 8, [SEP] kept.
        #expect(Array(tokens[0..<8]) == [2, 5, 6, 7, 8, 5, 9, 3])
        #expect(Array(tokens[8..<16]) == [2, 18, 16, 19, 17, 3, 0, 0])
        #expect(Array(tokens[24..<32]) == [2, 3, 0, 0, 0, 0, 0, 0])
        let mask = try file.int64s("mask")
        #expect(mask.reduce(0, +) == Int64(summary.tokens))
        #expect(Array(mask[8..<16]) == [1, 1, 1, 1, 1, 1, 0, 0])

        let vocab = try JSONDecoder().decode([String].self, from: Data(contentsOf: dir.path("out/vocab.json")))
        #expect(vocab == TinyBertFixture.vocabulary)

        // Activations equal the runner's (to F16 precision); padding is zero.
        let acts = try file.floats("activations")
        let sequences = (0..<4).map { c in (0..<8).filter { mask[c * 8 + $0] == 1 }.map { Int32(tokens[c * 8 + $0]) } }
        let reference = try harvester.model.intermediateActivations(sequences, layer: 1)
        var row = 0
        var worst: Float = 0
        for c in 0..<4 {
            for t in 0..<8 {
                let slot = Array(acts[((c * 8 + t) * 16)..<((c * 8 + t + 1) * 16)])
                if mask[c * 8 + t] == 1 {
                    let expected = reference[(row * 16)..<((row + 1) * 16)]
                    for (a, b) in zip(slot, expected) { worst = max(worst, abs(a - b) / max(1, abs(b))) }
                    row += 1
                } else {
                    #expect(slot.allSatisfy { $0 == 0 })
                }
            }
        }
        #expect(worst < 2e-3)

        // The dataset reader of the later stages accepts it, special tokens and padding included.
        let dataset = try ActivationDataset(url: dir.path("out/acts.safetensors"))
        #expect(dataset.contextCount == 4)
        #expect(dataset.contextLength == 8)
        #expect(dataset.width == 16)
        #expect(dataset.specialTokenIDs == [0, 1, 2, 3, 4])
        #expect(dataset.vocabulary == TinyBertFixture.vocabulary)
        #expect(dataset.isReal(token: 13) && !dataset.isReal(token: 14))
        #expect(!dataset.isSelectable(token: 8, includeSpecial: false))  // [CLS]
        #expect(dataset.isSelectable(token: 9, includeSpecial: false))  // "hello"
    }

    @Test func float32OutputAndInMemoryTexts() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        try TinyBertFixture.write(to: dir.url)
        let harvester = try Harvester(modelDirectory: dir.url, layer: 0)
        try harvester.harvest(texts: ["hello world", "the cat"], output: dir.path("a.safetensors"), contextLength: 6, dtype: .f32)
        let file = try SafeTensorsFile(url: dir.path("a.safetensors"))
        #expect(try file.info("activations").dtype == .F32)
        #expect(try file.info("activations").shape == [2, 6, 16])
        let acts = try file.floats("activations")
        let reference = try harvester.model.intermediateActivations([[2, 18, 19, 3]], layer: 0)
        #expect(Array(acts[0..<(4 * 16)]) == reference)
        #expect(file.metadata["layer"] == "0")
    }

    @Test func workerCountDoesNotChangeTheOutput() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        try TinyBertFixture.write(to: dir.path("model"))
        let texts = (0..<11).map { i in Array(repeating: "the cat sat on a mat", count: i % 4 + 1).joined(separator: " , ") }
        var files: [[Float]] = []
        for workers in [1, 3] {
            let harvester = try Harvester(modelDirectory: dir.path("model"), layer: 1)
            harvester.workerCount = workers
            try harvester.harvest(
                texts: texts, output: dir.path("w\(workers)/a.safetensors"), contextLength: 12, dtype: .f32, batchSize: 2)
            files.append(try SafeTensorsFile(url: dir.path("w\(workers)/a.safetensors")).floats("activations"))
        }
        #expect(files[0].count == 11 * 12 * 16)
        #expect(files[0] == files[1])
    }

    @Test func badLinesNameFileAndLine() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        try TinyBertFixture.write(to: dir.url)
        let harvester = try Harvester(modelDirectory: dir.url, layer: 0)
        for (content, line) in [(#"{"text": "a"}"# + "\n\n{\"txt\": 1}\n", 3), ("{\"text\": \"a\"}\nnot json\n", 2), ("[1]", 1)] {
            try content.write(to: dir.path("bad.jsonl"), atomically: true, encoding: .utf8)
            let error = #expect(throws: AutoInterpError.self) {
                try harvester.harvest(textsFile: dir.path("bad.jsonl"), output: dir.path("x.safetensors"), contextLength: 8)
            }
            #expect(error?.description.contains("bad.jsonl: line \(line):") == true, "\(String(describing: error))")
        }
        #expect(!FileManager.default.fileExists(atPath: dir.path("x.safetensors").path))
        try "\n\n".write(to: dir.path("empty.jsonl"), atomically: true, encoding: .utf8)
        #expect(throws: AutoInterpError.self) {
            try harvester.harvest(textsFile: dir.path("empty.jsonl"), output: dir.path("x.safetensors"), contextLength: 8)
        }
    }

    @Test func badOptionsAreRejected() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        try TinyBertFixture.write(to: dir.url)
        #expect(throws: AutoInterpError.self) { try Harvester(modelDirectory: dir.url, layer: 2) }
        let harvester = try Harvester(modelDirectory: dir.url, layer: 0)
        #expect(throws: AutoInterpError.self) {
            try harvester.harvest(texts: ["a"], output: dir.path("x.safetensors"), contextLength: 17)
        }
        #expect(throws: AutoInterpError.self) {
            try harvester.harvest(texts: ["a"], output: dir.path("x.safetensors"), contextLength: 1)
        }
    }
}
