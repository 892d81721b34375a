import AutoInterpTestSupport
import Foundation
import Testing

@testable import AutoInterp

/// `SAELensWriter` and the SAELens reader are one layout: what one writes, the other reads back.
struct SAELensWriterTests {
    /// The golden SAE (d_in 3, d_sae 4) as each architecture.
    static func golden(_ architecture: SAEConfig.Architecture) -> SparseAutoencoder {
        var sae = SparseAutoencoder(
            config: SAEConfig(architecture: architecture, dIn: 3, dSAE: 4, k: architecture == .topk ? 2 : nil, hookName: "blocks.2", modelName: "m"),
            encoderWeights: SAEFixture.goldenEncoder, encoderBias: SAEFixture.goldenEncoderBias,
            decoderWeights: SAEFixture.goldenDecoder, decoderBias: SAEFixture.goldenDecoderBias)
        switch architecture {
        case .jumprelu: sae.threshold = SAEFixture.goldenThreshold
        case .gated:
            sae.gateBias = [0.5, -1, 0, 2]
            sae.magnitudeLogScale = [0, 0.5, -0.5, 1]
            sae.magnitudeBias = [0.25, 0, -0.25, 1]
        case .standard, .topk: break
        }
        return sae
    }

    @Test(arguments: [SAEConfig.Architecture.standard, .jumprelu, .topk, .gated])
    func writtenFolderReadsBackTheSameSAE(architecture: SAEConfig.Architecture) throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let sae = Self.golden(architecture)
        let folder = dir.path("sae")
        try SAELensWriter.write(sae, to: folder)
        var loaded = try SparseAutoencoder(folder: folder)
        #expect(loaded.source?.format == .saelens)
        #expect(loaded.source?.hook == "blocks.2")
        loaded.source = nil
        #expect(loaded == sae)
        // And it encodes the golden inputs as the SAE in memory does.
        #expect(try loaded.encode(SAEFixture.goldenInputs) == (try sae.encode(SAEFixture.goldenInputs)))
    }

    @Test func configCarriesTheFolderMetadata() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let folder = dir.path("sae")
        let metadata = SAEFolderMetadata(modelName: "gpt2", hookName: "blocks.3.hook_resid_post", hookLayer: 3, contextSize: 128, trainer: "t")
        try SAELensWriter.write(Self.golden(.topk), to: folder, metadata: metadata)
        let json = try #require(
            try JSONSerialization.jsonObject(with: Data(contentsOf: folder.appendingPathComponent(SAELensWriter.configFileName))) as? [String: Any])
        #expect(json["k"] as? Int == 2)
        #expect(json["activation_fn_str"] as? String == "topk")
        #expect(json["hook_point_layer"] as? Int == 3)
        let nested = try #require(json["metadata"] as? [String: Any])
        #expect(nested["hook_name"] as? String == "blocks.3.hook_resid_post")
        #expect(nested["context_size"] as? Int == 128)
        #expect(nested["trainer"] as? String == "t")
        let config = try SAEConfig(contentsOf: folder.appendingPathComponent(SAELensWriter.configFileName))
        #expect(config.modelName == "gpt2" && config.k == 2 && config.architecture == .topk)
    }

    @Test func refusesWeightsThatDisagreeWithTheConfig() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        func message(_ sae: SparseAutoencoder) -> String? {
            do {
                try SAELensWriter.write(sae, to: dir.path("bad"))
                return nil
            } catch { return (error as? AutoInterpError)?.message }
        }
        var short = Self.golden(.standard)
        short.decoderBias.removeLast()
        #expect(message(short)?.contains("b_dec has 2 values") == true)
        var noThreshold = Self.golden(.jumprelu)
        noThreshold.threshold = nil
        #expect(message(noThreshold)?.contains("threshold") == true)
        #expect(!FileManager.default.fileExists(atPath: dir.path("bad").path))
    }
}
