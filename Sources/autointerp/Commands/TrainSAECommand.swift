import ArgumentParser
import AutoInterp
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

    func validate() throws {
        guard activations != nil else {
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
        guard let path = activations else { throw ValidationError("give --activations FILE") }
        let dataset = try ActivationDataset(url: URL(fileURLWithPath: path), vocabURL: vocab.map { URL(fileURLWithPath: $0) })
        let run = SAETrainingRun(
            config: trainingConfig, resampling: resampling, maxTokens: maxTokens?.value, heldOutTokens: evalTokens.value,
            includeSpecialTokens: includeSpecialTokens)
        let outcome = try run.run(
            dataset: dataset, output: outputURL, modelName: modelName, hookName: hookName, progressEvery: logEvery.value,
            started: { dIn, dSAE, steps, config in note(SAETrainingText.start(dIn: dIn, dSAE: dSAE, steps: steps, config: config)) },
            progress: { note(SAETrainingText.progress($0)) })
        for line in SAETrainingText.outcome(outcome) { print(line) }
        print("saved \(outputURL.path)")
    }
}
