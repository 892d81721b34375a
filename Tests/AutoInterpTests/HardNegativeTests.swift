import AutoInterpTestSupport
import Foundation
import Logging
import Testing

@testable import AutoInterp

/// Hard negatives (`classify/hard`; the run end to end in `HardNegativeRunTests`): the nearest
/// units (decoder cosine, co-firing) against brute force, each hard negative a context where the
/// unit is exactly 0 and a named neighbour fires, disjoint from the random silent ones and
/// leaving every other subset unchanged; the same rows
/// through an SAE folder, in chunks and from a latent cache; the v12 migration keeping the
/// classifications; and the detection/fuzzing metrics stored per subset, with resume.
@Suite struct HardNegativeTests {
    // MARK: Neighbours

    @Test func cosineNeighboursMatchBruteForceInAnyBlocking() throws {
        var rng = SeededGenerator(seed: 3)
        let (count, dimension, k) = (50, 6, 5)
        var rows = (0..<(count * dimension)).map { _ in Float(rng.nextGaussian()) }
        for j in 0..<dimension { rows[9 * dimension + j] = 0 }  // a dead row: nobody's neighbour
        let studied = [0, 7, 9, 13, 49]
        func brute(_ s: Int) -> [Int] {
            func cosine(_ a: Int, _ b: Int) -> Double {
                var dot = 0.0
                var na = 0.0
                var nb = 0.0
                for j in 0..<dimension {
                    let x = Double(rows[a * dimension + j])
                    let y = Double(rows[b * dimension + j])
                    (dot, na, nb) = (dot + x * y, na + x * x, nb + y * y)
                }
                return na > 0 && nb > 0 ? dot / (na * nb).squareRoot() : 0
            }
            guard cosine(s, s) != 0 else { return [] }
            return (0..<count).filter { $0 != s && cosine(s, $0) != 0 }.sorted { cosine(s, $0) > cosine(s, $1) }.prefix(k).map { $0 }
        }
        for (studiedBlock, candidateBlock) in [(512, 2048), (2, 7), (1, 1)] {
            let found = try rows.withUnsafeBufferPointer { w in
                try UnitNeighbours.byCosine(
                    studied: studied, count: count, dimension: dimension, k: k, studiedBlock: studiedBlock, candidateBlock: candidateBlock
                ) { range, into in into.update(from: w.baseAddress! + range.lowerBound * dimension, count: range.count * dimension) }
            }
            #expect(found == studied.map(brute), "blocks \(studiedBlock) × \(candidateBlock)")
            #expect(found[2].isEmpty && !found.joined().contains(9))
        }
    }

    @Test func decoderRowsStreamedFromAnSAELensFolderGiveTheSameNeighbours() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        // A wider SAE than the synthetic one, with random (not orthogonal) decoder rows.
        var rng = SeededGenerator(seed: 12)
        let (dIn, dSAE) = (6, 40)
        let sae = SparseAutoencoder(
            config: SAEConfig(architecture: .standard, dIn: dIn, dSAE: dSAE, applyBDecToInput: false, hookName: "h", modelName: "m"),
            encoderWeights: (0..<(dIn * dSAE)).map { _ in Float(rng.nextGaussian()) }, encoderBias: Array(repeating: 0, count: dSAE),
            decoderWeights: (0..<(dIn * dSAE)).map { _ in Float(rng.nextGaussian()) }, decoderBias: Array(repeating: 0, count: dIn))
        try SAELensWriter.write(sae, to: dir.path("sae"))
        let studied = [0, 5, 39]
        let inMemory = try UnitNeighbours.features(studied, sae: sae)
        let streamed = try #require(try UnitNeighbours.features(studied, saeLensFolder: dir.path("sae"), dSAE: dSAE, dIn: dIn))
        #expect(streamed == inMemory && inMemory.values.allSatisfy { $0.count == SelectionConfig.hardNeighbours })
        // Not an SAELens folder: nil (the caller reads the decoder instead).
        #expect(try UnitNeighbours.features(studied, saeLensFolder: dir.url, dSAE: dSAE, dIn: dIn) == nil)
        // That read: the studied encoder columns and the whole decoder.
        let read = try SparseAutoencoder.load(
            path: dir.path("sae"), options: SAELoadOptions(), scope: .featuresWithDecoder { _ in studied })
        #expect(read.hasDecoder && read.featureIndices == studied && read.decoderWeights == sae.decoderWeights)
        #expect(try UnitNeighbours.features(studied, sae: read) == inMemory)
    }

    @Test func coFiringNeighboursMatchBruteForceJaccard() {
        var rng = SeededGenerator(seed: 8)
        let (tokens, width, k) = (60, 12, 4)
        let sample = (0..<(tokens * width)).map { _ in Double.random(in: 0..<1, using: &rng) < 0.3 ? Float(1 + rng.nextGaussian()) : 0 }
        let studied = [0, 3, 11]
        func fires(_ t: Int, _ j: Int) -> Bool { sample[t * width + j] > 0 }
        func brute(_ s: Int) -> [Int] {
            func jaccard(_ j: Int) -> Float {
                let both = (0..<tokens).count { fires($0, s) && fires($0, j) }
                let either = (0..<tokens).count { fires($0, s) || fires($0, j) }
                return both == 0 ? 0 : Float(both) / Float(either)
            }
            return (0..<width).filter { $0 != s && jaccard($0) > 0 }
                .sorted { (jaccard($0), -$0) > (jaccard($1), -$1) }.prefix(k).map { $0 }
        }
        for block in [512, 2] {
            let found = UnitNeighbours.byCoFiring(studied: studied, sample: sample, tokens: tokens, width: width, k: k, studiedBlock: block)
            #expect(found == studied.map(brute), "block \(block)")
            // The sparse form (each token's firing units) gives the same neighbours.
            let firing = (0..<tokens).map { t in (0..<width).filter { fires(t, $0) } }
            #expect(UnitNeighbours.byCoFiring(studied: studied, firing: firing, width: width, k: k) == found)
            #expect(found.allSatisfy { $0.count == k })
        }
    }

    // MARK: Selection

    /// Every unit's context maxima over selectable tokens, from a source reading all of `units` (no neighbours).
    static func maxima(_ dataset: ActivationDataset, sae: SparseAutoencoder?, features: [Int], neurons: [Int]) throws -> [UnitRef: [Float?]]
    {
        let source = try UnitActivationSource(dataset: dataset, sae: sae, features: features, neurons: neurons, tokensPerBatch: 1 << 20)
        let tokens = dataset.tokenCount
        var values = [Float](repeating: 0, count: source.rowCount * tokens)
        try values.withUnsafeMutableBufferPointer { try source.read(contexts: 0..<dataset.contextCount, into: $0.baseAddress!) }
        var out: [UnitRef: [Float?]] = [:]
        for (u, unit) in source.units.enumerated() {
            out[unit] = (0..<dataset.contextCount).map { c in
                let positions = (0..<dataset.contextLength).filter {
                    dataset.isSelectable(token: c * dataset.contextLength + $0, includeSpecial: false)
                }
                return positions.map { values[source.unitRows[u] * tokens + c * dataset.contextLength + $0] }.max()
            }
        }
        return out
    }

    /// Checks one unit's hard negatives against brute force; returns how many it has.
    @discardableResult
    static func expectHardNegatives(
        _ examples: [ExampleRecord], unit: UnitRef, neighbours: [UnitRef], maxima: [UnitRef: [Float?]], wanted: Int
    ) -> Int {
        let hard = examples.filter { $0.role == .classify && $0.subset == .hard }
        let silent = Set(examples.filter { $0.role == .classify && $0.subset == .silent }.map(\.context))
        let explain = Set(examples.filter { $0.role == .explain }.map(\.context))
        let mine = maxima[unit] ?? []
        for example in hard {
            // The unit is exactly 0 there (a feature) or never above 0 (a neuron), on the stored values too.
            #expect(!example.activations.isEmpty && example.activations.allSatisfy { unit.kind == .feature ? $0 == 0 : $0 <= 0 })
            #expect((mine[example.context] ?? 1) <= 0)
            // The neighbour named in `bin` fires there.
            let neighbour = UnitRef(unit.kind, example.bin ?? -1)
            #expect(neighbours.contains(neighbour), "unit \(unit) context \(example.context): bin \(String(describing: example.bin))")
            #expect((maxima[neighbour]?[example.context] ?? 0) > 0, "unit \(unit): neighbour \(neighbour) silent in \(example.context)")
        }
        #expect(Set(hard.map(\.context)).count == hard.count)
        #expect(silent.isDisjoint(with: hard.map(\.context)) && explain.isDisjoint(with: hard.map(\.context)))
        let pool = mine.indices.filter { c in
            (mine[c] ?? 1) <= 0 && !silent.contains(c) && !explain.contains(c)
                && neighbours.contains { (maxima[$0]?[c] ?? 0) > 0 }
        }
        #expect(hard.count == min(wanted, pool.count), "unit \(unit): \(hard.count) hard of a pool of \(pool.count)")
        return hard.count
    }

    @Test func featureHardNegativesAreSilentContextsWhereANeighbourFires() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let url = dir.path("acts.safetensors")
        try SyntheticDataset.write(to: url, contexts: 60, length: 10, width: 9, seed: 4)
        let dataset = try ActivationDataset(url: url)
        let sae = SyntheticDataset.sae(width: 9, seed: 4)
        let features = [0, 2, 5]
        let neighbours = try UnitNeighbours.features(features, sae: sae, k: 3)
        // Feature 0 (neuron 0's direction) is exactly orthogonal to every other: no neighbour; the others have 3.
        #expect(neighbours[UnitRef(.feature, 0)] == [])
        #expect([2, 5].allSatisfy { neighbours[UnitRef(.feature, $0)]?.count == 3 })
        var config = SelectionConfig()
        config.classifySilent = 4
        config.hardNegatives = 5
        let source = try UnitActivationSource(
            dataset: dataset, sae: sae, features: features, neurons: [], neighbours: neighbours, tokensPerBatch: 100)
        #expect(source.units == features.map { UnitRef(.feature, $0) } && source.rowCount > features.count)
        let selections = try ExampleSelector(config: config).select(from: source)
        let maxima = try Self.maxima(dataset, sae: sae, features: Array(0..<7), neurons: [])
        var total = 0
        for selection in selections {
            total += Self.expectHardNegatives(
                selection.examples, unit: selection.unit, neighbours: neighbours[selection.unit] ?? [], maxima: maxima, wanted: 5)
        }
        #expect(total > 0, "no hard negative at all: the test checks nothing")
        // Every other subset is exactly what selection without hard negatives picks.
        config.hardNegatives = 0
        let plain = try ExampleSelectorTests.select(dataset, sae: sae, features: features, neurons: [], config: config)
        for (a, b) in zip(plain, selections) {
            #expect(a.statistics == b.statistics)
            #expect(a.examples == b.examples.filter { $0.subset != .hard })
        }
    }

    /// A dataset whose "neurons" are the synthetic SAE's features (sparse, exactly 0 off their
    /// concept), so neurons have silent contexts and co-fire where concepts meet ("the cat").
    static func sparseNeuronDataset(_ dir: TemporaryDirectory) throws -> ActivationDataset {
        let (contexts, length, width) = (60, 10, 9)
        let (tokens, mask, dense) = SyntheticDataset.generate(contexts: contexts, length: length, width: width, seed: 4)
        let sae = SyntheticDataset.sae(width: width, seed: 4)
        let features = SyntheticDataset.concepts.count
        var sparse = [Float](repeating: 0, count: contexts * length * features)
        for t in 0..<(contexts * length) {
            for f in 0..<features {
                var pre = sae.encoderBias[f]
                for n in 0..<width { pre += (dense[t * width + n] - sae.decoderBias[n]) * sae.encoderWeights[n * features + f] }
                sparse[t * features + f] = max(0, pre)
            }
        }
        let url = dir.path("sparse.safetensors")
        let writer = try DatasetWriter(
            url: url, contextLength: length, width: features, tokens: tokens, mask: mask, vocabulary: SyntheticDataset.vocabulary,
            metadata: ["special_token_ids": "[0,1,2]"])
        try writer.append(sparse)
        try writer.finish()
        return try ActivationDataset(url: url)
    }

    @Test func neuronHardNegativesComeFromCoFiringNeurons() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let dataset = try Self.sparseNeuronDataset(dir)
        let neurons = Array(0..<dataset.width)
        let neighbours = try UnitNeighbours.neurons(neurons, dataset: dataset, k: 3)
        #expect(neighbours.values.allSatisfy { !$0.isEmpty && $0.count <= 3 && $0.allSatisfy { $0.kind == .neuron } })
        var config = SelectionConfig()
        config.classifySilent = 3
        config.hardNegatives = 4
        let source = try UnitActivationSource(
            dataset: dataset, sae: nil, features: [], neurons: neurons, neighbours: neighbours, tokensPerBatch: 100)
        let selections = try ExampleSelector(config: config).select(from: source)
        let maxima = try Self.maxima(dataset, sae: nil, features: [], neurons: neurons)
        var total = 0
        for selection in selections {
            total += Self.expectHardNegatives(
                selection.examples, unit: selection.unit, neighbours: neighbours[selection.unit] ?? [], maxima: maxima, wanted: 4)
        }
        #expect(total > 0, "no hard negative at all: the test checks nothing")
    }

    static func storedRows(_ store: RunStore, run name: String) throws -> [String] {
        try ChunkedSelectionTests.rows(store, run: name)
    }

    @Test func setupStoresThemFromAnSAEFolderInChunksAndFromALatentCache() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let (datasetURL, saeURL) = try ScriptedRun.writeDataset(in: dir, contexts: 60)
        var selection = ScriptedRun.smallSelection
        selection.classifySilent = 4
        selection.hardNegatives = 6
        func request(_ name: String, sae: URL?, latents: URL? = nil, budget: Int = 1 << 30) -> RunSetup.Request {
            var request = RunSetup.Request(
                name: name, resultsFolder: dir.path("results"), activations: datasetURL, sae: sae, features: .indices([0, 1, 4]),
                neurons: .indices([0]), selection: selection)
            request.latents = latents
            request.selectionMemoryBudget = budget
            return request
        }
        let logger = Logger(label: "test.hard")
        let whole = try RunSetup(logger: logger).prepare(request("whole", sae: saeURL))
        let dataset = try ActivationDataset(url: datasetURL)
        let sae = try SparseAutoencoder(folder: saeURL)
        let maxima = try Self.maxima(dataset, sae: sae, features: Array(0..<7), neurons: Array(0..<dataset.width))
        let featureNeighbours = try UnitNeighbours.features([0, 1, 4], sae: sae)
        let neuronNeighbours = try UnitNeighbours.neurons([0], dataset: dataset)
        var total = 0
        for unit in try whole.store.units(runID: whole.run.id) {
            let near = (unit.unit.kind == .feature ? featureNeighbours : neuronNeighbours)[unit.unit] ?? []
            total += Self.expectHardNegatives(
                try whole.store.examples(unitID: unit.id), unit: unit.unit, neighbours: near, maxima: maxima, wanted: 6)
        }
        #expect(total > 0)
        // The progress view counts them; detection reads them only when asked.
        let progress = try whole.store.progress(runID: whole.run.id)
        #expect(progress.contains { $0.hardNegatives > 0 })
        for unit in progress {
            let all = try whole.store.classificationExamples(unitID: unit.unit.id, hard: true)
            #expect(all.count == unit.classifyExamples && all.count { $0.record.subset == .hard } == unit.hardNegatives)
            #expect(try whole.store.classificationExamples(unitID: unit.unit.id).allSatisfy { $0.record.subset != .hard })
            let order: [ExampleSubset: Int] = [.activating: 0, .silent: 1, .hard: 2]
            let ranks = all.map { order[$0.record.subset] ?? 3 }
            #expect(ranks == ranks.sorted())
        }

        // In chunks of one unit (the features encoded once, with their neighbours): the same rows.
        let perUnit = ChunkedSelection.bytesPerUnit(config: selection, dataset: dataset, tokensPerBatch: 4096)
        let chunked = try RunSetup(logger: logger).prepare(request("chunked", sae: saeURL, budget: perUnit))
        #expect(chunked.selectionChunks == 4)
        #expect(try Self.storedRows(chunked.store, run: "chunked") == Self.storedRows(whole.store, run: "whole"))

        // From a latent cache (no decoder): co-firing neighbours, each hard negative still a silent context where one fires.
        let csr = dir.path("latents.safetensors")
        _ = try DatasetEncoder(tokensPerBatch: 100).encode(dataset: dataset, sae: sae, output: csr)
        let cached = try RunSetup(logger: logger).prepare(request("cached", sae: nil, latents: csr))
        let cache = try LatentCache(url: csr)
        let cacheNeighbours = try UnitNeighbours.latents([0, 1, 4], cache: cache, dataset: dataset)
        total = 0
        for unit in try cached.store.units(runID: cached.run.id) where unit.unit.kind == .feature {
            total += Self.expectHardNegatives(
                try cached.store.examples(unitID: unit.id), unit: unit.unit, neighbours: cacheNeighbours[unit.unit] ?? [], maxima: maxima,
                wanted: 6)
        }
        #expect(total > 0)
    }

    // MARK: Reports

    /// Scores by "metric/subset" (nil value = stored undefined).
    struct Scores: ScoreSource {
        var values: [String: Double?]
        func value(_ metric: StoredScore.Metric, _ subset: StoredScore.Subset) -> Double?? {
            values["\(metric.rawValue)/\(subset.rawValue)"]
        }
    }

    @Test func theHardSectionsCarryTheMedianDropFromRandomNegatives() {
        func unit(all: Double??, hard: Double??) -> (own: (any ScoreSource)?, control: (any ScoreSource)?) {
            var values: [String: Double?] = [:]
            if let all { values["detection_balanced_accuracy/all"] = all }
            if let hard { values["detection_balanced_accuracy/hard"] = hard }
            return (Scores(values: values), nil)
        }
        // Drops 0.2, 0, 0.5 where both are defined; an undefined hard score and a unit without one do not count.
        let units = [
            unit(all: 0.9, hard: 0.7), unit(all: 0.8, hard: 0.8), unit(all: 1.0, hard: 0.5), unit(all: 0.9, hard: .some(nil)),
            unit(all: 0.6, hard: nil),
        ]
        let column = ScorerColumn(DetectionStage.hardScorer, units: units, control: false)
        #expect(column.stored == 4 && column.defined == 3)
        #expect(column.baselinePairs == 3 && abs((column.baselineDrop ?? 0) - 0.2) < 1e-12 && column.baselineDropCI != nil)
        // The random-negative section has no baseline: no drop.
        let plain = ScorerColumn(DetectionStage.scorer, units: units, control: false)
        #expect(plain.baselinePairs == nil && plain.baselineDrop == nil && plain.stored == 5)
        #expect(DetectionStage.descriptor.scorers.map(\.name) == ["detection", "detection_hard"])
        #expect(FuzzingStage.descriptor.scorers.map(\.name) == ["fuzzing", "fuzzing_hard"])
    }

    // MARK: Store

    @Test func theRebuiltExamplesTableKeepsItsIndexesAndTakesHardRows() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let (datasetURL, saeURL) = try ScriptedRun.writeDataset(in: dir, contexts: 40)
        let setup = try RunSetup(logger: Logger(label: "test.hard")).prepare(
            RunSetup.Request(
                name: "m", resultsFolder: dir.path("results"), activations: datasetURL, sae: saeURL, features: .indices([0]),
                neurons: .indices([])))
        let store = setup.store
        let unit = try #require(try store.units(runID: setup.run.id).first)
        let explanation = try store.addExplanation(unitID: unit.id, explainer: "test", model: "m", text: "animal words")
        let examples = try store.classificationExamples(unitID: unit.id)
        let rows = examples.map {
            StoredClassification(
                exampleID: $0.id, label: $0.record.subset == .activating ? 1 : 0, outcome: .answered(predicted: 1, probability: 0.9))
        }
        try store.saveClassifications(
            explanationID: explanation.id, scorer: .detection, rows, scores: ClassificationMetrics.scores(.detection, from: rows))
        let before = try store.classifications(explanationID: explanation.id, scorer: .detection)
        #expect(before.count == examples.count && !before.isEmpty)
        // After the rebuilds of `examples` (v12 here, v13 after it; a v11 run with rows through both
        // is ExampleStorageTests'), nothing that references an example is lost.
        #expect(try store.classifications(explanationID: explanation.id, scorer: .detection) == before)
        #expect(try store.classificationExamples(unitID: unit.id).map(\.id) == examples.map(\.id))
        #expect(try store.database.query("PRAGMA foreign_key_check").isEmpty)
        let indexes = Set(try store.database.query("SELECT name FROM sqlite_master WHERE type = 'index'").compactMap { $0.string("name") })
        #expect(indexes.isSuperset(of: ["examples_by_unit", "classifications_by_example", "embedding_similarities_by_example"]))
        // A hard example is accepted now.
        var hard = examples[0].record
        hard.subset = .hard
        hard.bin = 3
        _ = try store.saveUnit(
            runID: setup.run.id,
            statistics: UnitStatistics(
                unit: UnitRef(.feature, 6), maxActivation: 1, density: 0.1, tokenCount: 10,
                histogram: ActivationHistogram(max: 1, counts: [1], zeroCount: 0)), examples: [hard])
    }
}
