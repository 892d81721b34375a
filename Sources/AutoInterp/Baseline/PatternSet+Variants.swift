import Foundation

/// The pattern baseline's own generalisation and specialisation of an explanation, for the
/// metric audit (``MetricAudit``): a *broader* set that also fires where the unit does not, and
/// a *narrower* one that misses part of where it does. Both are deterministic functions of the
/// unit's pattern set and explanation records, so the simulator and classifier re-derive the
/// variant an audit row's text names (``PatternWorkers``).
extension PatternSet {
    /// The variant of the audit named `variant` (`broader`, `narrower`); nil when it cannot be
    /// made (see ``narrowed()``) or the name is unknown.
    package func variant(_ variant: String, records: [[String]]) -> PatternSet? {
        switch variant {
        case MetricAudit.Variant.broader.rawValue: broadened(records: records)
        case MetricAudit.Variant.narrower.rawValue: narrowed()
        default: nil
        }
    }

    /// Every pattern, plus each other token of the explanation records as a pattern of its own
    /// (the token anywhere) at the set's weakest activation: "fires on these patterns, and on the
    /// other words of the texts it fires in".
    package func broadened(records: [[String]]) -> PatternSet {
        guard !entries.isEmpty else { return self }
        let weakest = entries.map(\.activation).min() ?? 0
        let known = Set(entries.compactMap { $0.pattern.context.isEmpty ? $0.pattern.token : nil })
        var added: [String: Int] = [:]
        for record in records {
            for token in record where !known.contains(token) { added[token, default: 0] += 1 }
        }
        let extra = added.map { token, count in
            Entry(pattern: TokenPattern(token: token), activation: weakest, matches: count, pivots: 0, weight: 0)
        }
        return PatternSet(entries: entries + extra, parameters: parameters)
    }

    /// The most important half of the patterns (rounded up; fewer than all); nil for a single
    /// pattern, which has nothing to drop.
    package func narrowed() -> PatternSet? {
        guard entries.count >= 2 else { return nil }
        return PatternSet(entries: Array(entries.prefix((entries.count + 1) / 2)), parameters: parameters)
    }
}
