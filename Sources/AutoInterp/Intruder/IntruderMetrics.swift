import Foundation

extension StoredScore.Metric {
    /// The intruder scorer's accuracy: the share of answered prompts whose answer named the
    /// silent context (chance 0.2 with five contexts). Failed answers are left out, never wrong.
    public static let intruderAccuracy: StoredScore.Metric = "intruder_accuracy"

    /// The accuracy over the prompts of one decile group (`intruder_accuracy_deciles_1_3`).
    public static func intruderAccuracy(deciles: ClosedRange<Int>) -> StoredScore.Metric {
        StoredScore.Metric(rawValue: "intruder_accuracy_deciles_\(deciles.lowerBound)_\(deciles.upperBound)")
    }

    /// The intruder scorer's metrics with `groups` decile groups: the accuracy, then one per group.
    public static func intruder(groups: IntruderGroups = .default) -> [StoredScore.Metric] {
        [.intruderAccuracy] + groups.ranges.map { intruderAccuracy(deciles: $0) }
    }
}

/// The intruder scorer's metrics from its answers (subset `all`): accuracy over every answered
/// prompt and per decile group; undefined, with the reason, where no prompt was answered.
public enum IntruderMetrics {
    /// The chance accuracy: one context in five.
    public static let chance = 0.2

    /// The scores over `rows` (a unit's answers); `skipped` are the reasons groups had no prompt.
    public static func scores(
        from rows: [StoredIntruderAnswer], skipped: [String] = [], groups: IntruderGroups = .default
    ) -> [StoredScore] {
        func score(_ metric: StoredScore.Metric, _ rows: [StoredIntruderAnswer], none: String) -> StoredScore {
            let answered = rows.compactMap(\.isCorrect)
            guard !answered.isEmpty else {
                let reason = rows.isEmpty ? none : "every answer of the \(rows.count) prompts failed (see intruder_prompts.error)"
                return StoredScore(metric: metric, subset: .all, undefinedBecause: reason, n: 0)
            }
            return StoredScore(metric: metric, subset: .all, value: Double(answered.count { $0 }) / Double(answered.count), n: answered.count)
        }
        let noPrompt = skipped.isEmpty ? "no intruder prompt" : "no intruder prompt: " + skipped.joined(separator: "; ")
        var scores = [score(.intruderAccuracy, rows, none: noPrompt)]
        for range in groups.ranges {
            let group = rows.filter { $0.prompt.deciles == range }
            let reason = skipped.first { $0.hasPrefix("deciles \(range.lowerBound)-\(range.upperBound):") } ?? "no prompt for deciles \(range.lowerBound)-\(range.upperBound)"
            scores.append(score(.intruderAccuracy(deciles: range), group, none: reason))
        }
        return scores
    }
}
