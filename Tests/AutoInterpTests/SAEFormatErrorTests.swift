import AutoInterpTestSupport
import Foundation
import Testing

@testable import AutoInterp

/// Hostile and broken SAE files: one clear line each, nothing executed, never a trap.
struct SAEFormatErrorTests {
    static func fixture(_ path: String) -> URL { SAEFormatTests.fixture(path) }

    // MARK: - The restricted unpickler

    @Test func refusesAReduceToOSSystem() throws {
        let bytes = [UInt8](try Data(contentsOf: Self.fixture("hostile/reduce_os_system.pkl")))
        let error = #expect(throws: AutoInterpError.self) { try RestrictedUnpickler.load(bytes, path: "evil.pkl") }
        let message = try #require(error?.message)
        #expect(message.contains("refusing global 'posix.system'") || message.contains("refusing global 'os.system'"))
        #expect(message.contains("nothing was executed"))
        #expect(!message.contains("\n"))
        #expect(!FileManager.default.fileExists(atPath: "/tmp/autointerp-pwned"))
    }

    @Test func refusesAStackGlobalToEval() throws {
        let bytes = [UInt8](try Data(contentsOf: Self.fixture("hostile/stack_global_eval.pkl")))
        let error = #expect(throws: AutoInterpError.self) { try RestrictedUnpickler.load(bytes, path: "eval.pkl") }
        #expect(error?.message.contains("refusing global 'builtins.eval'") == true)
    }

    @Test func torchFileWithAHostilePickleIsRefused() {
        let error = #expect(throws: AutoInterpError.self) { try SparseAutoencoder.load(path: Self.fixture("hostile/torch_os_system")) }
        #expect(error?.message.contains("evil.pt:evil/data.pkl: pickle: refusing global") == true)
    }

    @Test func unknownOpcodesAndShapesAreRefused() {
        // PROTO 2, then INST ('i'), which a state dict never uses.
        let inst: [UInt8] = [0x80, 0x02, 0x69] + Array("os\nsystem\n".utf8) + [0x2E]
        let error = #expect(throws: AutoInterpError.self) { try RestrictedUnpickler.load(inst, path: "x.pkl") }
        #expect(error?.message.contains("opcode 0x69") == true)
        // REDUCE on a string.
        let reduce: [UInt8] = [0x80, 0x02, 0x8C, 1, 0x61, 0x29, 0x52, 0x2E]
        #expect(throws: AutoInterpError.self) { try RestrictedUnpickler.load(reduce, path: "x.pkl") }
        // A BINUNICODE whose length runs past the end.
        let long: [UInt8] = [0x80, 0x02, 0x58, 0xFF, 0xFF, 0xFF, 0x7F, 0x61]
        let truncated = #expect(throws: AutoInterpError.self) { try RestrictedUnpickler.load(long, path: "x.pkl") }
        #expect(truncated?.message.contains("runs past the end") == true)
        // Empty stack, stray STOP, memo miss.
        for bad: [UInt8] in [[], [0x2E], [0x80, 0x02, 0x68, 5, 0x2E], [0x80, 0x02, 0x73, 0x2E], [0x80, 0x09]] {
            #expect(throws: AutoInterpError.self) { try RestrictedUnpickler.load(bad, path: "x.pkl") }
        }
    }

    @Test func readsPlainData() throws {
        // {'a': (1, -2, 3.5, True, None), 'b': 300000} written by pickle protocol 2.
        let bytes: [UInt8] = [
            0x80, 0x02, 0x7D, 0x71, 0x00, 0x28, 0x58, 0x01, 0x00, 0x00, 0x00, 0x61, 0x71, 0x01, 0x28, 0x4B, 0x01, 0x4A, 0xFE, 0xFF, 0xFF, 0xFF,
            0x47, 0x40, 0x0C, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x88, 0x4E, 0x74, 0x71, 0x02, 0x58, 0x01, 0x00, 0x00, 0x00, 0x62, 0x71, 0x03,
            0x4A, 0xE0, 0x93, 0x04, 0x00, 0x75, 0x2E,
        ]
        let value = try RestrictedUnpickler.load(bytes, path: "plain.pkl")
        guard case .dict(let entries, _) = value, entries.count == 2, case .tuple(let items, _) = entries[0].1, items.count == 5,
            case .int(-2) = items[1], case .float(3.5) = items[2], case .int(300000) = entries[1].1
        else {
            Issue.record("unexpected value \(value)")
            return
        }
    }

    @Test func mutatedPicklesNeverTrap() throws {
        let zip = try ZipReader(url: Self.fixture("torch/dictionary_learning_topk/ae.pt"))
        let original = [UInt8](try zip.data("ae/data.pkl"))
        var random = SeededGenerator(seed: 7)
        var refused = 0
        for round in 0..<3000 {
            var bytes = original
            switch round % 3 {
            case 0: bytes[Int.random(in: 0..<bytes.count, using: &random)] = UInt8.random(in: 0...255, using: &random)
            case 1: bytes = Array(bytes.prefix(Int.random(in: 0..<bytes.count, using: &random)))
            default:
                for _ in 0..<4 { bytes[Int.random(in: 0..<bytes.count, using: &random)] ^= UInt8(1 << Int.random(in: 0..<8, using: &random)) }
            }
            if (try? RestrictedUnpickler.load(bytes, path: "fuzz.pkl")) == nil { refused += 1 }
        }
        #expect(refused > 1000)
    }

    // MARK: - Zip, npy and torch archives

    @Test func truncatedArchivesGiveOneLine() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        for (source, name) in [
            ("gemma-scope/layer_5/width_24/average_l0_3/params.npz", "params.npz"), ("gemma-scope-f16/params.npz", "params.npz"),
            ("torch/goodfire/Tiny-SAE-l3.pth", "model.pth"),
        ] {
            let bytes = try Data(contentsOf: Self.fixture(source))
            for cut in stride(from: 0, to: bytes.count, by: max(1, bytes.count / 40)) {
                let url = dir.path(name)
                try bytes.prefix(cut).write(to: url)
                let error = #expect(throws: AutoInterpError.self) { try SparseAutoencoder.load(path: url) }
                #expect(error?.message.contains("\n") == false)
            }
        }
    }

    @Test func mutatedArchivesNeverTrap() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        var random = SeededGenerator(seed: 11)
        for (source, name) in [
            ("gemma-scope-f16/params.npz", "params.npz"), ("torch/SAE-Res-Tiny-W0K-L0_4/layer3.sae.pt", "layer3.sae.pt"),
        ] {
            let original = [UInt8](try Data(contentsOf: Self.fixture(source)))
            for _ in 0..<150 {
                var bytes = original
                for _ in 0..<Int.random(in: 1...6, using: &random) {
                    bytes[Int.random(in: 0..<bytes.count, using: &random)] = UInt8.random(in: 0...255, using: &random)
                }
                let url = dir.path(name)
                try Data(bytes).write(to: url)
                // Either a clean load (a flipped byte in the data) or one line; never a trap.
                do {
                    _ = try SparseAutoencoder.load(path: url, k: name.hasSuffix(".pt") ? 4 : nil)
                } catch let error as AutoInterpError {
                    #expect(!error.message.contains("\n"))
                }
            }
        }
    }

    @Test func npyHeaders() throws {
        func npy(_ header: String, data: [UInt8] = []) -> [UInt8] {
            var text = header
            while (10 + text.utf8.count + 1) % 64 != 0 { text += " " }
            text += "\n"
            let n = text.utf8.count
            return [0x93] + Array("NUMPY".utf8) + [1, 0, UInt8(n & 0xFF), UInt8(n >> 8)] + Array(text.utf8) + data
        }
        func parse(_ bytes: [UInt8]) throws -> (NumpyArray.Header, [Float]) {
            let result = try bytes.withUnsafeBytes { try NumpyArray.floats($0, path: "a.npz", name: "W") }
            return (result.header, result.values)
        }
        let floats: [Float] = [1, 2, 3, 4, 5, 6]
        let raw = floats.withUnsafeBytes { Array($0) }
        let (c, cValues) = try parse(npy("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", data: raw))
        #expect(c.shape == [2, 3])
        #expect(cValues == floats)
        // Column-major [2, 3] holding 1..6 is [[1, 3, 5], [2, 4, 6]].
        let (_, fValues) = try parse(npy("{'descr': '<f4', 'fortran_order': True, 'shape': (2, 3), }", data: raw))
        #expect(fValues == [1, 3, 5, 2, 4, 6])
        let cases: [(String, [UInt8], String)] = [
            ("{'descr': '>f4', 'fortran_order': False, 'shape': (6,), }", raw, "big-endian"),
            ("{'descr': '<i8', 'fortran_order': False, 'shape': (6,), }", raw, "not a float type"),
            ("{'descr': '<f4', 'fortran_order': True, 'shape': (1, 2, 3), }", raw, "Fortran-order"),
            ("{'descr': '<f4', 'fortran_order': False, 'shape': (7,), }", raw, "needs 28 bytes, found 24"),
            ("{'descr': '<f4', 'fortran_order': False, 'shape': (9223372036854775807, 4), }", raw, "overflows"),
            ("{'descr': '<f4', 'fortran_order': False, 'shape': (-1,), }", raw, "negative"),
            ("{'descr': '<f4', 'fortran_order': False, 'shape': (6,)", raw, "not a Python dict"),
        ]
        for (header, data, problem) in cases {
            let error = #expect(throws: AutoInterpError.self) { try parse(npy(header, data: data)) }
            #expect(error?.message.contains(problem) == true, "\(header): \(error?.message ?? "")")
        }
        #expect(throws: AutoInterpError.self) { try parse(Array("not numpy at all".utf8)) }
        // A header length past the end.
        #expect(throws: AutoInterpError.self) { try parse([0x93] + Array("NUMPY".utf8) + [1, 0, 0xFF, 0xFF, 0x7B]) }
    }

    @Test func legacyTorchFilesAreNamed() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let url = dir.path("old.pt")
        try Data([0x80, 0x02, 0x8A, 0x0A]).write(to: url)
        let error = #expect(throws: AutoInterpError.self) { try SparseAutoencoder.load(path: url) }
        #expect(error?.message.contains("not a zip-format torch file") == true)
    }

    // MARK: - Tensors that are wrong

    static func writeGemmaScope2(_ dir: TemporaryDirectory, encoder: [Float]? = nil, encoderShape: [Int] = [8, 16], threshold: Bool = true) throws
        -> URL
    {
        let folder = dir.path("gs2")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        var tensors: [SafeTensorsWriter.Tensor] = [
            .float32("w_enc", shape: encoderShape, encoder ?? [Float](repeating: 0.1, count: encoderShape.reduce(1, *))),
            .float32("w_dec", shape: [16, 8], [Float](repeating: 0.1, count: 128)),
            .float32("b_enc", shape: [16], [Float](repeating: 0, count: 16)),
            .float32("b_dec", shape: [8], [Float](repeating: 0, count: 8)),
        ]
        if threshold { tensors.append(.float32("threshold", shape: [16], [Float](repeating: 0.2, count: 16))) }
        try SafeTensorsWriter.write(tensors, to: folder.appendingPathComponent("params.safetensors"))
        return folder
    }

    @Test func nanMissingAndMisshapenTensorsNameFileAndTensor() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        var poisoned = [Float](repeating: 0.1, count: 128)
        poisoned[37] = .nan
        let nan = #expect(throws: AutoInterpError.self) { try SparseAutoencoder.load(path: try Self.writeGemmaScope2(dir, encoder: poisoned)) }
        #expect(nan?.message.contains("params.safetensors: 'w_enc' holds a non-finite value (nan) at element 37") == true)
        let missing = #expect(throws: AutoInterpError.self) { try SparseAutoencoder.load(path: try Self.writeGemmaScope2(dir, threshold: false)) }
        #expect(missing?.message.contains("missing tensor 'threshold'") == true)
        let shape = #expect(throws: AutoInterpError.self) {
            try SparseAutoencoder.load(path: try Self.writeGemmaScope2(dir, encoderShape: [8, 15]))
        }
        #expect(shape?.message.contains("'w_enc' has shape [8, 15], expected W_enc [d_in, d_sae] = [8, 16] or its transpose") == true)
        // Transposed on disk is turned around.
        let flipped = try SparseAutoencoder.load(path: try Self.writeGemmaScope2(dir, encoderShape: [16, 8]))
        #expect(flipped.encoderWeights.count == 128)
    }

    @Test func unknownLayoutsListWhatWasFound() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        try Data("x".utf8).write(to: dir.path("notes.txt"))
        let error = #expect(throws: AutoInterpError.self) { try SparseAutoencoder.load(path: dir.url) }
        #expect(error?.message.contains("no known SAE layout (found: notes.txt)") == true)
    }

    // MARK: - YAML subset

    @Test func yamlSubset() throws {
        let yaml = try YAMLSubset(
            text: """
                # comment
                model_kind: transcoder_set   # trailing comment
                feature_input_hook: "hook_resid_mid"
                feature_output_hook: 'hook_mlp_out'
                nested:
                  key: value
                transcoders:
                  - "hf://x/layer_0.safetensors"
                  - layer_1.safetensors
                k: 8
                """, path: "config.yaml")
        #expect(yaml["model_kind"] == "transcoder_set")
        #expect(yaml["feature_input_hook"] == "hook_resid_mid")
        #expect(yaml["feature_output_hook"] == "hook_mlp_out")
        #expect(yaml.lists["transcoders"] == ["hf://x/layer_0.safetensors", "layer_1.safetensors"])
        #expect(yaml["k"] == "8")
        #expect(throws: AutoInterpError.self) { try YAMLSubset(text: "just words", path: "config.yaml") }
    }

    @Test func inspectCommandPrintsWhatWasRecognised() throws {
        let result = try CLIRunner.run(["sae", "inspect", Self.fixture("sparsify/run").path, "--hookpoint", "layers.1.mlp"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("format:       sparsify"))
        #expect(result.stdout.contains("architecture: topk: relu(topk(x·W_enc + b_enc)), k = 3"))
        #expect(result.stdout.contains("d_sae:        16"))
        #expect(result.stdout.contains("\"subtractsDecoderBias\" : false"))
        let bad = try CLIRunner.run(["sae", "inspect", Self.fixture("hostile/torch_os_system").path])
        #expect(bad.status != 0)
        #expect(bad.stderr.split(separator: "\n").count == 1)
        #expect(bad.stderr.contains("refusing global"))
    }
}
