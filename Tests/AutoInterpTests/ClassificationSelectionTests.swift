import AutoInterpTestSupport
import Foundation
import Testing

@testable import AutoInterp

/// The detection/fuzzing examples: deciles of the context maxima drawn evenly, silent contexts
/// that are all-zero on their values, both disjoint from the explain examples, and drawn on their
/// own stream so every other subset stays exactly as before.
struct ClassificationSelectionTests {
    static func dataset(_ dir: TemporaryDirectory) throws -> ActivationDataset {
        try ExampleSelectorTests.fixture(dir)
    }

    @Test func decilesAreEvenAndSilentContextsNeverFire() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let dataset = try Self.dataset(dir)
        var config = SelectionConfig()
        config.classifyPerDecile = 2
        config.classifySilent = 6
        let neurons = Array(0..<dataset.width)
        let selections = try ExampleSelectorTests.select(dataset, neurons: neurons, config: config)
        var sawSilent = false
        for (neuron, selection) in zip(neurons, selections) {
            let maxima = try ExampleSelectorTests.contextMaxima(dataset, neuron: neuron)
            let explain = Set(selection.examples.filter { $0.role == .explain }.map(\.context))
            let activating = selection.examples.filter { $0.role == .classify && $0.subset == .activating }
            let silent = selection.examples.filter { $0.role == .classify && $0.subset == .silent }
            // Disjoint from what the explainer sees; no context twice.
            #expect(explain.isDisjoint(with: activating.map(\.context) + silent.map(\.context)), "neuron \(neuron)")
            #expect(Set(activating.map(\.context)).count == activating.count && Set(silent.map(\.context)).count == silent.count)
            // Silent: every value of every selectable token <= 0 (the values themselves, not a flag).
            for example in silent {
                #expect(!example.activations.isEmpty && example.activations.allSatisfy { $0 <= 0 }, "neuron \(neuron) context \(example.context)")
                #expect(maxima[example.context].map { $0 <= 0 } == true)
            }
            sawSilent = sawSilent || !silent.isEmpty
            let silentPool = maxima.filter { $0.value <= 0 && !explain.contains($0.key) }.count
            #expect(silent.count == min(config.classifySilent, silentPool), "neuron \(neuron)")
            // Deciles: equal-count quantiles of every activating context's max (brute force here).
            let sorted = maxima.values.filter { $0 > 0 }.sorted()
            guard !sorted.isEmpty else {
                #expect(activating.isEmpty)
                continue
            }
            let edges = (1...10).map { d in sorted[max(0, Int((Double(sorted.count * d) / 10).rounded(.up)) - 1)] }
            func decile(_ value: Float) -> Int { (edges.firstIndex { value <= $0 } ?? 9) + 1 }
            var pool: [Int: Int] = [:]
            for (context, value) in maxima where value > 0 && !explain.contains(context) { pool[decile(value), default: 0] += 1 }
            for example in activating {
                let value = try #require(maxima[example.context])
                #expect(example.bin == decile(value), "neuron \(neuron) context \(example.context)")
                #expect(example.maxActivation == value)
            }
            for d in 1...10 {
                #expect(activating.count { $0.bin == d } == min(config.classifyPerDecile, pool[d] ?? 0), "neuron \(neuron) decile \(d)")
            }
        }
        #expect(sawSilent, "the fixture has no silent context for any neuron: the test checks nothing")
    }

    @Test func otherSubsetsAreUnchangedByTheClassificationDraws() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let dataset = try Self.dataset(dir)
        var none = SelectionConfig()
        none.classifyPerDecile = 0
        none.classifySilent = 0
        var delphi = SelectionConfig()
        delphi.apply(.delphi)
        #expect(delphi.classifyPerDecile == 10 && delphi.classifySilent == 100)
        let neurons = Array(0..<dataset.width)
        let base = try ExampleSelectorTests.select(dataset, neurons: neurons, config: none)
        #expect(base.allSatisfy { $0.examples.allSatisfy { $0.role != .classify } })
        for config in [SelectionConfig(), delphi] {
            let other = try ExampleSelectorTests.select(dataset, neurons: neurons, config: config)
            for (a, b) in zip(base, other) {
                #expect(a.statistics == b.statistics)
                #expect(a.examples == b.examples.filter { $0.role != .classify })
            }
            #expect(other.contains { $0.examples.contains { $0.role == .classify } })
        }
        // Seeded: the same config gives the same classification examples, whatever the batching.
        let again = try ExampleSelectorTests.select(dataset, neurons: neurons, config: delphi, tokensPerBatch: 37)
        let first = try ExampleSelectorTests.select(dataset, neurons: neurons, config: delphi)
        #expect(zip(again, first).allSatisfy { $0.examples == $1.examples })
    }

    /// A config stored before the classification fields existed decodes with their defaults and
    /// compares equal to the same options now.
    @Test func olderStoredConfigsDecode() throws {
        let old = #"{"explainTop":7,"scoreTop":5,"scoreRandom":10,"quantileBins":10,"quantilePerBin":5,"nonActivating":5,"histogramBins":20,"seed":3,"includeSpecialTokens":false}"#
        let decoded = try JSONDecoder().decode(SelectionConfig.self, from: Data(old.utf8))
        var expected = SelectionConfig()
        expected.explainTop = 7
        expected.seed = 3
        #expect(decoded == expected)
        #expect(decoded.classifyPerDecile == 2 && decoded.classifySilent == 20)
        var changed = expected
        changed.classifySilent = 7
        let roundTrip = try JSONDecoder().decode(SelectionConfig.self, from: JSONEncoder().encode(changed))
        #expect(roundTrip == changed)
        #expect(throws: AutoInterpError.self) { try ClassifyProtocol(parsing: "delphy") }
        changed.classifyPerDecile = SelectionConfig.maxPerUnit
        #expect(throws: AutoInterpError.self) { try changed.validate() }
    }

    @Test func decileEdgesAreEqualCountQuantiles() {
        let values = (1...20).map(Float.init)
        #expect(UnitState.decileEdges(values) == [2, 4, 6, 8, 10, 12, 14, 16, 18, 20])
        // Fewer values than deciles: the first deciles take them, the rest share the top edge.
        #expect(UnitState.decileEdges([5, 1, 3]) == [1, 1, 1, 3, 3, 3, 5, 5, 5, 5])
        #expect(UnitState.decileEdges([]).isEmpty)
    }
}
