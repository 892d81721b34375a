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

    /// How this invocation ended; the CLI exits with its raw value.
    public var outcome: Outcome {
        if stoppedEarly != nil { return .stopped }
        let missing = failures.contains { $0.key.leavesResultsMissing && $0.value > 0 }
        return isComplete && !missing ? .complete : .unitsIncomplete
    }

    /// The summary's `failures:` line; a stopped run never claims `none`.
    var failuresLine: String {
        if failures.isEmpty {
            guard stoppedEarly != nil else { return "failures: none" }
            let done = scored + (failures[.dead] ?? 0)
            return "failures: none recorded, but the run stopped early: \(max(0, units - done)) of \(units) units have no results"
        }
        return "failures: " + failures.sorted { $0.key.rawValue < $1.key.rawValue }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
    }
}

/// A kind of failure the summary counts (`summary.json` key `failures`).
public struct FailureKind: StringName, CustomStringConvertible {
    public var rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }

    public var description: String { rawValue }

    /// Units that never fire: nothing to explain (not a missing result).
    public static let dead: FailureKind = "dead"
    /// Units without an explanation.
    public static let explanation: FailureKind = "explanation"
    /// Held-out records whose simulation failed.
    public static let simulation: FailureKind = "simulation"
    /// Units whose Spearman over all is undefined (a result: NULL with its reason).
    public static let undefinedScore: FailureKind = "undefined-score"
    /// Rubric examples without a rating.
    public static let rubric: FailureKind = "rubric"
    /// Units whose LLM call failed in this invocation.
    public static let llmCall: FailureKind = "llm-call"
    /// Intruder prompts whose answer could not be read (``IntruderStage``).
    public static let intruder: FailureKind = "intruder"
    // A classification scorer's failed answers are counted under its name (`detection`, `fuzzing`).

    /// Whether failures of this kind leave results missing (all but dead units and undefined scores).
    public var leavesResultsMissing: Bool { self != .dead && self != .undefinedScore }
}
