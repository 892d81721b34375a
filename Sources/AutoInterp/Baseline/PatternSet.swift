import AutoInterpLLM
import Foundation

/// A token pattern: the activating token with the context that precedes it.
///
/// `["the"] + "dog"` matches "dog" right after "the"; `[","] + nil` matches any token right after
/// a comma (a *wildcard*); `[] + "dog"` matches "dog" anywhere. Tokens match exactly (the
/// tokenizer's strings, case and leading-space markers included).
public struct TokenPattern: Sendable, Hashable, Codable, Comparable, CustomStringConvertible {
    /// The tokens right before the activating one, oldest first (empty: the token alone).
    public var context: [String]
    /// The activating token; nil matches any token (after `context`, which is then non-empty).
    public var token: String?

    public init(context: [String] = [], token: String?) {
        precondition(token != nil || !context.isEmpty, "a wildcard pattern needs context")
        self.context = context
        self.token = token
    }

    /// Tokens covered, the activating one included.
    public var length: Int { context.count + 1 }

    /// Whether the pattern ends at position `p` of `tokens`.
    public func matches(_ tokens: [String], at p: Int) -> Bool {
        guard p >= context.count, p < tokens.count else { return false }
        if let token, tokens[p] != token { return false }
        let start = p - context.count
        for (i, c) in context.enumerated() where tokens[start + i] != c { return false }
        return true
    }

    /// A readable form: `"dog"`, `"dog" after "the"`, `any token after ","`.
    public var description: String {
        let head = token.map(Self.quoted) ?? "any token"
        guard !context.isEmpty else { return head }
        return head + " after " + context.map(Self.quoted).joined(separator: " ")
    }

    /// Orders by the readable form (a stable tie-break; not a measure of importance).
    public static func < (a: Self, b: Self) -> Bool {
        let keyA = (a.context.count, a.token == nil ? 1 : 0, a.description), keyB = (b.context.count, b.token == nil ? 1 : 0, b.description)
        if keyA != keyB { return keyA < keyB }
        // Descriptions cut long tokens; the raw tokens decide between patterns that read the same.
        return (a.context + [a.token ?? ""]).joined(separator: "\u{0}") < (b.context + [b.token ?? ""]).joined(separator: "\u{0}")
    }

    /// A token in double quotes, with quotes, backslashes and control characters escaped and
    /// long tokens cut to 24 characters.
    static func quoted(_ token: String) -> String {
        var text = ""
        for ch in token.prefix(24) {
            switch ch {
            case "\"": text += "\\\""
            case "\\": text += "\\\\"
            case "\n": text += "\\n"
            case "\t": text += "\\t"
            case "\r": text += "\\r"
            default: text.append(ch)
            }
        }
        return "\"" + text + (token.count > 24 ? "…" : "") + "\""
    }
}

/// What the local baseline learned about one unit: token patterns with the activation they carry.
///
/// Made by ``PatternSet/extract(tokens:activations:parameters:)`` from the unit's explanation
/// records (Neuron-to-Graph style, Foote et al. 2023); it is both the explanation (``explanation``,
/// a readable string) and what the simulator uses (``predict(_:)``), so the two never disagree.
/// The same records and parameters always give the same set.
public struct PatternSet: Sendable, Equatable {
    /// The settings of the baseline; every one changes results, so they are stored in the run
    /// config (``PipelineConfig/baseline``) and a change is refused on resume.
    public struct Parameters: Sendable, Equatable, Codable {
        /// A position is a *pivot* (a token to explain) when its activation is at least this
        /// fraction of its record's max (and a match counts as firing, for ``consistency``, at
        /// this fraction of the pivot's activation) …
        public var pivotFraction: Double
        /// … and at least this fraction of the max over all explanation records.
        public var minPivotActivation: Double
        /// A pattern *disambiguates* a pivot when at least this share of its matches in the
        /// explanation records fire at ``pivotFraction`` × the pivot's activation or more.
        public var consistency: Double
        /// The most context tokens a pattern keeps before the activating token.
        public var maxContext: Int
        /// Whether "any token after <context>" patterns are tried (before the exact token, at
        /// each context length).
        public var wildcards: Bool
        /// Matches a pattern needs in the explanation records to count as evidence; a pattern
        /// seen only at the pivot itself is kept only when no better-supported one disambiguates.
        public var minSupport: Int
        /// The longest explanation text, in characters.
        public var maxExplanationLength: Int

        public init(
            pivotFraction: Double = 0.5, minPivotActivation: Double = 0.2, consistency: Double = 0.75, maxContext: Int = 3,
            wildcards: Bool = true, minSupport: Int = 2, maxExplanationLength: Int = 200
        ) {
            self.pivotFraction = pivotFraction
            self.minPivotActivation = minPivotActivation
            self.consistency = consistency
            self.maxContext = maxContext
            self.wildcards = wildcards
            self.minSupport = minSupport
            self.maxExplanationLength = maxExplanationLength
        }

        /// Throws ``AutoInterpError`` naming the setting that is out of range.
        public func validate() throws {
            func check(_ ok: Bool, _ problem: String) throws {
                if !ok { throw AutoInterpError.invalidInput("baseline setting \(problem)") }
            }
            try check((0...1).contains(pivotFraction) && pivotFraction > 0, "pivot fraction \(pivotFraction) must be in (0, 1]")
            try check((0...1).contains(minPivotActivation), "min pivot activation \(minPivotActivation) must be in [0, 1]")
            try check(consistency > 0 && consistency <= 1, "consistency \(consistency) must be in (0, 1] (e.g. \(Setting.patternConsistency) 0.75)")
            try check((0...16).contains(maxContext), "max context \(maxContext) must be 0...16 (e.g. \(Setting.patternContext) 3)")
            try check(minSupport >= 1, "min support \(minSupport) must be at least 1")
            try check(maxExplanationLength >= 40, "max explanation length \(maxExplanationLength) must be at least 40")
        }
    }

    /// One pattern with what the explanation records say about it.
    public struct Entry: Sendable, Equatable {
        public var pattern: TokenPattern
        /// Mean normalised activation (0...1, 1 = the max over the explanation records) over
        /// every match of the pattern in the explanation records.
        public var activation: Double
        /// Matches of the pattern in the explanation records.
        public var matches: Int
        /// Pivots for which this pattern is the chosen one.
        public var pivots: Int
        /// Importance: the sum of those pivots' normalised activations (orders the explanation).
        public var weight: Double

        public init(pattern: TokenPattern, activation: Double, matches: Int, pivots: Int, weight: Double) {
            self.pattern = pattern
            self.activation = activation
            self.matches = matches
            self.pivots = pivots
            self.weight = weight
        }
    }

    /// The patterns, most important first (weight, then ``TokenPattern`` order).
    public var entries: [Entry]
    public var parameters: Parameters

    public init(entries: [Entry], parameters: Parameters = Parameters()) {
        self.entries = entries.sorted { a, b in a.weight != b.weight ? a.weight > b.weight : a.pattern < b.pattern }
        self.parameters = parameters
    }

    // MARK: - Simulation

    /// The largest predicted value, matching the 0-10 scale the LLM simulator answers in.
    public static let scale = 10.0

    /// Predicted activations (0...10) for each token of each record.
    ///
    /// Each token takes the value of the *longest* pattern ending at it (the most specific
    /// context; at equal length an exact token beats a wildcard, then the higher activation),
    /// times ``scale``; a token no pattern matches is predicted 0.
    public func predict(_ records: [[String]]) -> [[Double]] {
        // Candidates indexed by the activating token, and wildcards by the token before it,
        // each list in order of preference so the first match wins.
        var byToken: [String: [Entry]] = [:]
        var wildcardsAfter: [String: [Entry]] = [:]
        for entry in entries {
            if let token = entry.pattern.token {
                byToken[token, default: []].append(entry)
            } else if let last = entry.pattern.context.last {
                wildcardsAfter[last, default: []].append(entry)
            }
        }
        func preferred(_ a: Entry, _ b: Entry) -> Bool {
            if a.pattern.length != b.pattern.length { return a.pattern.length > b.pattern.length }
            if (a.pattern.token == nil) != (b.pattern.token == nil) { return a.pattern.token != nil }
            if a.activation != b.activation { return a.activation > b.activation }
            return a.pattern < b.pattern
        }
        for key in byToken.keys { byToken[key]!.sort(by: preferred) }
        for key in wildcardsAfter.keys { wildcardsAfter[key]!.sort(by: preferred) }

        return records.map { tokens in
            tokens.indices.map { p in
                var best: Entry?
                for entry in byToken[tokens[p]] ?? [] where entry.pattern.matches(tokens, at: p) {
                    best = entry
                    break
                }
                if p > 0 {
                    for entry in wildcardsAfter[tokens[p - 1]] ?? [] where entry.pattern.matches(tokens, at: p) {
                        if best == nil || preferred(entry, best!) { best = entry }
                        break
                    }
                }
                return min(Self.scale, max(0, (best?.activation ?? 0) * Self.scale))
            }
        }
    }

    // MARK: - Explanation

    /// The readable explanation: the most important patterns with their mean normalised
    /// activation, e.g. `fires on "dog" (1.0), any token after "," (0.9), "cat" after "the" (0.7), and 4 more patterns`.
    ///
    /// Deterministic, at most ``Parameters/maxExplanationLength`` characters; as many patterns
    /// as fit are listed and the rest counted.
    public var explanation: String {
        guard !entries.isEmpty else { return "no activating pattern" }
        let prefix = "fires on "
        let parts = entries.map { "\($0.pattern) (\(String(format: "%.1f", $0.activation)))" }
        func suffix(_ left: Int) -> String { left == 0 ? "" : ", and \(left) more pattern\(left == 1 ? "" : "s")" }
        var kept = 0
        var length = prefix.count
        for (i, part) in parts.enumerated() {
            let added = (i == 0 ? 0 : 2) + part.count
            if i > 0, length + added + suffix(parts.count - i - 1).count > parameters.maxExplanationLength { break }
            length += added
            kept = i + 1
        }
        var text = prefix + parts.prefix(kept).joined(separator: ", ") + suffix(parts.count - kept)
        if text.count > parameters.maxExplanationLength {  // one very long first pattern
            text = String(text.prefix(parameters.maxExplanationLength - 1)) + "…"
        }
        return text
    }
}
