import ArgumentParser
import AutoInterp
import AutoInterpCLIOptions
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

    @OptionGroup var dataset: DatasetOptions

    @OptionGroup var training: SAETrainingOptions

    @Option(help: "Use at most this many training tokens.")
    var maxTokens: PositiveInt?

    @Flag(help: "Train on special tokens (special_token_ids) too.")
    var includeSpecialTokens = false

    func run() async throws {
        try await reportingErrors { try train() }
    }

    private func train() throws {
        let outputURL = URL(fileURLWithPath: training.output)
        let dataset = try self.dataset.open()
        let run = SAETrainingRun(
            config: training.config, resampling: training.resampling, maxTokens: maxTokens?.value, heldOutTokens: training.evalTokens.value,
            includeSpecialTokens: includeSpecialTokens)
        let outcome = try run.run(
            dataset: dataset, output: outputURL, modelName: training.modelName, hookName: training.hookName,
            progressEvery: training.logEvery.value,
            started: { dIn, dSAE, steps, config in note(SAETrainingText.start(dIn: dIn, dSAE: dSAE, steps: steps, config: config)) },
            progress: { note(SAETrainingText.progress($0)) })
        for line in SAETrainingText.outcome(outcome) { print(line) }
        print("saved \(outputURL.path)")
    }
}
