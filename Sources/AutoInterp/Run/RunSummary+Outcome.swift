import Foundation

extension RunSummary {
    /// How a finished invocation of `autointerp run` ended, with the CLI's exit status.
    public enum Outcome: Int32, Sendable {
        /// Every requested unit has all its results (dead units count as done): exit 0.
        case complete = 0
        /// The run finished, but units failed or miss results (no explanation, failed
        /// simulations, unrated rubric examples): exit 3; running the same command again retries them.
        case unitsIncomplete = 3
        /// The run stopped early (the key was refused, the model or URL is wrong, a redirect,
        /// a quota): exit 4.
        case stopped = 4
    }

    /// The failure kinds that leave a unit without all its results (`undefined-score` is a
    /// result: the coefficient is undefined, stored as NULL with its reason).
    static let incompleteKinds: Set<String> = ["explanation", "simulation", "rubric", "llm-call"]

    /// How this invocation ended; the CLI exits with its raw value.
    public var outcome: Outcome {
        if stoppedEarly != nil { return .stopped }
        let missing = failures.contains { Self.incompleteKinds.contains($0.key) && $0.value > 0 }
        return isComplete && !missing ? .complete : .unitsIncomplete
    }

    /// The summary's `failures:` line; a stopped run never claims `none`.
    var failuresLine: String {
        if failures.isEmpty {
            guard stoppedEarly != nil else { return "failures: none" }
            let done = scored + (failures["dead"] ?? 0)
            return "failures: none recorded, but the run stopped early: \(max(0, units - done)) of \(units) units have no results"
        }
        return "failures: " + failures.keys.sorted().map { "\($0) \(failures[$0]!)" }.joined(separator: ", ")
    }
}
