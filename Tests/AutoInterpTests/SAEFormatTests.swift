import AutoInterpTestSupport
import Foundation
import Logging
import Testing

@testable import AutoInterp

/// Every published layout, read from fixtures made by the publishers' own code
/// (`Fixtures/SAEFormats/make_fixtures.py`), encodes as the publisher's encode does.
struct SAEFormatTests {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/SAEFormats")

    struct Case: Decodable, Sendable, CustomTestStringConvertible {
        struct Options: Decodable, Sendable {
            var hookpoint: String?
            var layer: Int?
        }
        var name: String
        var path: String
        var inputs: [[Float]]
        var features: [[Float]]
        var format: String
        var architecture: String
        var d_in: Int
        var d_sae: Int
        var k: Int?
        var options: Options?
        var testDescription: String { name }
    }

    struct Expected: Decodable {
        var cases: [Case]
    }

    static let cases: [Case] = {
        guard let data = FileManager.default.contents(atPath: fixtures.appendingPathComponent("expected.json").path),
            let expected = try? JSONDecoder().decode(Expected.self, from: data)
        else { return [] }
        return expected.cases
    }()

    static func fixture(_ path: String) -> URL { fixtures.appendingPathComponent(path) }

    @Test func everyFormatHasAFixture() {
        let formats = Set(Self.cases.map(\.format))
        #expect(formats.isSuperset(of: ["saelens", "gemma-scope", "gemma-scope-2", "sparsify", "circuit-tracer", "torch"]))
        #expect(Self.cases.count >= 16)
    }

    @Test(arguments: cases)
    func encodesAsThePublisher(_ c: Case) throws {
        let sae = try SparseAutoencoder.load(path: Self.fixture(c.path), hookpoint: c.options?.hookpoint, layer: c.options?.layer)
        let source = try #require(sae.source)
        #expect(source.format.rawValue == c.format)
        #expect(sae.config.architecture.rawValue == c.architecture)
        #expect(sae.dIn == c.d_in)
        #expect(sae.dSAE == c.d_sae)
        #expect(sae.config.k == c.k)
        for sparse in [false, true] {
            let got = try SAEEncoderTests.encode(sae, c.inputs.flatMap { $0 }, sparse: sparse)
            let want = c.features.flatMap { $0 }
            #expect(got.count == want.count)
            // Relative error; below 0.1 (activations here are O(1)) summation order alone moves
            // the last digits, so the floor keeps that from counting as a mismatch.
            var worst: Float = 0
            for (a, b) in zip(got, want) {
                worst = max(worst, abs(a - b) / max(abs(b), 0.1))
                #expect((a == 0) == (b == 0), "\(c.name): active set differs (got \(a), want \(b))")
            }
            #expect(worst <= 1e-5, "\(c.name): largest relative error \(worst)")
        }
    }

    @Test(arguments: cases)
    func detectsTheFormatByItsFiles(_ c: Case) throws {
        #expect(try SAEFormat.detect(at: Self.fixture(c.path)).rawValue == c.format)
    }

    @Test func forcedFormatAndSingleFiles() throws {
        let sae = try SparseAutoencoder.load(path: Self.fixture("circuit-tracer/layer_1.safetensors"))
        #expect(sae.source?.layer == 1)
        #expect(sae.source?.hook == "hook_resid_mid")
        #expect(sae.source?.outputHook == "hook_mlp_out")
        let forced = try SparseAutoencoder.load(path: Self.fixture("sparsify/run/layers.0"), format: .sparsify)
        #expect(forced.source?.hookpoint == "layers.0")
        #expect(forced.source?.dtype == "F16")
        let gemma2 = try SparseAutoencoder.load(path: Self.fixture("gemma-scope-2/transcoder_all/layer_3_width_16_l0_small_affine/params.safetensors"))
        #expect(gemma2.source?.dtype == "F32 (threshold), BF16")
        #expect(gemma2.source?.notes.contains { $0.contains("skip-transcoder") } == true)
        #expect(gemma2.source?.subtractsDecoderBias == false)
        let gemma = try SparseAutoencoder.load(path: Self.fixture("gemma-scope/layer_5/width_24/average_l0_3"))
        #expect(gemma.source?.layer == 5)
        #expect(gemma.source?.thresholdRange?.count == 2)
        #expect(try SparseAutoencoder.load(path: Self.fixture("gemma-scope-bf16")).source?.dtype == "BF16")
        #expect(try SparseAutoencoder.load(path: Self.fixture("gemma-scope-f16")).source?.dtype == "F16 (W_dec, W_enc), F32")
    }

    // MARK: - Choosing within a folder

    @Test func sparsifyTopFolderAsksForAHookpoint() throws {
        let error = #expect(throws: AutoInterpError.self) { try SparseAutoencoder.load(path: Self.fixture("sparsify/run")) }
        #expect(error?.description.contains("`hookpoint` (layers.0, layers.1.mlp)") == true)
        let wrong = #expect(throws: AutoInterpError.self) {
            try SparseAutoencoder.load(path: Self.fixture("sparsify/run"), hookpoint: "layers.9")
        }
        #expect(wrong?.message.contains("no hookpoint 'layers.9'") == true)
    }

    @Test func transcoderSetAsksForALayer() throws {
        let error = #expect(throws: AutoInterpError.self) { try SparseAutoencoder.load(path: Self.fixture("circuit-tracer")) }
        #expect(error?.description.contains("layers 0, 1; pick one with `layer`") == true)
        let missing = #expect(throws: AutoInterpError.self) { try SparseAutoencoder.load(path: Self.fixture("circuit-tracer"), layer: 7) }
        #expect(missing?.message.contains("no layer_7.safetensors") == true)
    }

    @Test func optionsThatDoNotApplyAreRefused() {
        let error = #expect(throws: AutoInterpError.self) {
            try SparseAutoencoder.load(path: Self.fixture("gemma-scope/layer_5/width_24/average_l0_3"), layer: 3)
        }
        #expect(error?.description.contains("`layer` does not apply to a gemma-scope SAE") == true)
        let k = #expect(throws: AutoInterpError.self) { try SparseAutoencoder.load(path: Self.fixture("torch/goodfire"), k: 3) }
        #expect(k?.description.contains("`k` 3 does not apply") == true)
    }

    @Test func qwenScopeKFromTheOptionOverridesThePath() throws {
        let sae = try SparseAutoencoder.load(path: Self.fixture("torch/SAE-Res-Tiny-W0K-L0_4"), k: 2)
        #expect(sae.config.k == 2)
        #expect(sae.source?.variant == "qwen-scope")
        #expect(sae.source?.layer == 3)
    }

    // MARK: - Against a dataset

    static func dataset(in dir: TemporaryDirectory, width: Int, hook: String) throws -> ActivationDataset {
        let url = dir.path("acts.safetensors")
        let writer = try DatasetWriter(
            url: url, contextLength: 2, width: width, tokens: [0, 1], mask: nil, vocabulary: ["a", "b"], metadata: ["hook": hook])
        try writer.append((0..<(2 * width)).map { Float($0 % 5) - 2 })
        try writer.finish()
        return try ActivationDataset(url: url)
    }

    @Test func transcoderOnItsOutputHookSaysWhichHookToUse() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let sae = try SparseAutoencoder.load(path: Self.fixture("circuit-tracer"), layer: 0)
        let wrong = try Self.dataset(in: dir, width: 8, hook: "blocks.0.hook_mlp_out")
        let error = #expect(throws: AutoInterpError.self) { try sae.checkCompatible(with: wrong) }
        #expect(error?.message.contains("read from its input hook 'hook_resid_mid'") == true)
        #expect(error?.isShapeMismatch == true)
        let right = try Self.dataset(in: dir, width: 8, hook: "blocks.0.hook_resid_mid")
        try sae.checkCompatible(with: right)
        let narrow = try Self.dataset(in: dir, width: 6, hook: "blocks.0.hook_resid_mid")
        let width = #expect(throws: AutoInterpError.self) { try sae.checkCompatible(with: narrow) }
        #expect(width?.message.contains("expects d_in = 8") == true)
    }

    @Test func encodeCommandTakesAnyFormat() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        _ = try Self.dataset(in: dir, width: 8, hook: "blocks.0.hook_mlp_out")
        let sae = Self.fixture("circuit-tracer").path
        let args = ["encode", "--sae", sae, "--layer", "0", "--activations", dir.path("acts.safetensors").path, "--quiet"]
        let refused = try CLIRunner.run(args + ["--output", dir.path("out.safetensors").path])
        #expect(refused.status != 0)
        #expect(refused.stderr.split(separator: "\n").count == 1)
        #expect(refused.stderr.contains("input hook 'hook_resid_mid'"))
        _ = try Self.dataset(in: dir, width: 8, hook: "blocks.0.hook_resid_mid")
        let ok = try CLIRunner.run(args + ["--output", dir.path("out.safetensors").path])
        #expect(ok.status == 0, "\(ok.stderr)")
        let out = try SafeTensorsFile(url: dir.path("out.safetensors"))
        #expect(out.metadata["d_sae"] == "16")
    }

    @Test func runConfigRecordsTheSAESource() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        _ = try Self.dataset(in: dir, width: 8, hook: "blocks.3.hook_resid_post")
        var request = RunSetup.Request(
            name: "formats", resultsFolder: dir.path("results"), activations: dir.path("acts.safetensors"), sae: Self.fixture("sparsify/run"),
            features: try UnitSpec(parsing: "0-3"), neurons: try UnitSpec(parsing: "none"))
        request.saeOptions = SAELoadOptions(hookpoint: "layers.0")
        let outcome = try RunSetup(logger: Logger(label: "test.setup")).prepare(request)
        let config = try RunConfig.decode(outcome.run.configJSON)
        let source = try #require(config.saeSource)
        #expect(source.format == .sparsify)
        #expect(source.k == 4)
        #expect(source.activation.hasPrefix("relu(topk((x - b_dec)·W_enc + b_enc)), k = 4"))
        #expect(source.hookpoint == "layers.0")
        // The same request resumes the run.
        let again = try RunSetup(logger: Logger(label: "test.setup")).prepare(request)
        #expect(again.run.id == outcome.run.id)
    }
}
