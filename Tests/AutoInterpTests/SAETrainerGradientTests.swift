import AutoInterpTestSupport
import Foundation
import Testing

@testable import AutoInterp

/// The hand-written backward passes against central finite differences of the loss.
struct SAETrainerGradientTests {
    @Test(arguments: [true, false]) func gradientsMatchFiniteDifferences(dense: Bool) throws {
        let data = SparseDataset.planted(dIn: 5, directions: 4, tokens: 16, maxActive: 2, noise: 0.05, seed: 3)
        let config = SAETrainingConfig(
            dSAE: 7, batchSize: 16, steps: 1, gradientClipNorm: nil, normalizeInput: false, decoderInitNorm: 0.5,
            decoderBiasInit: .mean, seed: 9, initialDensity: 0.5)
        let trainer = try SAETrainer(config: config, data: data.inputs, inputWidth: 5)
        let lambda: Float = 0.7
        let (_, analytic) = trainer.lossAndGradients(lambda: lambda, dense: dense)
        let names = ["W_enc", "b_enc", "W_dec", "b_dec"]
        let h: Float = 1e-2
        var checked = 0
        var mismatches: [String] = []
        for (tensor, buffer) in trainer.parameterBuffers.enumerated() {
            for k in 0..<buffer.count {
                let original = buffer[k]
                buffer[k] = original + h
                let up = trainer.lossAndGradients(lambda: lambda, dense: dense).loss
                buffer[k] = original - h
                let down = trainer.lossAndGradients(lambda: lambda, dense: dense).loss
                buffer[k] = original
                let numeric = (up - down) / Double(2 * h)
                let exact = Double(analytic[tensor][k])
                checked += 1
                if abs(numeric - exact) > 2e-2 * max(1, abs(exact)) {
                    mismatches.append("\(names[tensor])[\(k)]: numeric \(numeric), analytic \(exact)")
                }
            }
        }
        #expect(checked == 7 * 5 * 2 + 7 + 5)
        // A ReLU kink inside ±h can spoil a handful of entries; systematic errors would spoil many.
        #expect(mismatches.count <= 2, "\(mismatches)")
    }
}
