package import Foundation

/// Trains an SAE on a dataset's real tokens and saves it as a SAELens folder: what
/// `autointerp train-sae` and `autointerp demo` both do.
package struct SAETrainingRun {
    /// When dead features are resampled.
    package enum Resampling: Sendable, Equatable {
        /// Every eighth of the steps (at least 10), as `SAETrainingConfig.automaticResampleInterval`.
        case automatic
        case never
        case every(Int)
    }

    package var config: SAETrainingConfig
    package var resampling: Resampling
    /// Use at most this many training tokens.
    package var maxTokens: Int?
    /// Tokens held out (whole contexts) for the final evaluation.
    package var heldOutTokens: Int
    package var includeSpecialTokens: Bool

    package init(
        config: SAETrainingConfig, resampling: Resampling = .automatic, maxTokens: Int? = nil, heldOutTokens: Int = 8192,
        includeSpecialTokens: Bool = false
    ) {
        self.config = config
        self.resampling = resampling
        self.maxTokens = maxTokens
        self.heldOutTokens = heldOutTokens
        self.includeSpecialTokens = includeSpecialTokens
    }

    /// What a run produced.
    package struct Outcome: Sendable {
        package var report: SAETrainingReport
        package var summary: SAETrainingSummary
        package var evaluation: SAEEvaluation?
        package var trainingTokens: Int
        package var loadSeconds: Double
    }

    /// Loads the training tokens, trains, evaluates on the held-out contexts and saves to `output`.
    ///
    /// - Parameters:
    ///   - started: called once the data is loaded, with (d_in, d_sae, total steps, the config used).
    ///   - progress: called every `progressEvery` steps.
    package func run(
        dataset: ActivationDataset, output: URL, modelName: String? = nil, hookName: String? = nil, progressEvery: Int = 10,
        started: ((Int, Int, Int, SAETrainingConfig) -> Void)? = nil, progress: ((SAETrainingProgress) -> Void)? = nil
    ) throws -> Outcome {
        let loadStart = Date()
        let data = try SAETrainingData.load(
            from: dataset, maxTokens: maxTokens, heldOutTokens: heldOutTokens, includeSpecialTokens: includeSpecialTokens, seed: config.seed)
        let loadSeconds = Date().timeIntervalSince(loadStart)
        let metadata = SAEFolderMetadata(
            modelName: modelName ?? dataset.metadata["model"] ?? "unknown", hookName: hookName ?? dataset.metadata["hook"] ?? "unknown",
            hookLayer: dataset.metadata["layer"].flatMap { Int($0) }, contextSize: dataset.contextLength, datasetPath: dataset.url.path,
            trainer: "autointerp train-sae", prependBOS: dataset.metadata["prepend_bos"].map { $0 == "true" })
        var outcome = try run(
            data: data, output: output, metadata: metadata,
            source: ["activations": dataset.url.path, "load_seconds": String(format: "%.1f", loadSeconds)],
            progressEvery: progressEvery, started: started, progress: progress)
        outcome.loadSeconds = loadSeconds
        return outcome
    }

    /// Trains on `data` (already split into training and held-out tokens), evaluates and saves to `output`.
    package func run(
        data: SAETrainingData, output: URL, metadata: SAEFolderMetadata, source: [String: String], progressEvery: Int = 10,
        started: ((Int, Int, Int, SAETrainingConfig) -> Void)? = nil, progress: ((SAETrainingProgress) -> Void)? = nil
    ) throws -> Outcome {
        var config = config
        switch resampling {
        case .automatic: config.resampleEvery = SAETrainingConfig.automaticResampleInterval(totalSteps: config.stepCount(tokenCount: data.trainingTokens))
        case .never: config.resampleEvery = nil
        case .every(let steps): config.resampleEvery = steps
        }
        let trainer = try SAETrainer(config: config, data: data.training, inputWidth: data.width)
        started?(trainer.dIn, trainer.dSAE, trainer.totalSteps, config)
        let summary = trainer.train(progressEvery: progressEvery, progress: progress)
        let sae = trainer.currentSAE()
        let evaluation = data.heldOutTokens > 0 ? try SAEEvaluation.evaluate(sae, inputs: data.heldOut) : nil
        let report = SAETrainingReport(config: config, dIn: trainer.dIn, dSAE: trainer.dSAE, summary: summary, evaluation: evaluation, source: source)
        try SAELensWriter.write(sae, to: output, metadata: metadata)
        try report.write(into: output)
        return Outcome(report: report, summary: summary, evaluation: evaluation, trainingTokens: data.trainingTokens, loadSeconds: 0)
    }
}
