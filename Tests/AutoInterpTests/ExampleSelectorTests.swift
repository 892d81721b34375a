import AutoInterpTestSupport
import Foundation
import Logging
import Testing

@testable import AutoInterp

struct ExampleSelectorTests {
    static let (contexts, length, width) = (120, 12, 10)

    static func fixture(_ dir: TemporaryDirectory) throws -> ActivationDataset {
        let url = dir.path("acts.safetensors")
        try SyntheticDataset.write(to: url, contexts: contexts, length: length, width: width, seed: 42)
        return try ActivationDataset(url: url)
    }

    static func select(_ dataset: ActivationDataset, sae: SparseAutoencoder? = nil, features: [Int] = [], neurons: [Int], config: SelectionConfig = .init(), tokensPerBatch: Int = 100) throws -> [UnitSelection] {
        let source = try UnitActivationSource(dataset: dataset, sae: sae, features: features, neurons: neurons, tokensPerBatch: tokensPerBatch)
        return try ExampleSelector(config: config).select(from: source)
    }

    /// Brute-force per-context max of a neuron over selectable tokens.
    static func contextMaxima(_ dataset: ActivationDataset, neuron: Int) throws -> [Int: Float] {
        var all = [Float](repeating: 0, count: dataset.tokenCount * dataset.width)
        try all.withUnsafeMutableBufferPointer { try dataset.readActivations(contexts: 0..<dataset.contextCount, into: $0.baseAddress!) }
        var out: [Int: Float] = [:]
        for c in 0..<dataset.contextCount {
            for p in 0..<dataset.contextLength where dataset.isSelectable(token: c * dataset.contextLength + p, includeSpecial: false) {
                out[c] = max(out[c] ?? -.infinity, all[(c * dataset.contextLength + p) * dataset.width + neuron])
            }
        }
        return out
    }

    @Test func statisticsMatchBruteForce() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let dataset = try Self.fixture(dir)
        let selection = try Self.select(dataset, neurons: [0, 3])
        var all = [Float](repeating: 0, count: dataset.tokenCount * dataset.width)
        try all.withUnsafeMutableBufferPointer { try dataset.readActivations(contexts: 0..<dataset.contextCount, into: $0.baseAddress!) }
        for (i, neuron) in [0, 3].enumerated() {
            let values = (0..<dataset.tokenCount).filter { dataset.isSelectable(token: $0, includeSpecial: false) }.map { all[$0 * dataset.width + neuron] }
            let stats = selection[i].statistics
            #expect(stats.unit == UnitRef(.neuron, neuron))
            #expect(stats.tokenCount == values.count)
            #expect(stats.maxActivation == max(values.max()!, 0))
            #expect(abs(stats.density - Double(values.filter { $0 > 0 }.count) / Double(values.count)) < 1e-12)
            #expect(stats.histogram.counts.reduce(0, +) + stats.histogram.zeroCount == values.count)
            #expect(stats.histogram.zeroCount == values.filter { $0 <= 0 }.count)
        }
    }

    @Test func examplesAreDisjointTopAndBinnedCorrectly() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let dataset = try Self.fixture(dir)
        let config = SelectionConfig()
        let selection = try Self.select(dataset, neurons: [0, 1, 2], config: config)
        for unit in selection {
            let maxima = try Self.contextMaxima(dataset, neuron: unit.unit.index)
            let explain = unit.examples.filter { $0.role == .explain }
            let score = unit.examples.filter { $0.role == .score }
            #expect(explain.count == config.explainTop)
            #expect(score.filter { $0.subset == .top }.count == config.scoreTop)
            #expect(Set(explain.map(\.context)).isDisjoint(with: score.map(\.context)), "\(unit.unit)")
            // Top contexts really are the highest: none outside the pool beats the pool's weakest.
            let pool = unit.examples.filter { $0.subset == .top }
            let weakest = pool.map { maxima[$0.context]! }.min()!
            let poolContexts = Set(pool.map(\.context))
            #expect(maxima.filter { !poolContexts.contains($0.key) }.allSatisfy { $0.value <= weakest })
            // Binned samples sit in their bin; bin 0 never fires.
            let top = Double(unit.statistics.maxActivation)
            for example in unit.examples where example.subset == .quantile {
                let m = Double(maxima[example.context]!)
                let bin = try #require(example.bin)
                if bin == 0 {
                    #expect(m <= 0)
                } else {
                    #expect(m > top * Double(bin - 1) / 10 && m <= top * Double(bin) / 10 + 1e-9)
                }
            }
            let silent = maxima.filter { !poolContexts.contains($0.key) && $0.value <= 0 }.count
            #expect(unit.examples.filter { $0.subset == .quantile && $0.bin == 0 }.count == min(config.nonActivating, silent))
            #expect(score.filter { $0.subset == .random }.count == config.scoreRandom)
            // Records drop padding and special tokens, and carry the unit's own activations.
            for example in unit.examples {
                #expect(example.tokens.count == example.activations.count && example.tokens.count == example.tokenIDs.count)
                #expect(!example.tokens.contains("[PAD]") && !example.tokens.contains("[CLS]"))
                #expect(example.maxActivation == maxima[example.context]!)
            }
        }
        // The clean planted unit's explanation examples are all about animals.
        let animalTokens = Set(SyntheticDataset.animals)
        for example in selection[0].examples where example.role == .explain {
            let peak = example.activations.indices.max { example.activations[$0] < example.activations[$1] }!
            #expect(animalTokens.contains(example.tokens[peak]))
        }
    }

    @Test func selectionIsSeededAndIndependentOfBatching() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let dataset = try Self.fixture(dir)
        var config = SelectionConfig()
        config.seed = 9
        let a = try Self.select(dataset, neurons: [1, 4], config: config, tokensPerBatch: 50)
        let b = try Self.select(dataset, neurons: [4, 1].sorted(), config: config, tokensPerBatch: 500)
        #expect(a.map(\.examples) == b.map(\.examples))
        config.seed = 10
        let c = try Self.select(dataset, neurons: [1, 4], config: config)
        #expect(a.map { $0.examples.filter { $0.subset == .random }.map(\.context) } != c.map { $0.examples.filter { $0.subset == .random }.map(\.context) })
    }

    @Test func featuresGoThroughTheEncoderAndTheSameCode() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let dataset = try Self.fixture(dir)
        // An SAE whose feature 1 copies neuron 0 and feature 0 copies neuron 2: same selections as the neurons.
        var encoder = [Float](repeating: 0, count: Self.width * 3)
        encoder[0 * 3 + 1] = 1
        encoder[2 * 3 + 0] = 1
        let sae = SparseAutoencoder(
            config: SAEConfig(architecture: .standard, dIn: Self.width, dSAE: 3, applyBDecToInput: false),
            encoderWeights: encoder, encoderBias: [0, 0, 0], decoderWeights: [Float](repeating: 0, count: 3 * Self.width),
            decoderBias: [Float](repeating: 0, count: Self.width))
        let selection = try Self.select(dataset, sae: sae, features: [0, 1], neurons: [0, 2])
        #expect(selection.map(\.unit) == [UnitRef(.feature, 0), UnitRef(.feature, 1), UnitRef(.neuron, 0), UnitRef(.neuron, 2)])
        // ReLU only changes non-positive values, so top contexts and max agree.
        #expect(selection[1].statistics.maxActivation == selection[2].statistics.maxActivation)
        // Same top pool (the explain/score split uses each unit's own random stream).
        #expect(Set(selection[1].examples.filter { $0.subset == .top }.map(\.context)) == Set(selection[2].examples.filter { $0.subset == .top }.map(\.context)))
        #expect(selection[0].statistics.density == selection[3].statistics.density)
    }

    @Test func shapeMismatchBetweenSAEAndDatasetIsOneClearError() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let dataset = try Self.fixture(dir)
        let sae = SAEFixture.random(dIn: 5, dSAE: 8)
        let error = #expect(throws: AutoInterpError.self) { try Self.select(dataset, sae: sae, features: [0], neurons: []) }
        #expect(error?.description.contains("d_in = 5") == true && error?.description.contains("width 10") == true)
    }

    @Test(arguments: [("0-3", [0, 1, 2, 3]), ("5,1,2-3,5", [1, 2, 3, 5]), ("none", []), ("all", [0, 1, 2, 3, 4, 5, 6, 7, 8, 9])])
    func unitSpecsResolve(_ spec: String, _ expected: [Int]) throws {
        #expect(try UnitSpec(parsing: spec).resolve(count: 10, kind: .neuron, seed: 0) == expected)
    }

    @Test func unitSpecErrorsAndRandomDraws() throws {
        #expect(throws: AutoInterpError.self) { try UnitSpec(parsing: "3-1") }
        #expect(throws: AutoInterpError.self) { try UnitSpec(parsing: "x") }
        #expect(throws: AutoInterpError.self) { try UnitSpec(parsing: "0-20").resolve(count: 10, kind: .feature, seed: 0) }
        let draw = try UnitSpec(parsing: "random:5").resolve(count: 100, kind: .feature, seed: 3)
        #expect(draw.count == 5 && Set(draw).count == 5 && draw == draw.sorted())
        #expect(draw == (try UnitSpec(parsing: "random:5").resolve(count: 100, kind: .feature, seed: 3)))
        #expect(draw != (try UnitSpec(parsing: "random:5").resolve(count: 100, kind: .feature, seed: 4)))
    }
}

/// The whole foundation path: dataset → CSR encode → selection into a run database.
struct FoundationRoundTripTests {
    @Test func storedFeatureExamplesEqualTheEncodedCSR() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let datasetURL = dir.path("acts.safetensors")
        try SyntheticDataset.write(to: datasetURL, contexts: 60, length: 12, width: 10, seed: 8, dtype: .F16)
        try SyntheticDataset.writeSAE(to: dir.path("sae"), width: 10, seed: 8)
        let dataset = try ActivationDataset(url: datasetURL)
        let sae = try SparseAutoencoder(folder: dir.path("sae"))
        let csrURL = dir.path("features.safetensors")
        let summary = try DatasetEncoder(tokensPerBatch: 100).encode(dataset: dataset, sae: sae, output: csrURL)
        #expect(summary.tokens == 720)
        let csr = try SafeTensorsFile(url: csrURL)
        let indptr = try csr.int64s("indptr"), indices = try csr.int64s("indices"), values = try csr.floats("values")
        func feature(_ f: Int, token t: Int) -> Float {
            for i in Int(indptr[t])..<Int(indptr[t + 1]) where indices[i] == Int64(f) { return values[i] }
            return 0
        }

        let request = RunSetup.Request(
            name: "rt", resultsFolder: dir.path("results"), activations: datasetURL, sae: dir.path("sae"), features: .all, neurons: .indices([0]))
        let outcome = try RunSetup(logger: Logger(label: "test.setup")).prepare(request)
        #expect(outcome.stored == 8)
        let units = try outcome.store.units(runID: outcome.run.id)
        #expect(units.count == 8)
        var checked = 0
        for unit in units where unit.unit.kind == .feature {
            for example in try outcome.store.examples(unitID: unit.id) {
                let positions = (0..<12).filter { dataset.isSelectable(token: example.context * 12 + $0, includeSpecial: false) }
                #expect(positions.count == example.activations.count)
                for (p, value) in zip(positions, example.activations) {
                    #expect(abs(feature(unit.unit.index, token: example.context * 12 + p) - value) < 1e-5)
                    checked += 1
                }
            }
        }
        #expect(checked > 1000)
    }
}
