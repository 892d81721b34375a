import Foundation
import Testing

@testable import AutoInterp

/// The local baseline's pattern extraction, simulation and explanation text on hand-made records.
struct BaselinePatternTests {
    /// Records from `"word word …"` lines and one activation per word.
    static func records(_ rows: [(String, [Float])]) -> (tokens: [[String]], activations: [[Float]]) {
        let tokens = rows.map { $0.0.split(separator: " ").map(String.init) }
        for (i, row) in rows.enumerated() { precondition(tokens[i].count == row.1.count, "row \(i)") }
        return (tokens, rows.map(\.1))
    }

    static func patterns(_ set: PatternSet) -> [TokenPattern] { set.entries.map(\.pattern).sorted() }

    // MARK: - Extraction

    @Test func tokenUnitGivesTheTokensAlone() throws {
        let (tokens, acts) = Self.records([
            ("the cat sat on the mat", [0, 2, 0, 0, 0, 0]),
            ("a dog and a cat", [0, 1.5, 0, 0, 1.8]),
            ("the dog , the owl", [0, 1.6, 0, 0, 1]),
            ("on the mat", [0, 0, 0.1]),
        ])
        let set = PatternSet.extract(tokens: tokens, activations: acts)
        #expect(Self.patterns(set) == [TokenPattern(token: "cat"), TokenPattern(token: "dog"), TokenPattern(token: "owl")])
        let cat = try #require(set.entries.first { $0.pattern.token == "cat" })
        #expect(cat.matches == 2 && cat.pivots == 2 && abs(cat.activation - 0.95) < 1e-6)
        // "mat" at 0.1 is below the pivot threshold (half its record's max, and 0.2 of the overall max) only where it must be:
        // its record's max is 0.1, so it is half of that, but 0.05 of the overall max.
        #expect(!set.entries.contains { $0.pattern.token == "mat" })
        // Most important first: cat (2 pivots), dog, owl.
        #expect(set.entries.map { $0.pattern.token } == ["cat", "dog", "owl"])
    }

    @Test func contextUnitAfterACommaIsAWildcard() throws {
        // Fires on whatever follows ","; "dog" and "cat" also occur elsewhere without firing.
        let (tokens, acts) = Self.records([
            ("the dog , cat runs", [0, 0, 0, 2, 0]),
            ("a cat , dog sees", [0, 0, 0, 2.1, 0]),
            ("red , blue and green", [0, 0, 1.9, 0, 0]),
            ("the dog and the cat", [0, 0, 0, 0, 0]),
        ])
        let set = PatternSet.extract(tokens: tokens, activations: acts)
        #expect(Self.patterns(set) == [TokenPattern(context: [","], token: nil)])
        let entry = try #require(set.entries.first)
        #expect(entry.matches == 3 && entry.pivots == 3)
        #expect(set.explanation == #"fires on any token after "," (1.0)"#)

        // Without wildcards the exact token after the comma is kept where the token alone is
        // inconsistent ("cat", "dog" also occur silently); "blue", seen once, stays alone.
        var exact = PatternSet.Parameters()
        exact.wildcards = false
        let exactSet = PatternSet.extract(tokens: tokens, activations: acts, parameters: exact)
        #expect(
            Self.patterns(exactSet) == [
                TokenPattern(token: "blue"), TokenPattern(context: [","], token: "cat"), TokenPattern(context: [","], token: "dog"),
            ])
    }

    @Test func pruningKeepsTheShortestDisambiguatingContext() throws {
        // "bank" fires after "river" (whatever comes before), not after "the"; "river" is followed
        // by other, silent tokens, so "any token after river" does not hold either.
        let (tokens, acts) = Self.records([
            ("we sat by the river bank today", [0, 0, 0, 0, 0, 2, 0]),
            ("a green river bank", [0, 0, 0, 1.6]),
            ("the bank was closed", [0, 0, 0, 0]),
            ("the river flows", [0, 0, 0]),
            ("my river runs", [0, 0, 0]),
        ])
        let set = PatternSet.extract(tokens: tokens, activations: acts)
        #expect(Self.patterns(set) == [TokenPattern(context: ["river"], token: "bank")])
        #expect(set.entries.first?.matches == 2)
        #expect(set.explanation == #"fires on "bank" after "river" (0.9)"#)

        // A fire seen once, with no consistent shorter pattern, keeps the shortest context that
        // disambiguates it (here one token), not the whole window.
        let (tokens2, acts2) = Self.records([
            ("one two three four", [0, 0, 0, 3]),
            ("x y z four", [0, 0, 0, 0]),
            ("x y four", [0, 0, 0]),
        ])
        let single = PatternSet.extract(tokens: tokens2, activations: acts2)
        #expect(Self.patterns(single) == [TokenPattern(context: ["three"], token: "four")])

        // With no context allowed, the token alone is kept although it is inconsistent.
        var noContext = PatternSet.Parameters()
        noContext.maxContext = 0
        #expect(Self.patterns(PatternSet.extract(tokens: tokens, activations: acts, parameters: noContext)) == [TokenPattern(token: "bank")])
    }

    @Test func silentRecordsGiveNoPatternAndTheExplainerFails() async throws {
        let set = PatternSet.extract(tokens: [["a", "b"]], activations: [[0, -1]])
        #expect(set.entries.isEmpty)
        let record = ExampleRecord(role: .explain, subset: .top, context: 0, tokenIDs: [0, 1], tokens: ["a", "b"], activations: [0, -1])
        await #expect(throws: ExplanationFailure.self) {
            try await PatternExplainer().explain(unit: UnitRef(.neuron, 3), examples: [record])
        }
    }

    // MARK: - Simulation

    @Test func simulationTakesTheLongestMatchingPattern() async throws {
        let set = PatternSet(entries: [
            .init(pattern: TokenPattern(token: "bank"), activation: 0.3, matches: 4, pivots: 1, weight: 0.3),
            .init(pattern: TokenPattern(context: ["river"], token: "bank"), activation: 0.9, matches: 2, pivots: 2, weight: 1.8),
            .init(pattern: TokenPattern(context: [","], token: nil), activation: 0.8, matches: 3, pivots: 3, weight: 2.4),
            .init(pattern: TokenPattern(context: [","], token: "dog"), activation: 0.5, matches: 2, pivots: 1, weight: 0.5),
        ])
        let predicted = set.predict([["the", "river", "bank", ",", "bank", ",", "dog", "dog"], [","], []])
        #expect(predicted[0] == [0, 0, 9, 0, 8, 0, 5, 0])
        #expect(predicted[1] == [0] && predicted[2] == [])

        // The simulator hands these back as predictions, one per token, for its own explanation …
        let simulator = PatternSimulator(patterns: set)
        #expect(simulator.mode == "pattern")
        let outcomes = try await simulator.simulate(explanation: set.explanation, records: [["river", "bank"], ["x"]])
        #expect(outcomes == [.predicted([0, 9]), .predicted([0])])
        // … and refuses any other text rather than simulating patterns it does not describe.
        let other = try await simulator.simulate(explanation: "animal words", records: [["river", "bank"]])
        #expect(other.count == 1 && other[0].values == nil)
        if case .failed(let reason) = other[0] { #expect(reason.contains("start the run anew")) }
    }

    @Test func extractedPatternsReproduceTheirRecords() throws {
        // On its own explanation records a clean token unit is predicted exactly (up to scale).
        let (tokens, acts) = Self.records([("a cat and the dog", [0, 2, 0, 0, 1]), ("the dog sat", [0, 1, 0])])
        let set = PatternSet.extract(tokens: tokens, activations: acts)
        #expect(set.predict(tokens) == [[0, 10, 0, 0, 5], [0, 5, 0]])
    }

    // MARK: - Explanation text

    @Test func explanationIsReadableDeterministicAndShort() throws {
        var rows: [(String, [Float])] = []
        for i in 0..<40 { rows.append(("ctx\(i) word\(i) end", [0, Float(40 - i), 0])) }
        let (tokens, acts) = Self.records(rows)
        let set = PatternSet.extract(tokens: tokens, activations: acts)
        let text = set.explanation
        #expect(text.count <= 200)
        #expect(text.hasPrefix(#"fires on "word0" (1.0), "word1" (1.0), "#), "\(text)")
        #expect(text.range(of: #", and \d+ more patterns$"#, options: .regularExpression) != nil, "\(text)")
        // Same records in another order: the same text.
        let again = PatternSet.extract(tokens: tokens.reversed(), activations: acts.reversed())
        #expect(again.explanation == text)
        // A shorter limit lists fewer patterns and still fits.
        var short = PatternSet.Parameters()
        short.maxExplanationLength = 60
        let shortText = PatternSet.extract(tokens: tokens, activations: acts, parameters: short).explanation
        #expect(shortText.count <= 60 && shortText.hasSuffix("more patterns"), "\(shortText)")
        #expect(TokenPattern(context: ["in", "the"], token: nil).description == #"any token after "in" "the""#)
        #expect(TokenPattern(context: ["a\nb"], token: "x").description == #""x" after "a\nb""#)
    }

    @Test func parametersAreValidated() throws {
        var bad = PatternSet.Parameters()
        bad.consistency = 0
        #expect(throws: AutoInterpError.self) { try bad.validate() }
        bad = PatternSet.Parameters()
        bad.maxContext = -1
        #expect(throws: AutoInterpError.self) { try bad.validate() }
        try PatternSet.Parameters().validate()
    }
}
