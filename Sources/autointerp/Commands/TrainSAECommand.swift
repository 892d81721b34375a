import ArgumentParser
import AutoInterp
import AutoInterpTestSupport
import Foundation
import Logging

/// `autointerp train-sae`: train a standard ReLU SAE on a dataset's activations and save an SAELens folder.
struct TrainSAECommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train-sae",
        abstract: "Train a sparse autoencoder (ReLU, L1 by decoder norm, Adam) on the CPU and save an SAELens folder.",
        discussion: """
            Loads the real tokens of the dataset (mask = 1, special tokens left out), holds out whole \
            contexts for evaluation, trains, and writes cfg.json, sae_weights.safetensors and \
            training.json to --output. Progress goes to stderr.
            """
    )

    @Option(help: "Activation dataset (safetensors with tokens, activations[, mask]).")
    var activations: String?

    @Option(help: "Token strings (default: vocab.json beside the dataset).")
    var vocab: String?

    @Option(help: "Folder to write the SAE into (created if missing).")
    var output: String

    @Option(help: "Features per input dimension (ignored with --d-sae).")
    var expansion: PositiveInt = 4

    @Option(name: .customLong("d-sae"), help: "Number of features.")
    var dSAE: PositiveInt?

    @Option(help: "L1 coefficient λ on Σ f·‖W_dec‖ (inputs are scaled to mean norm sqrt(d_in)).")
    var l1: Float = 4

    @Option(help: "Adam learning rate.")
    var lr: Float = 2e-3

    @Option(help: "Tokens per step.")
    var batchSize: PositiveInt = 1024

    @Option(help: "Optimiser steps (default: --epochs passes over the training tokens).")
    var steps: PositiveInt?

    @Option(help: "Passes over the training tokens when --steps is not given.")
    var epochs: Double = 1

    @Option(help: "Resample features silent for this many steps, every this many steps (0 = never; default: an eighth of the steps).")
    var resampleEvery: NonNegativeInt?

    @Option(help: "Seed for initialisation, shuffling, the held-out split and resampling.")
    var seed: UInt64 = 0

    @Option(help: "Use at most this many training tokens.")
    var maxTokens: PositiveInt?

    @Option(help: "Tokens held out (whole contexts) for the final evaluation.")
    var evalTokens: NonNegativeInt = 8192

    @Flag(help: "Train on special tokens (special_token_ids) too.")
    var includeSpecialTokens = false

    @Option(help: "Print progress every this many steps.")
    var logEvery: PositiveInt = 10

    @Option(help: "Model name for cfg.json (default: the dataset's 'model' metadata).")
    var modelName: String?

    @Option(help: "Hook name for cfg.json (default: the dataset's 'hook' metadata).")
    var hookName: String?

    @Option(help: "Start each feature's encoder bias so it fires on this share of tokens (0 = start at 0).")
    var initialDensity: Double = 0.01

    @Option(help: "Norm of each decoder row at initialisation.")
    var initNorm: Float = 0.5

    @Option(help: "Share of the steps over which λ warms up.")
    var l1Warmup: Double = 0.05

    @Option(help: .hidden)
    var syntheticTokens: Int?

    @Option(help: .hidden)
    var syntheticWidth = 1536

    @Option(help: .hidden)
    var syntheticDirections = 4096

    @Option(help: .hidden)
    var syntheticActive: Double = 24

    func validate() throws {
        guard (activations == nil) != (syntheticTokens == nil) else {
            throw ValidationError("give --activations FILE")
        }
        guard initialDensity.isFinite, (0...1).contains(initialDensity) else {
            throw ValidationError("--initial-density must lie in [0, 1] (0 = start the biases at 0), got \(initialDensity)")
        }
    }

    func run() async throws {
        try await reportingErrors { try train() }
    }

    private var trainingConfig: SAETrainingConfig {
        SAETrainingConfig(
            dSAE: dSAE?.value, expansionFactor: expansion.value, l1Coefficient: l1, learningRate: lr, batchSize: batchSize.value, steps: steps?.value,
            epochs: epochs, l1WarmupFraction: l1Warmup, resampleEvery: nil,
            decoderInitNorm: initNorm, seed: seed, initialDensity: initialDensity > 0 ? initialDensity : nil)
    }

    private var resampling: SAETrainingRun.Resampling {
        switch resampleEvery?.value {
        case nil: .automatic
        case 0?: .never
        case let every?: .every(every)
        }
    }

    private func train() throws {
        let outputURL = URL(fileURLWithPath: output)
        let outcome: SAETrainingRun.Outcome
        if let path = activations {
            let dataset = try ActivationDataset(url: URL(fileURLWithPath: path), vocabURL: vocab.map { URL(fileURLWithPath: $0) })
            let run = SAETrainingRun(
                config: trainingConfig, resampling: resampling, maxTokens: maxTokens?.value, heldOutTokens: evalTokens.value,
                includeSpecialTokens: includeSpecialTokens)
            outcome = try run.run(
                dataset: dataset, output: outputURL, modelName: modelName, hookName: hookName, progressEvery: logEvery.value,
                started: announce, progress: Self.printProgress)
        } else {
            outcome = try trainSynthetic(output: outputURL)
        }
        Self.printOutcome(outcome)
        print("saved \(outputURL.path)")
    }

    /// Trains on generated activation-like data (hidden timing flags).
    private func trainSynthetic(output: URL) throws -> SAETrainingRun.Outcome {
        let total = syntheticTokens! + evalTokens.value
        let generated = SparseDataset.activationLike(
            dIn: syntheticWidth, directions: syntheticDirections, tokens: total, meanActive: syntheticActive, seed: seed)
        let split = evalTokens.value * syntheticWidth
        let data = SAETrainingData(width: syntheticWidth, training: Array(generated.inputs[split...]), heldOut: Array(generated.inputs[..<split]))
        let source = ["synthetic": "activationLike d_in \(syntheticWidth), \(syntheticDirections) directions, mean \(syntheticActive) active per token"]
        return try SAETrainingRun(config: trainingConfig, resampling: resampling).run(
            data: data, output: output, metadata: SAEFolderMetadata(modelName: modelName ?? "synthetic", hookName: hookName ?? "synthetic"),
            source: source, progressEvery: logEvery.value, started: announce, progress: Self.printProgress)
    }

    private func announce(_ dIn: Int, _ dSAE: Int, _ steps: Int, _ config: SAETrainingConfig) {
        note("training d_in \(dIn) → d_sae \(dSAE), \(steps) steps of \(config.batchSize) tokens, λ \(config.l1Coefficient), lr \(config.learningRate), resample every \(config.resampleEvery.map(String.init) ?? "never")")
    }

    static func printProgress(_ p: SAETrainingProgress) {
        note(
            String(
                format: "step %d/%d  loss %.4g  mse %.4g  fve %.3f  L0 %.1f  dead %.3f  λ %.3g  lr %.2g  %.0f tok/s",
                p.step, p.totalSteps, p.loss, p.meanSquaredError, p.fractionOfVarianceExplained, p.meanL0, p.deadFraction,
                p.l1Coefficient, p.learningRate, p.tokensPerSecond))
    }

    static func printOutcome(_ outcome: SAETrainingRun.Outcome) {
        let summary = outcome.summary
        print(String(format: "trained %d steps, %d tokens in %.1f s (%.0f tokens/s)", summary.steps, summary.tokensSeen, summary.seconds, summary.tokensPerSecond))
        if let evaluation = outcome.evaluation {
            print(
                String(
                    format: "held-out (%d tokens): FVE %.4f  mean L0 %.1f  dead %.2f %%  dense(>10%%) %.2f %%  mse %.4g",
                    evaluation.tokenCount, evaluation.fractionOfVarianceExplained, evaluation.meanL0, 100 * evaluation.deadFraction,
                    100 * evaluation.denseFraction, evaluation.meanSquaredError))
        }
        if let last = summary.last {
            print(
                String(
                    format: "last batch: FVE %.4f  mean L0 %.1f  dead over the last epoch of steps %.2f %%  resampled %d",
                    last.fractionOfVarianceExplained, last.meanL0, 100 * summary.silentFractionLastEpoch, summary.resampledFeatures))
        }
        print("time by phase: " + summary.phaseSeconds.sorted { $0.key < $1.key }.map { "\($0.key) " + String(format: "%.1f s", $0.value) }.joined(separator: ", "))
    }
}
