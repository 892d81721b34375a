import ArgumentParser
import AutoInterp
import AutoInterpTestSupport
import Foundation

/// `autointerp-dev fixtures training`: train the SAE on generated activation-like data, to time the
/// trainer without a dataset file (formerly `autointerp train-sae --synthetic-*`).
///
/// The training flags mean what they mean for `autointerp train-sae`; the first `--eval-tokens`
/// generated tokens are held out for the final evaluation.
struct TrainingFixtureCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "training",
        abstract: "Train a ReLU SAE on synthetic activations (planted sparse directions) and save an SAELens folder."
    )

    // MARK: - Synthetic data

    @Option(help: "Training tokens to generate (plus --eval-tokens held out).")
    var tokens: Int

    @Option(help: "Width of the generated activations (d_in).")
    var width = 1536

    @Option(help: "Planted sparse directions.")
    var directions = 4096

    @Option(help: "Mean planted directions active per token.")
    var active: Double = 24

    // MARK: - Training (as `autointerp train-sae`)

    @Option(help: "Folder to write the SAE into (created if missing).")
    var output: String

    @Option(help: "Features per input dimension (ignored with --d-sae).")
    var expansion = 4

    @Option(name: .customLong("d-sae"), help: "Number of features.")
    var dSAE: Int?

    @Option(help: "L1 coefficient λ on Σ f·‖W_dec‖ (inputs are scaled to mean norm sqrt(d_in)).")
    var l1: Float = 4

    @Option(help: "Adam learning rate.")
    var lr: Float = 2e-3

    @Option(help: "Tokens per step.")
    var batchSize = 1024

    @Option(help: "Optimiser steps (default: --epochs passes over the training tokens).")
    var steps: Int?

    @Option(help: "Passes over the training tokens when --steps is not given.")
    var epochs: Double = 1

    @Option(help: "Resample features silent for this many steps, every this many steps (0 = never; default: an eighth of the steps).")
    var resampleEvery: Int?

    @Option(help: "Seed for the data, initialisation, shuffling and resampling.")
    var seed: UInt64 = 0

    @Option(help: "Tokens held out for the final evaluation.")
    var evalTokens = 8192

    @Option(help: "Print progress every this many steps.")
    var logEvery = 10

    @Option(help: "Model name for cfg.json.")
    var modelName = "synthetic"

    @Option(help: "Hook name for cfg.json.")
    var hookName = "synthetic"

    @Option(help: "Start each feature's encoder bias so it fires on this share of tokens (0 = start at 0).")
    var initialDensity: Double = 0.01

    @Option(help: "Norm of each decoder row at initialisation.")
    var initNorm: Float = 0.5

    @Option(help: "Share of the steps over which λ warms up.")
    var l1Warmup: Double = 0.05

    func validate() throws {
        guard tokens > 0, width > 0, directions > 0 else { throw ValidationError("--tokens, --width and --directions must be positive") }
        guard expansion > 0, batchSize > 0, logEvery > 0, evalTokens >= 0, (resampleEvery ?? 0) >= 0 else {
            throw ValidationError("--expansion, --batch-size and --log-every must be positive; --eval-tokens and --resample-every at least 0")
        }
        if let steps, steps <= 0 { throw ValidationError("--steps must be positive") }
    }

    func run() async throws {
        try await DevConsole.reportingErrors { try train() }
    }

    private var trainingConfig: SAETrainingConfig {
        SAETrainingConfig(
            dSAE: dSAE, expansionFactor: expansion, l1Coefficient: l1, learningRate: lr, batchSize: batchSize, steps: steps,
            epochs: epochs, l1WarmupFraction: l1Warmup, resampleEvery: nil,
            decoderInitNorm: initNorm, seed: seed, initialDensity: initialDensity > 0 ? initialDensity : nil)
    }

    private var resampling: SAETrainingRun.Resampling {
        switch resampleEvery {
        case nil: .automatic
        case 0?: .never
        case let every?: .every(every)
        }
    }

    private func train() throws {
        let outputURL = URL(fileURLWithPath: output)
        let generated = SparseDataset.activationLike(
            dIn: width, directions: directions, tokens: tokens + evalTokens, meanActive: active, seed: seed)
        let split = evalTokens * width
        let data = SAETrainingData(width: width, training: Array(generated.inputs[split...]), heldOut: Array(generated.inputs[..<split]))
        let source = ["synthetic": "activationLike d_in \(width), \(directions) directions, mean \(active) active per token"]
        let outcome = try SAETrainingRun(config: trainingConfig, resampling: resampling).run(
            data: data, output: outputURL, metadata: SAEFolderMetadata(modelName: modelName, hookName: hookName),
            source: source, progressEvery: logEvery, started: { dIn, dSAE, steps, config in
                DevConsole.note(SAETrainingText.start(dIn: dIn, dSAE: dSAE, steps: steps, config: config))
            }, progress: { DevConsole.note(SAETrainingText.progress($0)) })
        for line in SAETrainingText.outcome(outcome) { print(line) }
        print("saved \(outputURL.path)")
    }
}
