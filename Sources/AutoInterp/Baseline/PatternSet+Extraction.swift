import Foundation

extension PatternSet {
    /// Finds the patterns of a unit from its explanation records (Neuron-to-Graph style, simplified).
    ///
    /// 1. **Normalise**: activations are divided by `M`, the largest activation over all records
    ///    (negative values count as 0), so 1 is the strongest token the explainer would see.
    /// 2. **Pivots**: positions whose activation is positive, at least
    ///    ``Parameters/pivotFraction`` of their record's max and at least
    ///    ``Parameters/minPivotActivation`` × `M`.
    /// 3. **Shortest disambiguating context** (N2G's pruning: keep the shortest context that still
    ///    explains the activation): for each pivot, candidates are tried from short to long: the
    ///    token alone, then for 1, 2, … ``Parameters/maxContext`` preceding tokens first "any
    ///    token after them" (if ``Parameters/wildcards``) and then the exact token after them.
    ///    A candidate *disambiguates* when the mean normalised activation over all its matches in
    ///    the records is at least ``Parameters/consistency`` × the pivot's. The first candidate
    ///    that disambiguates with at least ``Parameters/minSupport`` matches is chosen; when none
    ///    has that support, the first that disambiguates at all (usually the token alone, seen
    ///    only at the pivot), and when none does, the longest exact candidate.
    /// 4. Each chosen pattern is stored with its mean normalised activation over all its matches
    ///    (not only the pivots), its match count, and as weight the sum of the pivots it explains.
    ///
    /// - Parameters:
    ///   - tokens: the records' tokens.
    ///   - activations: the unit's raw activations, one per token.
    public static func extract(tokens: [[String]], activations: [[Float]], parameters: Parameters = Parameters()) -> PatternSet {
        precondition(tokens.count == activations.count, "one activation row per record")
        let values = activations.map { $0.map { Double(max(0, $0)) } }
        let overallMax = values.lazy.compactMap { $0.max() }.max() ?? 0
        guard overallMax > 0 else { return PatternSet(entries: [], parameters: parameters) }
        let normalised = values.map { $0.map { $0 / overallMax } }

        // Where each token occurs: the candidates' matches are found from here.
        var positions: [String: [(record: Int, position: Int)]] = [:]
        for (r, record) in tokens.enumerated() {
            precondition(record.count == activations[r].count, "one activation per token")
            for (p, token) in record.enumerated() { positions[token, default: []].append((r, p)) }
        }
        var statistics: [TokenPattern: (mean: Double, matches: Int)] = [:]
        func measure(_ pattern: TokenPattern) -> (mean: Double, matches: Int) {
            if let known = statistics[pattern] { return known }
            var sum = 0.0
            var count = 0
            if let token = pattern.token {
                for (r, p) in positions[token] ?? [] where pattern.matches(tokens[r], at: p) {
                    sum += normalised[r][p]
                    count += 1
                }
            } else if let last = pattern.context.last {
                for (r, q) in positions[last] ?? [] where pattern.matches(tokens[r], at: q + 1) {
                    sum += normalised[r][q + 1]
                    count += 1
                }
            }
            let result = (mean: count > 0 ? sum / Double(count) : 0, matches: count)
            statistics[pattern] = result
            return result
        }

        var chosen: [TokenPattern: (pivots: Int, weight: Double)] = [:]
        for (r, record) in tokens.enumerated() {
            let recordMax = values[r].max() ?? 0
            guard recordMax > 0 else { continue }
            for p in record.indices {
                let value = normalised[r][p]
                guard values[r][p] > 0, values[r][p] >= parameters.pivotFraction * recordMax, value >= parameters.minPivotActivation
                else { continue }
                var candidates: [TokenPattern] = []
                for length in 0...min(parameters.maxContext, p) {
                    let context = Array(record[(p - length)..<p])
                    if length > 0 && parameters.wildcards { candidates.append(TokenPattern(context: context, token: nil)) }
                    candidates.append(TokenPattern(context: context, token: record[p]))
                }
                let target = parameters.consistency * value
                let pattern =
                    candidates.first { let s = measure($0); return s.matches >= parameters.minSupport && s.mean >= target }
                    ?? candidates.first { measure($0).mean >= target }
                    ?? candidates.last!
                chosen[pattern, default: (0, 0)].pivots += 1
                chosen[pattern, default: (0, 0)].weight += value
            }
        }
        let entries = chosen.map { pattern, use in
            let s = measure(pattern)
            return Entry(pattern: pattern, activation: s.mean, matches: s.matches, pivots: use.pivots, weight: use.weight)
        }
        return PatternSet(entries: entries, parameters: parameters)
    }

    /// The patterns of a unit's explanation examples (``ExampleRecord/tokens`` and raw activations).
    public static func extract(from examples: [ExampleRecord], parameters: Parameters = Parameters()) -> PatternSet {
        extract(tokens: examples.map(\.tokens), activations: examples.map(\.activations), parameters: parameters)
    }
}
