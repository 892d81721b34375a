import Foundation

extension RunSummary {
    /// Refused explanations of the run, counted from `explanation_failures` (every invocation).
    public struct RefusedExplanations: Sendable, Codable, Equatable {
        /// Units with at least one refused explanation.
        public var units: Int
        /// Refused answers in all.
        public var answers: Int
        /// Units among them that still have no explanation.
        public var unexplained: Int
    }

    /// The refused explanations, or nil when none was refused.
    static func refusedExplanations(store: RunStore, run: RunInfo) throws -> RefusedExplanations? {
        let counts = try store.explanationFailureCounts(runID: run.id)
        guard counts.answers > 0 else { return nil }
        return RefusedExplanations(units: counts.units, answers: counts.answers, unexplained: counts.unexplained)
    }

    /// A warning when the run's stored explanations are alike: all the same (two units or more),
    /// or one explanation held by more units than ``ExplanationTally/limit(units:)`` lets share
    /// one (stored by an older run). Such a run's scores say little: a control then scores like the unit itself.
    static func alikeWarning(store: RunStore, run: RunInfo) throws -> String? {
        let texts = try store.explanations(runID: run.id).map(\.text)
        guard texts.count >= 2 else { return nil }
        var counts: [String: (count: Int, text: String)] = [:]
        for text in texts { counts[ExplanationCheck.normalized(text), default: (0, text)].count += 1 }
        guard let top = counts.values.max(by: { $0.count < $1.count }) else { return nil }
        let preview = SimulationParser.preview(ControlCharacters.oneLine(top.text))
        if top.count == texts.count {
            return "all \(texts.count) explanations of this run are alike (\"\(preview)\"): "
                + "the scores cannot tell the units apart; check the explainer endpoint"
        }
        guard top.count > ExplanationTally.limit(units: try store.units(runID: run.id).count) else { return nil }
        return "\(top.count) of \(texts.count) explanations of this run are alike (\"\(preview)\"): suspect; check the explainer endpoint"
    }

    /// The summary's lines on refused and alike explanations (empty when there is nothing to say).
    var explanationLines: [String] {
        var lines: [String] = []
        if let refused = refusedExplanations {
            lines.append(
                "explanations refused: \(refused.answers) answers for \(refused.units) units, "
                    + "\(refused.unexplained) still unexplained (see explanation_failures)")
        }
        if let alikeExplanations { lines.append("warning: \(alikeExplanations)") }
        return lines
    }
}
