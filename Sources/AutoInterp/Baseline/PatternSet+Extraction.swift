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
    ///    A candidate *disambiguates* the pivot when at least ``Parameters/consistency`` of its
    ///    matches in the records fire at ``Parameters/pivotFraction`` × the pivot's activation or
    ///    more (wherever the pattern occurs, the unit fires about as strongly). The first
    ///    candidate that disambiguates with at least ``Parameters/minSupport`` matches is chosen;
    ///    when none has that support, the first exact (non-wildcard) candidate that disambiguates
    ///    (usually the token alone, seen only at the pivot: no evidence against it, and a wildcard
    ///    is never guessed from one match), and when none does, the longest exact candidate.
    /// 4. Each chosen pattern is stored with its mean normalised activation over all its matches
    ///    (not only the pivots), its match count, and as weight the sum of the pivots it explains.
    ///
    /// - Parameters:
    ///   - tokens: the records' tokens.
    ///   - activations: the unit's raw activations, one per token.
    package static func extract(tokens: [[String]], activations: [[Float]], parameters: Parameters = Parameters()) -> PatternSet {
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
        // Every match's normalised activation, sorted, per pattern (memoised: pivots share candidates).
        var matchValues: [TokenPattern: [Double]] = [:]
        func matchesOf(_ pattern: TokenPattern) -> [Double] {
            if let known = matchValues[pattern] { return known }
            var found: [Double] = []
            if let token = pattern.token {
                for (r, p) in positions[token] ?? [] where pattern.matches(tokens[r], at: p) { found.append(normalised[r][p]) }
            } else if let last = pattern.context.last {
                for (r, q) in positions[last] ?? [] where pattern.matches(tokens[r], at: q + 1) { found.append(normalised[r][q + 1]) }
            }
            found.sort()
            matchValues[pattern] = found
            return found
        }
        /// Whether at least `consistency` of the pattern's matches fire at `active` or more.
        func isConsistent(_ found: [Double], active: Double) -> Bool {
            guard !found.isEmpty else { return false }
            var low = 0, high = found.count  // first index with found[i] >= active
            while low < high {
                let mid = (low + high) / 2
                if found[mid] >= active { high = mid } else { low = mid + 1 }
            }
            return Double(found.count - low) >= parameters.consistency * Double(found.count) - 1e-9
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
                let active = parameters.pivotFraction * value
                let pattern =
                    candidates.first { let found = matchesOf($0); return found.count >= parameters.minSupport && isConsistent(found, active: active) }
                    ?? candidates.first { $0.token != nil && isConsistent(matchesOf($0), active: active) }
                    ?? candidates.last!
                chosen[pattern, default: (0, 0)].pivots += 1
                chosen[pattern, default: (0, 0)].weight += value
            }
        }
        let entries = chosen.map { pattern, use in
            let found = matchesOf(pattern)
            return Entry(
                pattern: pattern, activation: found.reduce(0, +) / Double(found.count), matches: found.count, pivots: use.pivots, weight: use.weight)
        }
        return PatternSet(entries: entries, parameters: parameters)
    }

    /// The patterns of a unit's explanation examples (``ExampleRecord/tokens`` and raw activations).
    package static func extract(from examples: [ExampleRecord], parameters: Parameters = Parameters()) -> PatternSet {
        extract(tokens: examples.map(\.tokens), activations: examples.map(\.activations), parameters: parameters)
    }
}
