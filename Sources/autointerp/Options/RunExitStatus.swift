import ArgumentParser
import AutoInterp

/// Ends `run` and `demo` with the exit status the summary's outcome gives (README, "Exit status"):
/// 0 complete, 3 units failed or incomplete, 4 stopped early.
func exitWithOutcome(of summary: RunSummary) throws {
    switch summary.outcome {
    case .complete:
        return
    case .unitsIncomplete:
        note("autointerp: the run finished with failed or incomplete units (exit status 3); rerun the same command to retry them")
    case .stopped:
        note("autointerp: error: the run stopped early (exit status 4): \(summary.stoppedEarly ?? "")")
    }
    throw ExitCode(summary.outcome.rawValue)
}
