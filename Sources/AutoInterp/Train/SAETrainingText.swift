import Foundation

/// The lines a training run prints: the start, each progress step and the final figures.
///
/// Shared by `autointerp train-sae` and the developer tool's synthetic training, so both read alike.
package enum SAETrainingText {
    /// The line announcing a run: shapes, steps and the main settings.
    package static func start(dIn: Int, dSAE: Int, steps: Int, config: SAETrainingConfig) -> String {
        "training d_in \(dIn) → d_sae \(dSAE), \(steps) steps of \(config.batchSize) tokens, λ \(config.l1Coefficient), lr \(config.learningRate), resample every \(config.resampleEvery.map(String.init) ?? "never")"
    }

    /// One progress line: step, loss, reconstruction, sparsity, dead share, λ, learning rate, throughput.
    package static func progress(_ p: SAETrainingProgress) -> String {
        String(
            format: "step %d/%d  loss %.4g  mse %.4g  fve %.3f  L0 %.1f  dead %.3f  λ %.3g  lr %.2g  %.0f tok/s",
            p.step, p.totalSteps, p.loss, p.meanSquaredError, p.fractionOfVarianceExplained, p.meanL0, p.deadFraction,
            p.l1Coefficient, p.learningRate, p.tokensPerSecond)
    }

    /// The summary lines of a finished run: totals, the held-out evaluation, the last batch and time by phase.
    package static func outcome(_ outcome: SAETrainingRun.Outcome) -> [String] {
        let summary = outcome.summary
        var lines = [
            String(
                format: "trained %d steps, %d tokens in %.1f s (%.0f tokens/s)", summary.steps, summary.tokensSeen, summary.seconds,
                summary.tokensPerSecond)
        ]
        if let evaluation = outcome.evaluation {
            lines.append(
                String(
                    format: "held-out (%d tokens): FVE %.4f  mean L0 %.1f  dead %.2f %%  dense(>10%%) %.2f %%  mse %.4g",
                    evaluation.tokenCount, evaluation.fractionOfVarianceExplained, evaluation.meanL0, 100 * evaluation.deadFraction,
                    100 * evaluation.denseFraction, evaluation.meanSquaredError))
        }
        if let last = summary.last {
            lines.append(
                String(
                    format: "last batch: FVE %.4f  mean L0 %.1f  dead over the last epoch of steps %.2f %%  resampled %d",
                    last.fractionOfVarianceExplained, last.meanL0, 100 * summary.silentFractionLastEpoch, summary.resampledFeatures))
        }
        lines.append(
            "time by phase: "
                + summary.phaseSeconds.sorted { $0.key < $1.key }.map { "\($0.key) " + String(format: "%.1f s", $0.value) }.joined(separator: ", "))
        return lines
    }
}
