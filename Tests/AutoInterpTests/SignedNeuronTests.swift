import AutoInterpTestSupport
import Foundation
import Testing

@testable import AutoInterp

/// `--neuron-sign` in selection: a neuron's negative side reads its column negated everywhere
/// (the activation source, the co-firing neighbours, every example subset), so it is "active"
/// where the neuron is below 0 and silent where the neuron is never below 0.
struct SignedNeuronTests {
    @Test func signsParseAndNameTheirKinds() throws {
        #expect(try NeuronSign(parsing: " Both ") == .both)
        #expect(NeuronSign.positive.kinds == [.neuron] && NeuronSign.negative.kinds == [.negativeNeuron])
        #expect(NeuronSign.both.kinds == [.neuron, .negativeNeuron])
        let bad = try #require(throws: AutoInterpError.self) { try NeuronSign(parsing: "sideways") }
        #expect(bad.option == .neuronSign && bad.message.contains("'sideways'") && bad.message.contains("positive, negative or both"))
        #expect(UnitRef(.negativeNeuron, 7).description == "neuron 7 (−)" && UnitRef(.neuron, 7).description == "neuron 7")
        #expect(UnitKind.negativeNeuron.rawValue == "neuron_negative" && UnitKind.negativeNeuron.plural == "neurons (−)")
        #expect(UnitKind.columns(present: [.neuron]) == [.feature, .neuron])
        #expect(UnitKind.columns(present: [.negativeNeuron]) == [.feature, .neuron, .negativeNeuron])
    }

    @Test func theNegativeSideReadsTheColumnNegatedWithPositiveZeros() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let dataset = try ActivationDataset(url: try SignedDataset.write(in: dir))
        let source = try UnitActivationSource(
            dataset: dataset, sae: nil, features: [], neurons: [0], negativeNeurons: [0, 1], tokensPerBatch: 48)
        #expect(source.units == [UnitRef(.neuron, 0), UnitRef(.negativeNeuron, 0), UnitRef(.negativeNeuron, 1)])
        let contexts = source.batches[0]
        let tokens = contexts.count * dataset.contextLength
        var rows = [Float](repeating: .nan, count: source.rowCount * tokens)
        try rows.withUnsafeMutableBufferPointer { try source.read(contexts: contexts, into: $0.baseAddress!) }
        var dense = [Float](repeating: 0, count: tokens * dataset.width)
        try dense.withUnsafeMutableBufferPointer { try dataset.readActivations(contexts: contexts, into: $0.baseAddress!) }
        for t in 0..<tokens {
            #expect(rows[source.unitRows[0] * tokens + t] == dense[t * dataset.width])
            #expect(rows[source.unitRows[1] * tokens + t] == -dense[t * dataset.width])
            #expect(rows[source.unitRows[2] * tokens + t] == -dense[t * dataset.width + 1])
        }
        // Where the neuron is 0 its negative side is +0 (a stored or printed value never reads -0).
        #expect(rows[(source.unitRows[1] * tokens)..<(source.unitRows[1] * tokens + tokens)].allSatisfy { $0 != 0 || $0.sign == .plus })
    }

    @Test func aNegativeSidesNeighboursCoFireBelowZero() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let dataset = try ActivationDataset(url: try SignedDataset.write(in: dir))
        let found = try UnitNeighbours.neurons([0], negative: [0], dataset: dataset, k: 2)
        // Neuron 3 is below 0 on every river, as neuron 0 is; it is never above 0.
        #expect(found[UnitRef(.negativeNeuron, 0)]?.first == UnitRef(.negativeNeuron, 3), "\(found)")
        #expect(found[UnitRef(.neuron, 0)] == [], "\(found)")
        let noisy = try UnitNeighbours.neurons([2], negative: [2], dataset: dataset, k: 3)
        #expect(noisy[UnitRef(.neuron, 2)] == [] && noisy[UnitRef(.negativeNeuron, 2)] == [], "\(noisy)")
    }

    @Test func everySubsetOfTheNegativeSideIsAboutWhereTheNeuronIsBelowZero() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let dataset = try ActivationDataset(url: try SignedDataset.write(in: dir))
        var config = SelectionConfig()
        config.quantilePerBin = 1
        config.nonActivating = 2
        config.hardNegatives = 5
        let units = [UnitRef(.neuron, 0), UnitRef(.negativeNeuron, 0)]
        let neighbours = try UnitNeighbours.neurons([0], negative: [0], dataset: dataset)
        var selections: [UnitRef: UnitSelection] = [:]
        try ChunkedSelection(config: config).run(dataset: dataset, sae: nil, latents: nil, units: units, neighbours: neighbours) {
            selections[$0.unit] = $0
        }
        let positive = try #require(selections[UnitRef(.neuron, 0)]), negative = try #require(selections[UnitRef(.negativeNeuron, 0)])
        #expect(positive.statistics.maxActivation == 4 && negative.statistics.maxActivation == 4)
        func examples(_ selection: UnitSelection, _ role: ExampleRole, _ subset: ExampleSubset) -> [ExampleRecord] {
            selection.examples.filter { $0.role == role && $0.subset == subset }
        }
        // Top examples: the positive side's are cats, the negative side's rivers, with the negated values.
        for record in examples(negative, .explain, .top) {
            let peak = try #require(record.activations.firstIndex(of: record.maxActivation))
            #expect(record.tokenIDs[peak] == SignedDataset.river && record.maxActivation == 4)
            for (token, value) in zip(record.tokenIDs, record.activations) {
                #expect(value == (token == SignedDataset.river ? 4 : token == SignedDataset.cat ? -4 : 0))
            }
        }
        #expect(examples(positive, .explain, .top).allSatisfy { $0.tokenIDs[$0.activations.firstIndex(of: 4) ?? 0] == SignedDataset.cat })
        #expect(!examples(negative, .explain, .top).isEmpty && !examples(positive, .explain, .top).isEmpty)
        // Silent for the negative side: the neuron is never below 0 (no river), though cats (+4) may be there.
        let silent = examples(negative, .classify, .silent)
        #expect(!silent.isEmpty && silent.allSatisfy { !$0.tokenIDs.contains(SignedDataset.river) })
        let nonActivating = examples(negative, .score, .random).filter { $0.maxActivation <= 0 }
        #expect(nonActivating.allSatisfy { !$0.tokenIDs.contains(SignedDataset.river) })
        // Hard negatives: silent contexts where the negative side of neuron 3, its one neighbour, fires (an
        // `old` without a river). The positive side has no neighbour (nothing fires above 0 with a cat), so none.
        #expect(neighbours[UnitRef(.negativeNeuron, 0)] == [UnitRef(.negativeNeuron, 3)] && neighbours[UnitRef(.neuron, 0)] == [])
        let hard = examples(negative, .classify, .hard)
        #expect(hard.count == 5)
        #expect(hard.allSatisfy { $0.bin == 3 && $0.tokenIDs.contains(SignedDataset.old) && !$0.tokenIDs.contains(SignedDataset.river) })
        #expect(examples(positive, .classify, .hard).isEmpty)
    }
}
