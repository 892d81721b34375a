import AutoInterpLLM
import AutoInterpTestSupport
import Foundation
import Testing

@testable import AutoInterp

/// Seeded random-mutation fuzzing of the readers of untrusted bytes: the safetensors header
/// parser (in memory and through `SafeTensorsFile` on disk), `cfg.json`, `vocab.json` and the
/// LLM's chat-completion bodies. Each target runs for a fixed time from a fixed seed; a trap
/// would end the test process, and any thrown error must be the reader's own kind.
///
/// Budget: `AUTOINTERP_FUZZ_SECONDS` per target (default 2, six targets: about 12 s in all); the inputs
/// tried are printed. CPU-bound: one target at a time, beside the other suites.
@Suite(.serialized) struct FuzzTests {
    static let seconds = Double(ProcessInfo.processInfo.environment["AUTOINTERP_FUZZ_SECONDS"] ?? "") ?? 2

    /// Tokens that often break parsers: numbers at and past every limit, unbalanced JSON, escapes.
    static let tokens: [String] = [
        "-1", "0", "1e309", "-1e309", "9223372036854775807", "9223372036854775808", "18446744073709551616", "1.5", "nan", "NaN",
        "Infinity", "null", "true", "\"", "\\", "\\u0000", "\\ud800", "{", "}", "[", "]", ",", ":", "\"\":", "[[[[[[[[", "\u{0}",
        "\"dtype\":\"F32\"", "\"shape\":[", "\"data_offsets\":[0,", "\"__metadata__\":{", "\"d_sae\":", "\"d_in\":", "\"architecture\":",
        "\"choices\":[", "\"message\":{", "\"content\":", "\"logprobs\":", "\"top_logprobs\":[", "\"usage\":{",
    ]

    /// A mutated copy of `input`: 1 to 4 edits (flip, set, insert, delete, duplicate, a token, truncate).
    static func mutate(_ input: [UInt8], _ rng: inout SeededGenerator) -> [UInt8] {
        var bytes = input
        for _ in 0..<Int.random(in: 1...4, using: &rng) {
            let at = bytes.isEmpty ? 0 : Int.random(in: 0..<bytes.count, using: &rng)
            switch Int.random(in: 0..<8, using: &rng) {
            case 0 where !bytes.isEmpty: bytes[at] ^= UInt8(1) << UInt8.random(in: 0..<8, using: &rng)
            case 1 where !bytes.isEmpty: bytes[at] = UInt8.random(in: 0...255, using: &rng)
            case 2: bytes.insert(contentsOf: (0..<Int.random(in: 1...8, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }, at: at)
            case 3 where !bytes.isEmpty: bytes.removeSubrange(at..<min(bytes.count, at + Int.random(in: 1...16, using: &rng)))
            case 4 where !bytes.isEmpty:
                let end = min(bytes.count, at + Int.random(in: 1...32, using: &rng))
                bytes.insert(contentsOf: bytes[at..<end], at: Int.random(in: 0...bytes.count, using: &rng))
            case 5, 6: bytes.insert(contentsOf: Array(tokens.randomElement(using: &rng)!.utf8), at: at)
            default: bytes.removeSubrange(at...)
            }
        }
        return bytes
    }

    /// Runs `body` on mutations of `seeds` for the time budget; returns the inputs tried.
    static func fuzz(_ name: String, seed: UInt64, seeds: [[UInt8]], _ body: ([UInt8]) throws -> Void, isExpected: (any Error) -> Bool) -> Int {
        var rng = SeededGenerator(seed: seed)
        let deadline = Date().addingTimeInterval(seconds)
        var count = 0, rejected = 0
        while Date() < deadline {
            for _ in 0..<64 {
                var input = seeds.randomElement(using: &rng)!
                if count % 4 != 0 { input = mutate(input, &rng) }  // keep trying the seeds themselves too
                if Int.random(in: 0..<4, using: &rng) == 0 { input = mutate(input, &rng) }
                count += 1
                do {
                    try body(input)
                } catch {
                    rejected += 1
                    #expect(isExpected(error), "\(name): unexpected \(type(of: error)): \(error)")
                }
            }
        }
        print("fuzz \(name): \(count) inputs in \(seconds) s (seed \(seed)), \(rejected) rejected with an error, none trapped")
        return count
    }

    /// A safetensors file image with a header of `metadata` and F32/I32 tensors.
    static func safetensorsImage(_ dir: TemporaryDirectory) throws -> [UInt8] {
        let url = dir.path("seed.safetensors")
        try SafeTensorsWriter.write(
            [.init(name: "tokens", dtype: .I32, shape: [2, 3], data: Data(count: 24)), .init(name: "activations", dtype: .F32, shape: [2, 3, 2], data: Data(count: 48)),
             .init(name: "mask", dtype: .U8, shape: [2, 3], data: Data(repeating: 1, count: 6))],
            metadata: ["model": "m", "special_token_ids": "[0]"], to: url)
        return Array(try Data(contentsOf: url))
    }

    @Test func safetensorsHeaderParser() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let image = try Self.safetensorsImage(dir)
        let count = Self.fuzz("safetensors header (memory)", seed: 1, seeds: [image]) { bytes in
            guard bytes.count >= 8 else { return }
            _ = try bytes.withUnsafeBytes { try SafeTensorsFile.parseHeader($0, path: "fuzz.safetensors") }
        } isExpected: { $0 is AutoInterpError }
        #expect(count > 100)
    }

    @Test func safetensorsFilesOnDiskAndTheirTensors() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let image = try Self.safetensorsImage(dir)
        let url = dir.path("fuzz.safetensors")
        let count = Self.fuzz("SafeTensorsFile + tensors", seed: 2, seeds: [image]) { bytes in
            try Data(bytes).write(to: url)
            let file = try SafeTensorsFile(url: url)
            for name in ["tokens", "activations", "mask"] where file.contains(name) {
                let info = try file.info(name)
                if info.dtype.isConvertibleFloat { _ = try file.floats(name) } else { _ = try? file.int64s(name) }
            }
        } isExpected: { $0 is AutoInterpError }
        #expect(count > 100)
    }

    @Test func saeConfigJSON() throws {
        let cfg = #"{"architecture":"jumprelu","d_in":4,"d_sae":8,"dtype":"float32","apply_b_dec_to_input":true,"normalize_activations":"none","hook_name":"blocks.0.hook_resid_pre","model_name":"gpt2","metadata":{"k":4,"activation_fn":"topk"}}"#
        let count = Self.fuzz("cfg.json", seed: 3, seeds: [Array(cfg.utf8)]) { bytes in
            guard let root = try? JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any] else { return }
            _ = try SAEConfig(json: root, path: "cfg.json")
        } isExpected: { $0 is AutoInterpError }
        #expect(count > 100)
    }

    @Test func saeFolderWithAMutatedConfig() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let folder = dir.path("sae")
        try SyntheticDataset.writeSAE(to: folder, width: 9, seed: 1)
        let cfg = Array(try Data(contentsOf: folder.appendingPathComponent("cfg.json")))
        let count = Self.fuzz("SAE folder (cfg.json + weights)", seed: 6, seeds: [cfg]) { bytes in
            try Data(bytes).write(to: folder.appendingPathComponent("cfg.json"))
            _ = try SparseAutoencoder(folder: folder)
        } isExpected: { $0 is AutoInterpError }
        #expect(count > 100)

        // Every key of the real cfg.json with every hostile JSON value, through the whole loader.
        let root = try #require(try JSONSerialization.jsonObject(with: Data(cfg)) as? [String: Any])
        let hostile: [Any] = [-1, 0, Int.max, 9.3e18, 1e300, -1e300, 1.5, "x", "", [Any](), [String: Any](), NSNull(), true, [1, 2]]
        var tried = 0
        for key in root.keys.sorted() + ["k", "activation_fn_kwargs", "metadata", "normalize_activations"] {
            for value in hostile {
                var mutated = root
                mutated[key] = value
                try JSONSerialization.data(withJSONObject: mutated).write(to: folder.appendingPathComponent("cfg.json"))
                tried += 1
                do { _ = try SparseAutoencoder(folder: folder) } catch { #expect(error is AutoInterpError, "\(key) = \(value): \(error)") }
            }
        }
        print("fuzz SAE folder: \(tried) structured cfg.json variants (every key × \(hostile.count) hostile values), none trapped")
    }

    @Test func vocabularyJSON() throws {
        let vocab = #"["[PAD]","[CLS]","the","caf\u00e9"," ","é","\n","🙂"]"#
        let count = Self.fuzz("vocab.json", seed: 4, seeds: [Array(vocab.utf8)]) { bytes in
            _ = try ActivationDataset.parseVocabulary(Data(bytes), path: "vocab.json")
        } isExpected: { $0 is AutoInterpError }
        #expect(count > 100)
    }

    @Test func chatCompletionBodies() throws {
        let body = #"{"id":"x","object":"chat.completion","choices":[{"index":0,"message":{"role":"assistant","content":"hello"},"finish_reason":"stop","logprobs":{"content":[{"token":"5","logprob":-0.1,"top_logprobs":[{"token":"5","logprob":-0.1},{"token":"6","logprob":-2.5}]}]}}],"usage":{"prompt_tokens":10,"completion_tokens":2,"total_tokens":12}}"#
        let count = Self.fuzz("chat completion", seed: 5, seeds: [Array(body.utf8)]) { bytes in
            let response = try ChatCompletionResponse.decode(Data(bytes))
            _ = response.content
            _ = response.tokenLogprobs
        } isExpected: { $0 is DecodingError }
        #expect(count > 100)
    }
}
