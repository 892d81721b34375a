import AutoInterpTestSupport
import Foundation
import Testing

@testable import AutoInterp

/// The trainer's outputs: SAELens semantics, the saved folder, the data loader, settings checks.
struct SAETrainerOutputTests {
    static let data = SparseDataset.planted(dIn: 16, directions: 8, tokens: 2048, maxActive: 3, noise: 0.01, seed: 11)

    static func trainedTrainer(steps: Int = 20) throws -> SAETrainer {
        let config = SAETrainingConfig(dSAE: 24, l1Coefficient: 0.5, learningRate: 3e-3, batchSize: 256, steps: steps, seed: 2)
        let trainer = try SAETrainer(config: config, data: data.inputs, inputWidth: data.dIn)
        trainer.train()
        return trainer
    }

    /// REFERENCE.md golden case, standard architecture with `apply_b_dec_to_input`.
    @Test func encodeMatchesGoldenCase() throws {
        let sae = SparseAutoencoder(
            config: SAEConfig(architecture: .standard, dIn: 3, dSAE: 4), encoderWeights: SAEFixture.goldenEncoder,
            encoderBias: SAEFixture.goldenEncoderBias, decoderWeights: SAEFixture.goldenDecoder, decoderBias: SAEFixture.goldenDecoderBias)
        #expect(try sae.encode(SAEFixture.goldenInputs) == [4, 5, 1.75, 0, 0, 0.5, 2.25, 0])
        // Decode: f W_dec + b_dec.
        let reconstruction = try sae.reconstruct([1, 2, 3])
        #expect(reconstruction == [4 + 0.5, 10, 1.75 - 0.5])
    }

    /// The saved SAE reads raw activations: its features equal the trainer's on scaled inputs.
    @Test func inputScaleIsFoldedIntoSavedWeights() throws {
        let trainer = try Self.trainedTrainer()
        let scale = trainer.inputScale
        #expect(abs(scale - 1) > 0.01)
        let rows = 64
        let raw = Array(Self.data.inputs.prefix(rows * 16))
        let saved = try trainer.currentSAE().encode(raw)
        for t in 0..<rows {
            for i in 0..<trainer.dSAE {
                var z = trainer.encoderBias[i]
                for k in 0..<16 { z += (raw[t * 16 + k] * scale - trainer.decoderBias[k]) * trainer.encoder[i * 16 + k] }
                #expect(abs(max(z, 0) - saved[t * trainer.dSAE + i]) < 1e-4)
            }
        }
    }

    @Test func savedFolderReadsBackWithSAELensLayout() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let config = SAETrainingConfig(dSAE: 24, l1Coefficient: 0.5, learningRate: 3e-3, batchSize: 256, steps: 20, seed: 2)
        let trainer = try SAETrainer(config: config, data: Self.data.inputs, inputWidth: Self.data.dIn)
        let summary = trainer.train()
        let sae = trainer.currentSAE()
        let evaluation = try SAEEvaluation.evaluate(sae, inputs: Self.data.inputs)
        let report = SAETrainingReport(config: trainer.config, dIn: 16, dSAE: 24, summary: summary, evaluation: evaluation)
        let folder = dir.path("sae")
        try SAELensWriter.write(sae, to: folder, metadata: SAEFolderMetadata(modelName: "m", hookName: "blocks.1.mlp", hookLayer: 1))
        try report.write(into: folder)

        let file = try SafeTensorsFile(url: folder.appendingPathComponent("sae_weights.safetensors"))
        #expect(try file.info("W_enc").shape == [16, 24])
        #expect(try file.info("b_enc").shape == [24])
        #expect(try file.info("W_dec").shape == [24, 16])
        #expect(try file.info("b_dec").shape == [16])
        #expect(try file.info("W_enc").dtype == .F32)
        #expect(try file.floats("W_dec") == sae.decoderWeights)

        let json = try #require(
            try JSONSerialization.jsonObject(with: Data(contentsOf: folder.appendingPathComponent("cfg.json"))) as? [String: Any])
        #expect(json["architecture"] as? String == "standard")
        #expect(json["d_in"] as? Int == 16)
        #expect(json["d_sae"] as? Int == 24)
        #expect(json["dtype"] as? String == "float32")
        #expect(json["apply_b_dec_to_input"] as? Bool == true)
        #expect(json["normalize_activations"] as? String == "none")
        #expect(json["activation_fn_str"] as? String == "relu")
        let metadata = try #require(json["metadata"] as? [String: Any])
        #expect(metadata["hook_name"] as? String == "blocks.1.mlp")
        #expect(metadata["model_name"] as? String == "m")

        let decoded = try JSONDecoder().decode(SAETrainingReport.self, from: Data(contentsOf: folder.appendingPathComponent("training.json")))
        #expect(decoded.dSAE == 24)
        #expect(decoded.evaluation?.tokenCount == 2048)

        // The one reader gives back the weights written, and the encoder the same features.
        let loaded = try SparseAutoencoder(folder: folder)
        #expect(loaded.encoderWeights == sae.encoderWeights && loaded.encoderBias == sae.encoderBias)
        #expect(loaded.decoderWeights == sae.decoderWeights && loaded.decoderBias == sae.decoderBias)
        #expect(loaded.threshold == nil && loaded.config.applyBDecToInput && loaded.config.normalizeActivations == .none)
        #expect(loaded.config.architecture == .standard)
        #expect(loaded.config.dIn == 16 && loaded.config.dSAE == 24)
        let encoder = try SAEEncoder(sae: loaded, batchSize: 128)
        let raw = Array(Self.data.inputs.prefix(128 * 16))
        var features = [Float](repeating: 0, count: 128 * 24)
        raw.withUnsafeBufferPointer { x in
            features.withUnsafeMutableBufferPointer { encoder.encodeDense(x.baseAddress!, tokens: 128, into: $0.baseAddress!) }
        }
        let ours = try sae.encode(raw)
        #expect(zip(features, ours).allSatisfy { abs($0 - $1) < 1e-4 })
    }

    /// Rows encode (context, position, token) so the loader's choices can be checked.
    @Test func trainingDataTakesRealNonSpecialTokensAndHoldsOutWholeContexts() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let (contexts, length, width) = (20, 6, 4)
        var tokens: [Int32] = []
        var mask: [UInt8] = []
        var activations: [Float] = []
        for c in 0..<contexts {
            for p in 0..<length {
                let token = Int32(p == 0 ? 0 : 1 + (c + p) % 5)  // 0 = special ([CLS])
                tokens.append(token)
                mask.append(p < length - (c % 3) ? 1 : 0)
                activations += [Float(c), Float(p), Float(token), 1]
            }
        }
        let url = dir.path("acts.safetensors")
        let writer = try DatasetWriter(
            url: url, contextLength: length, width: width, tokens: tokens, mask: mask,
            vocabulary: ["[CLS]", "a", "b", "c", "d", "e"], metadata: ["special_token_ids": "[0]"])
        try writer.append(activations)
        try writer.finish()
        let dataset = try ActivationDataset(url: url)
        let data = try SAETrainingData.load(from: dataset, heldOutTokens: 10, seed: 4)
        let expected = (0..<contexts).reduce(0) { total, c in total + (length - (c % 3)) - 1 }
        #expect(data.trainingTokens + data.heldOutTokens == expected)
        #expect(data.heldOutTokens >= 10)
        func rows(_ values: [Float]) -> [(context: Int, position: Int, token: Int)] {
            stride(from: 0, to: values.count, by: width).map { (Int(values[$0]), Int(values[$0 + 1]), Int(values[$0 + 2])) }
        }
        let training = rows(data.training)
        let heldOut = rows(data.heldOut)
        for row in training + heldOut {
            #expect(row.token != 0)
            #expect(row.position < length - (row.context % 3))
        }
        #expect(Set(training.map(\.context)).isDisjoint(with: heldOut.map(\.context)))
        let capped = try SAETrainingData.load(from: dataset, maxTokens: 7, heldOutTokens: 0, seed: 4)
        #expect(capped.trainingTokens == 7)
        #expect(capped.heldOutTokens == 0)
    }

    @Test func rejectsBadSettings() throws {
        let inputs = [Float](repeating: 1, count: 64)
        func error(_ config: SAETrainingConfig, width: Int = 16, inputs: [Float] = inputs) -> AutoInterpError? {
            do {
                _ = try SAETrainer(config: config, data: inputs, inputWidth: width)
                return nil
            } catch { return error as? AutoInterpError }
        }
        #expect(error(SAETrainingConfig(batchSize: 0))?.isInvalidInput == true)
        #expect(error(SAETrainingConfig(learningRate: -1))?.isInvalidInput == true)
        #expect(error(SAETrainingConfig(steps: 0))?.isInvalidInput == true)
        #expect(error(SAETrainingConfig(), width: 15)?.isInvalidInput == true)
        #expect(error(SAETrainingConfig(), inputs: inputs.enumerated().map { $0.offset == 5 ? .nan : $0.element })?.message.contains("row 0") == true)
        #expect(error(SAETrainingConfig(dSAE: 8, steps: 2)) == nil)
    }
}
