package import ArgumentParser
package import AutoInterp

/// The training flags of `autointerp train-sae` and `autointerp-dev fixtures training`, declared once.
///
/// Numbers are checked while parsing (`PositiveInt`, `NonNegativeInt`); the rest of the settings
/// are checked by `SAETrainingConfig.validate` when the trainer starts.
package struct SAETrainingOptions: ParsableArguments {
    @Option(help: "Folder to write the SAE into (created if missing).")
    package var output: String

    @Option(help: "Features per input dimension (ignored with --d-sae).")
    package var expansion: PositiveInt = 4

    @Option(name: .customLong("d-sae"), help: "Number of features.")
    package var dSAE: PositiveInt?

    @Option(help: "L1 coefficient λ on Σ f·‖W_dec‖ (inputs are scaled to mean norm sqrt(d_in)).")
    package var l1: Float = 4

    @Option(help: "Adam learning rate.")
    package var lr: Float = 2e-3

    @Option(help: "Tokens per step.")
    package var batchSize: PositiveInt = 1024

    @Option(help: "Optimiser steps (default: --epochs passes over the training tokens).")
    package var steps: PositiveInt?

    @Option(help: "Passes over the training tokens when --steps is not given.")
    package var epochs: Double = 1

    @Option(help: "Resample features silent for this many steps, every this many steps (0 = never; default: an eighth of the steps).")
    package var resampleEvery: NonNegativeInt?

    @Option(help: "Seed for initialisation, shuffling, resampling and the held-out split (or the generated data).")
    package var seed: UInt64 = 0

    @Option(help: "Tokens held out for the final evaluation (whole contexts of a dataset).")
    package var evalTokens: NonNegativeInt = 8192

    @Option(help: "Print progress every this many steps.")
    package var logEvery: PositiveInt = 10

    @Option(help: "Model name for cfg.json (default: the dataset's 'model' metadata, 'synthetic' for generated data).")
    package var modelName: String?

    @Option(help: "Hook name for cfg.json (default: the dataset's 'hook' metadata, 'synthetic' for generated data).")
    package var hookName: String?

    @Option(help: "Start each feature's encoder bias so it fires on this share of tokens (0 = start at 0).")
    package var initialDensity: Double = 0.01

    @Option(help: "Norm of each decoder row at initialisation.")
    package var initNorm: Float = 0.5

    @Option(help: "Share of the steps over which λ warms up.")
    package var l1Warmup: Double = 0.05

    package init() {}

    package func validate() throws {
        guard initialDensity.isFinite, (0...1).contains(initialDensity) else {
            throw ValidationError("--initial-density must lie in [0, 1] (0 = start the biases at 0), got \(initialDensity)")
        }
    }

    /// The trainer's settings (resampling is set by `resampling` when the step count is known).
    package var config: SAETrainingConfig {
        SAETrainingConfig(
            dSAE: dSAE?.value, expansionFactor: expansion.value, l1Coefficient: l1, learningRate: lr, batchSize: batchSize.value,
            steps: steps?.value, epochs: epochs, l1WarmupFraction: l1Warmup, resampleEvery: nil,
            decoderInitNorm: initNorm, seed: seed, initialDensity: initialDensity > 0 ? initialDensity : nil)
    }

    /// `--resample-every`: absent = automatic, 0 = never.
    package var resampling: SAETrainingRun.Resampling {
        switch resampleEvery?.value {
        case nil: .automatic
        case 0?: .never
        case let every?: .every(every)
        }
    }

}
