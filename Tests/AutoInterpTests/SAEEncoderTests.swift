import AutoInterpTestSupport
import Foundation
import Testing

@testable import AutoInterp

struct SAEEncoderTests {
    struct Golden: Sendable, CustomTestStringConvertible {
        var name: String
        var config: [String: String]  // JSON fragments, decoded below
        var expected: [Float]
        var testDescription: String { name }
    }

    static let goldenCases: [Golden] = [
        Golden(name: "standard", config: ["architecture": #""standard""#], expected: [4, 5, 1.75, 0, 0, 0.5, 2.25, 0]),
        Golden(
            name: "standard, no b_dec", config: ["architecture": #""standard""#, "apply_b_dec_to_input": "false"],
            expected: [4, 4.5, 1.25, 0, 0, 0, 1.75, 0]),
        Golden(
            name: "jumprelu, no b_dec", config: ["architecture": #""jumprelu""#, "apply_b_dec_to_input": "false"],
            expected: [4, 4.5, 0, 0, 0, 0, 0, 0]),
        Golden(name: "topk k=2", config: ["architecture": #""topk""#, "k": "2"], expected: [4, 5, 0, 0, 0, 0.5, 2.25, 0]),
        Golden(
            name: "topk k=2 rescaled", config: ["architecture": #""topk""#, "k": "2", "rescale_acts_by_decoder_norm": "true"],
            expected: [4, 10, 0, 0, 0, 1, 2.25, 0]),
        Golden(
            name: "standard, constant_norm_rescale", config: ["architecture": #""standard""#, "normalize_activations": #""constant_norm_rescale""#],
            expected: [1.85164, 2.31455, 1.21291, 0, 0, 0.7746, 3.07379, 0]),
        // The older flat form: activation_fn_str + activation_fn_kwargs.
        Golden(
            name: "flat topk", config: ["activation_fn_str": #""topk""#, "activation_fn_kwargs": #"{"k": 2}"#, "hook_point": #""blocks.0""#],
            expected: [4, 5, 0, 0, 0, 0.5, 2.25, 0]),
    ]

    static func cfg(_ fragments: [String: String], nested: Bool) throws -> [String: Any] {
        var fields: [String: Any] = [:]
        for (key, json) in fragments {
            fields[key] = try JSONSerialization.jsonObject(with: Data(json.utf8), options: .fragmentsAllowed)
        }
        var root: [String: Any] = ["d_in": 3, "d_sae": 4, "dtype": "torch.float32"]
        if nested {
            root["metadata"] = fields.merging(["hook_name": "blocks.0.hook_resid_pre"]) { a, _ in a }
        } else {
            root.merge(fields) { a, _ in a }
        }
        return root
    }

    static func encode(_ sae: SparseAutoencoder, _ inputs: [Float], sparse: Bool) throws -> [Float] {
        let encoder = try SAEEncoder(sae: sae, batchSize: 64)
        let tokens = inputs.count / sae.dIn
        if sparse {
            var rows = SparseRows()
            inputs.withUnsafeBufferPointer { encoder.encodeSparse($0.baseAddress!, tokens: tokens, appendingTo: &rows) }
            return (0..<tokens).flatMap { rows.dense(row: $0, width: encoder.outputWidth) }
        }
        var out = [Float](repeating: .nan, count: tokens * encoder.outputWidth)
        inputs.withUnsafeBufferPointer { x in
            out.withUnsafeMutableBufferPointer { encoder.encodeDense(x.baseAddress!, tokens: tokens, into: $0.baseAddress!) }
        }
        return out
    }

    @Test(arguments: goldenCases, [false, true])
    func matchesGoldenTable(_ c: Golden, nested: Bool) throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        try SAEFixture.writeGolden(folder: dir.url, config: try Self.cfg(c.config, nested: nested))
        let sae = try SparseAutoencoder(folder: dir.url)
        for sparse in [false, true] {
            let got = try Self.encode(sae, SAEFixture.goldenInputs, sparse: sparse)
            #expect(got.count == c.expected.count)
            for (g, e) in zip(got, c.expected) {
                #expect(abs(g - e) < 1e-4, "\(c.name) sparse=\(sparse): \(got) vs \(c.expected)")
            }
        }
    }

    @Test(arguments: [SafeTensorsDType.F16, .BF16])
    func convertsHalfPrecisionWeights(_ dtype: SafeTensorsDType) throws {
        // The golden weights are exactly representable in F16 and BF16.
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        try SAEFixture.writeGolden(folder: dir.url, config: ["architecture": "jumprelu", "d_in": 3, "d_sae": 4, "dtype": "bfloat16", "apply_b_dec_to_input": false], dtype: dtype)
        let sae = try SparseAutoencoder(folder: dir.url)
        #expect(try Self.encode(sae, SAEFixture.goldenInputs, sparse: true) == [4, 4.5, 0, 0, 0, 0, 0, 0])
    }

    @Test func layerNormFollowsSAELens() throws {
        // x = [1, 2, 3]: centred [-1, 0, 1], unbiased std 1, so s = [-1, 0, 1] / (1 + 1e-5);
        // z = s·W_enc + b_enc = [0, 0.5, 1.25, -2] (up to the 1e-5), ReLU → [0, 0.5, 1.25, 0].
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        try SAEFixture.writeGolden(
            folder: dir.url,
            config: ["architecture": "standard", "d_in": 3, "d_sae": 4, "apply_b_dec_to_input": false, "normalize_activations": "layer_norm"])
        let sae = try SparseAutoencoder(folder: dir.url)
        let got = try Self.encode(sae, [1, 2, 3], sparse: false)
        for (g, e) in zip(got, [0, 0.5, 1.25, 0] as [Float]) { #expect(abs(g - e) < 1e-4, "\(got)") }
    }

    @Test func gatedFollowsSAELens() throws {
        // z = x·W_enc (no b_dec): row 0 [4, 5, 1, 0], row 1 [-1, 0.5, 1.5, -2.5].
        // Gate z + b_gate > 0; magnitude ReLU(z·exp(r_mag) + b_mag); b_enc is unused by gated SAEs.
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        try Self.writeGoldenGated(to: dir.url)
        let sae = try SparseAutoencoder(folder: dir.url)
        let got = try Self.encode(sae, SAEFixture.goldenInputs, sparse: true)
        for (g, e) in zip(got, [4.1, 0, 1, 0, 0, 0, 1.5, 0] as [Float]) { #expect(abs(g - e) < 1e-5, "\(got)") }
    }

    /// A gated SAELens folder on the golden weights (b_enc unused by gated SAEs, so set to 9).
    static func writeGoldenGated(to folder: URL) throws {
        try SAEFixture.write(
            folder: folder, config: ["architecture": "gated", "d_in": 3, "d_sae": 4, "apply_b_dec_to_input": false],
            tensors: [
                .float32("W_enc", shape: [3, 4], SAEFixture.goldenEncoder), .float32("b_enc", shape: [4], [9, 9, 9, 9]),
                .float32("W_dec", shape: [4, 3], SAEFixture.goldenDecoder), .float32("b_dec", shape: [3], SAEFixture.goldenDecoderBias),
                .float32("b_gate", shape: [4], [0, -5, 0, 0]), .float32("r_mag", shape: [4], [0, Float(log(2.0)), 0, 0]),
                .float32("b_mag", shape: [4], [0.1, 0, 0, 0]),
            ])
    }

    @Test func transposedEncoderIsTurnedAround() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let wEncT = transpose(SAEFixture.goldenEncoder, rows: 3, columns: 4)
        try SAEFixture.write(
            folder: dir.url, config: ["architecture": "standard", "d_in": 3, "d_sae": 4],
            tensors: [
                .float32("W_enc", shape: [4, 3], wEncT), .float32("b_enc", shape: [4], SAEFixture.goldenEncoderBias),
                .float32("W_dec", shape: [4, 3], SAEFixture.goldenDecoder), .float32("b_dec", shape: [3], SAEFixture.goldenDecoderBias),
            ])
        let sae = try SparseAutoencoder(folder: dir.url)
        #expect(try Self.encode(sae, SAEFixture.goldenInputs, sparse: false) == [4, 5, 1.75, 0, 0, 0.5, 2.25, 0])
    }

    @Test func shapeDisagreeingWithConfigNamesTheTensor() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        try SAEFixture.writeGolden(folder: dir.url, config: ["architecture": "standard", "d_in": 5, "d_sae": 4])
        let error = #expect(throws: AutoInterpError.self) { try SparseAutoencoder(folder: dir.url) }
        #expect(error?.description.contains("'W_enc' has shape [3, 4]") == true)
        #expect(error?.description.contains("sae_weights.safetensors") == true)
    }

    @Test func missingKeyAndBadArchitectureAreReported() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        try SAEFixture.writeGolden(folder: dir.url, config: ["architecture": "standard", "d_sae": 4])
        #expect((#expect(throws: AutoInterpError.self) { try SparseAutoencoder(folder: dir.url) })?.description.contains("missing 'd_in'") == true)
        try SAEFixture.writeGolden(folder: dir.url, config: ["architecture": "matryoshka-x", "d_in": 3, "d_sae": 4])
        #expect((#expect(throws: AutoInterpError.self) { try SparseAutoencoder(folder: dir.url) })?.description.contains("unsupported architecture") == true)
    }

    @Test func nonFiniteWeightIsRejected() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        var bias = SAEFixture.goldenEncoderBias
        bias[2] = .nan
        try SAEFixture.write(
            folder: dir.url, config: ["architecture": "standard", "d_in": 3, "d_sae": 4],
            tensors: [
                .float32("W_enc", shape: [3, 4], SAEFixture.goldenEncoder), .float32("b_enc", shape: [4], bias),
                .float32("W_dec", shape: [4, 3], SAEFixture.goldenDecoder), .float32("b_dec", shape: [3], SAEFixture.goldenDecoderBias),
            ])
        #expect((#expect(throws: AutoInterpError.self) { try SparseAutoencoder(folder: dir.url) })?.description.contains("'b_enc' holds a non-finite") == true)
    }

    @Test func sparseDenseAndSubsetAgreeOnARandomSAE() throws {
        let sae = SAEFixture.random(dIn: 24, dSAE: 64, activeFraction: 0.2, seed: 7)
        var rng = SeededGenerator(seed: 3)
        let inputs = (0..<(37 * 24)).map { _ in Float(rng.nextGaussian()) }
        let dense = try Self.encode(sae, inputs, sparse: false)
        let sparse = try Self.encode(sae, inputs, sparse: true)
        #expect(dense == sparse)
        #expect(dense.filter { $0 > 0 }.count > 37 * 64 / 10)  // the fixture really is active

        // Reference by plain loops.
        for t in 0..<37 {
            for f in 0..<64 {
                var z = sae.encoderBias[f]
                for j in 0..<24 { z += inputs[t * 24 + j] * sae.encoderWeights[j * 64 + f] }
                #expect(abs(max(z, 0) - dense[t * 64 + f]) < 1e-4)
            }
        }
        // A subset encoder returns the same columns.
        let subset = [5, 0, 63, 17]
        let encoder = try SAEEncoder(sae: sae, batchSize: 64, features: subset)
        var out = [Float](repeating: 0, count: 37 * 4)
        inputs.withUnsafeBufferPointer { x in out.withUnsafeMutableBufferPointer { encoder.encodeDense(x.baseAddress!, tokens: 37, into: $0.baseAddress!) } }
        for t in 0..<37 {
            for (c, f) in subset.enumerated() { #expect(abs(out[t * 4 + c] - dense[t * 64 + f]) < 1e-5) }
        }
    }
}
