import ArgumentParser
import AutoInterp
import AutoInterpCLIOptions
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
    var tokens: PositiveInt

    @Option(help: "Width of the generated activations (d_in).")
    var width: PositiveInt = 1536

    @Option(help: "Planted sparse directions.")
    var directions: PositiveInt = 4096

    @Option(help: "Mean planted directions active per token.")
    var active: Double = 24

    // MARK: - Training (the flags of `autointerp train-sae`)

    @OptionGroup var training: SAETrainingOptions

    func run() async throws {
        try await DevConsole.reportingErrors { try train() }
    }

    private func train() throws {
        let outputURL = URL(fileURLWithPath: training.output)
        let (width, directions, seed, evalTokens) = (width.value, directions.value, training.seed, training.evalTokens.value)
        let generated = SparseDataset.activationLike(
            dIn: width, directions: directions, tokens: tokens.value + evalTokens, meanActive: active, seed: seed)
        let split = evalTokens * width
        let data = SAETrainingData(width: width, training: Array(generated.inputs[split...]), heldOut: Array(generated.inputs[..<split]))
        let source = ["synthetic": "activationLike d_in \(width), \(directions) directions, mean \(active) active per token"]
        let metadata = SAEFolderMetadata(
            modelName: training.modelName ?? "synthetic", hookName: training.hookName ?? "synthetic", trainer: "autointerp-dev fixtures training")
        let outcome = try SAETrainingRun(config: training.config, resampling: training.resampling).run(
            data: data, output: outputURL, metadata: metadata, source: source, progressEvery: training.logEvery.value, started: { dIn, dSAE, steps, config in
                DevConsole.note(SAETrainingText.start(dIn: dIn, dSAE: dSAE, steps: steps, config: config))
            }, progress: { DevConsole.note(SAETrainingText.progress($0)) })
        for line in SAETrainingText.outcome(outcome) { print(line) }
        print("saved \(outputURL.path)")
    }
}
