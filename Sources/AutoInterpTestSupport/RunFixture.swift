package import AutoInterp
import AutoInterpLLM
package import Foundation

/// Generates a realistic run through the ``RunStore`` API, for report tests and timing checks.
///
/// Every unit gets statistics, explanation and score examples, an explanation, simulations
/// (some failed), Spearman and Pearson scores computed from those simulations (some undefined,
/// never 0), rubric ratings across every activation bin, and LLM calls. Features are cleaner
/// than neurons: their simulations are less noisy and their rubric ratings higher. Tokens and
/// explanations include HTML-special characters (`<script>`, `&`, quotes) and non-ASCII text.
/// The same options and seed give the same run.
package enum RunFixture {
    // MARK: - Options

    /// What to generate.
    package struct Options: Sendable {
        package var features = 12
        package var neurons = 12
        package var seed: UInt64 = 1
        /// Tokens per example context.
        package var contextLength = 24
        /// `explain`/`top` examples per unit.
        package var explainTop = 5
        /// `score`/`top` and `score`/`random` examples per unit.
        package var scoreTop = 3
        package var scoreRandom = 3
        /// Equal-width activation bins; rubric bins are 0 (non-activating) … `bins`.
        package var bins = 10
        /// Rubric ratings per bin.
        package var ratingsPerBin = 2
        package var explainer = "llm"
        package var model = "test-model"
        /// Simulation noise (in activation levels) for features and neurons.
        package var featureNoise = 1.5
        package var neuronNoise = 5.0
        /// Every n-th unit predicts a constant, so its scores are undefined (0 = never).
        package var undefinedEvery = 7
        /// Share of simulations that fail.
        package var failureRate = 0.08
        /// A second explanation per unit by this explainer (written first, so the main one is latest).
        package var secondExplainer: String?
        /// The run's prices (run state), nil for none.
        package var prices: StoredPrices?
        /// What the dataset says it is (model, layer, hook), recorded in the run config.
        package var dataset: DatasetDescription?
        /// Whether to log LLM calls.
        package var llmCalls = true

        package init() {}
    }

    /// What was written, for tests to check reports against.
    package struct Generated: Sendable {
        package var run: RunInfo
        /// Per unit, in (kind, index) order.
        package var units: [ExpectedUnit]
        /// Sum of `prompt_tokens` and `completion_tokens` over the calls written.
        package var promptTokens: Int
        package var completionTokens: Int
        package var failedSimulations: Int
    }

    /// One generated unit and its main (latest) explanation.
    package struct ExpectedUnit: Sendable {
        package var unit: UnitRef
        package var unitID: Int64
        package var explanationID: Int64
        package var text: String
        /// Spearman on subset `all`, nil when undefined.
        package var spearman: Double?
        package var undefinedReason: String?
        /// Rubric counts `[bin][rating]`, bins 0 … `bins`.
        package var rubric: [[Int]]
        package var failedSimulations: Int
    }

    // MARK: - Vocabulary

    /// Concepts: a name, an explanation and the tokens that fire.
    static let concepts: [(name: String, explanation: String, tokens: [String])] = [
        ("animals", "animal nouns such as \"cat\" & \"dog\"", [" cat", " dog", " owl", " fox", " whale"]),
        ("html", "HTML tags like <script> and </b>, & entities like &amp;", ["<script>", "</b>", "&amp;", "<div>", "&"]),
        ("numbers", "number words (one, two, 'seven')", [" one", " two", " seven", " ten", " 12"]),
        ("unicode", "non-ASCII text: café, 日本語, emoji 🙂", [" café", "日本", "語", "🙂", " naïve"]),
        ("quotes", "quotation marks \" and ' around speech, as in \"hi,\" she said", ["\"", "'", " “", "”", " «"]),
        ("code", "code punctuation: { } [ ] ; and ]]> in CDATA", ["{", "}", "];", "]]>", " =>"]),
    ]

    static let filler = [
        " the", " a", " of", " and", " in", ",", ".", " is", " was", " it", " to", " that", " on", " with",
        " he", " she", " they", " said", " time", " year", "\n", " \\", " <", ">",
    ]

    // MARK: - Generation

    /// Creates `<results>/<name>/autointerp.sqlite` and a run `name` in it.
    package static func create(in resultsFolder: URL, name: String, options: Options = Options()) throws -> (
        store: RunStore, generated: Generated
    ) {
        let store = try RunStore(url: resultsFolder.appendingPathComponent(name).appendingPathComponent("autointerp.sqlite"))
        return (store, try generate(into: store, name: name, options: options))
    }

    /// Writes a run named `name` into `store`, in one transaction.
    package static func generate(into store: RunStore, name: String, options: Options = Options()) throws -> Generated {
        // A real run config, as `select` writes it, for inputs that exist only in name.
        var selection = SelectionConfig()
        selection.seed = options.seed
        var config = RunConfig(
            activations: "/fixture/activations.safetensors", vocab: "/fixture/vocab.json", sae: options.features > 0 ? "/fixture/sae" : nil,
            featureSpec: options.features > 0 ? "0-\(options.features - 1)" : "none",
            neuronSpec: options.neurons > 0 ? "0-\(options.neurons - 1)" : "none", features: Array(0..<options.features),
            neurons: Array(0..<options.neurons), selection: selection)
        config.dataset = options.dataset
        let configJSON = try config.canonicalJSON()
        defer { if let run = try? store.run(named: name) { try? store.setPrices(runID: run.id, options.prices) } }
        return try store.database.transaction { _ in
            let run = try store.createRun(name: name, configJSON: configJSON)
            var generated = Generated(run: run, units: [], promptTokens: 0, completionTokens: 0, failedSimulations: 0)
            let units = (0..<options.features).map { UnitRef(.feature, $0) } + (0..<options.neurons).map { UnitRef(.neuron, $0) }
            for (ordinal, unit) in units.enumerated() {
                var rng = SeededGenerator(seed: options.seed, stream: UInt64(ordinal) &+ 1)
                let expected = try generateUnit(unit, ordinal: ordinal, run: run, store: store, options: options, rng: &rng, totals: &generated)
                generated.units.append(expected)
            }
            return generated
        }
    }

    // MARK: - One unit

    private static func generateUnit(
        _ unit: UnitRef, ordinal: Int, run: RunInfo, store: RunStore, options: Options, rng: inout SeededGenerator,
        totals: inout Generated
    ) throws -> ExpectedUnit {
        let concept = concepts[(unit.index + (unit.kind == .neuron ? 3 : 0)) % concepts.count]
        let second = concepts[(unit.index + 1) % concepts.count]
        let isFeature = unit.kind == .feature
        // Units differ in how well they can be explained: scale the simulation noise per unit.
        let difficulty = exp(rng.nextGaussian() * 0.8)
        let maxActivation = Float(Double.random(in: 1...12, using: &rng))

        /// One context: filler with some concept tokens; neurons also fire on a second concept and carry dense noise.
        func context(activating: Bool) -> (tokens: [String], acts: [Float]) {
            var tokens: [String] = []
            var acts: [Float] = []
            for _ in 0..<options.contextLength {
                let roll = Double.random(in: 0..<1, using: &rng)
                if activating && roll < 0.18 {
                    tokens.append(concept.tokens.randomElement(using: &rng)!)
                    acts.append(maxActivation * Float(Double.random(in: 0.25...1, using: &rng)))
                } else if !isFeature && roll < 0.28 {
                    tokens.append(second.tokens.randomElement(using: &rng)!)
                    acts.append(maxActivation * Float(Double.random(in: 0.1...0.6, using: &rng)))
                } else {
                    tokens.append(filler.randomElement(using: &rng)!)
                    acts.append(isFeature ? 0 : Float(rng.nextGaussian() * 0.05) * maxActivation)
                }
            }
            if activating, let peak = acts.indices.randomElement(using: &rng) {
                tokens[peak] = concept.tokens.randomElement(using: &rng)!
                acts[peak] = maxActivation * Float(Double.random(in: 0.8...1, using: &rng))
            }
            return (tokens, acts)
        }

        // Examples.
        var examples: [ExampleRecord] = []
        var contextIndex = ordinal * 1000
        func record(_ role: ExampleRole, _ subset: ExampleSubset, activating: Bool, bin: Int? = nil) -> ExampleRecord {
            let c = context(activating: activating)
            contextIndex += 1
            return ExampleRecord(
                role: role, subset: subset, context: contextIndex, bin: bin,
                tokenIDs: c.tokens.map { Int32($0.unicodeScalars.reduce(0) { ($1.value &+ $0 &* 31) & 0xFFFF }) }, tokens: c.tokens,
                activations: c.acts)
        }
        var explainTop = (0..<options.explainTop).map { _ in record(.explain, .top, activating: true) }
        explainTop.sort { $0.maxActivation > $1.maxActivation }
        examples += explainTop
        let scoreTop = (0..<options.scoreTop).map { _ in record(.score, .top, activating: true) }
        let scoreRandom = (0..<options.scoreRandom).map { _ in
            record(.score, .random, activating: Double.random(in: 0..<1, using: &rng) < 0.3)
        }
        examples += scoreTop + scoreRandom

        // Statistics: a geometric histogram over (0, max].
        var counts: [Int] = []
        var count = Double(Int.random(in: 200...3000, using: &rng))
        for _ in 0..<options.bins {
            counts.append(Int(count))
            count *= Double.random(in: 0.35...0.8, using: &rng)
        }
        let zeroCount = isFeature ? Int.random(in: 50_000...200_000, using: &rng) : Int.random(in: 5_000...30_000, using: &rng)
        let tokenCount = zeroCount + counts.reduce(0, +)
        let statistics = UnitStatistics(
            unit: unit, maxActivation: maxActivation, density: Double(tokenCount - zeroCount) / Double(tokenCount),
            tokenCount: tokenCount, histogram: ActivationHistogram(max: maxActivation, counts: counts, zeroCount: zeroCount))
        let unitID = try store.saveUnit(runID: run.id, statistics: statistics, examples: examples)

        // Explanations: an optional second explainer first, the main one last (so it is the latest).
        if let other = options.secondExplainer {
            let explanation = try store.addExplanation(
                unitID: unitID, explainer: other, model: "local", text: "tokens like \(concept.tokens[0])")
            try writeScores(
                explanationID: explanation.id, store: store, scoreTop: scoreTop, scoreRandom: scoreRandom,
                maxActivation: maxActivation, noise: isFeature ? options.featureNoise * 2 : options.neuronNoise,
                constant: false, failureRate: 0, rng: &rng)
        }
        let text = isFeature ? concept.explanation : "\(concept.explanation); also \(second.name)"
        let requestHash = String(format: "%016llx%016llx", rng.next(), rng.next())
        let explanation = try store.addExplanation(
            unitID: unitID, explainer: options.explainer, model: options.model, text: text,
            promptFile: "prompts/explain.txt", requestHash: requestHash)
        let constant = options.undefinedEvery > 0 && ordinal % options.undefinedEvery == options.undefinedEvery - 1
        let (spearman, failed) = try writeScores(
            explanationID: explanation.id, store: store, scoreTop: scoreTop, scoreRandom: scoreRandom,
            maxActivation: maxActivation, noise: difficulty * (isFeature ? options.featureNoise : options.neuronNoise),
            constant: constant, failureRate: options.failureRate, rng: &rng)
        totals.failedSimulations += failed

        // Rubric: higher bins earn higher ratings, features more so.
        var ratings: [StoredRubricRating] = []
        var rubric = [[Int]](repeating: [0, 0, 0, 0], count: options.bins + 1)
        for bin in 0...options.bins {
            for _ in 0..<options.ratingsPerBin {
                let level = Double(bin) / Double(options.bins)
                let mean = bin == 0 ? 0.2 : (isFeature ? 0.6 + 2.5 * level : 0.4 + 1.5 * level)
                let rating = Swift.min(3, Swift.max(0, Int((mean + rng.nextGaussian() * 0.7).rounded())))
                let c = context(activating: bin > 0)
                let activation = bin == 0 ? 0 : maxActivation * Float((Double(bin) - 0.5) / Double(options.bins))
                ratings.append(
                    StoredRubricRating(
                        recordIndex: ratings.count, bin: bin, activation: activation, rating: rating,
                        context: ordinal * 1000 + 500 + ratings.count, tokens: c.tokens, activations: c.acts,
                        judgeModel: options.model, reason: "rated \(rating): <b>\(concept.name)</b> & more"))
                rubric[bin][rating] += 1
            }
        }
        try store.saveRubricRatings(explanationID: explanation.id, ratings)

        // LLM calls: explain, one simulation call per score record, one judge call.
        if options.llmCalls {
            let calls = 2 + options.scoreTop + options.scoreRandom
            for call in 0..<calls {
                let prompt = Int.random(in: 300...1200, using: &rng)
                let completion = call == 0 ? Int.random(in: 20...80, using: &rng) : Int.random(in: 50...200, using: &rng)
                let failedCall = ordinal % 17 == 5 && call == 1
                try store.record(
                    LLMCallRecord(
                        requestHash: call == 0 ? requestHash : String(format: "%016llx", rng.next()),
                        endpoint: "http://127.0.0.1:8080/v1", model: options.model, statusCode: failedCall ? 500 : 200,
                        latencyMs: Double.random(in: 200...2000, using: &rng), promptTokens: failedCall ? nil : prompt,
                        completionTokens: failedCall ? nil : completion,
                        error: failedCall ? "HTTP 500: <html>internal error</html>" : nil, cached: call % 5 == 4,
                        attempts: failedCall ? 3 : 1))
                if !failedCall {
                    totals.promptTokens += prompt
                    totals.completionTokens += completion
                }
            }
        }

        return ExpectedUnit(
            unit: unit, unitID: unitID, explanationID: explanation.id, text: text, spearman: spearman.value,
            undefinedReason: spearman.undefinedReason, rubric: rubric, failedSimulations: failed)
    }

    /// Simulates the score records, stores the simulations and the six scores; returns Spearman/all and the failures.
    @discardableResult
    private static func writeScores(
        explanationID: Int64, store: RunStore, scoreTop: [ExampleRecord], scoreRandom: [ExampleRecord],
        maxActivation: Float, noise: Double, constant: Bool, failureRate: Double, rng: inout SeededGenerator
    ) throws -> (CorrelationResult, Int) {
        var simulations: [StoredSimulation] = []
        var failed = 0
        for (subset, records) in [(ExampleSubset.top, scoreTop), (.random, scoreRandom)] {
            for (index, record) in records.enumerated() {
                let outcome: StoredSimulation.Outcome
                if Double.random(in: 0..<1, using: &rng) < failureRate {
                    outcome = .failed(reason: "could not parse the simulator's answer: unexpected '<' in \"<script>\"")
                    failed += 1
                } else if constant {
                    outcome = .predicted(record.activations.map { _ in 0 })
                } else {
                    outcome = .predicted(
                        record.activations.map { x in
                            Swift.min(10, Swift.max(0, 10 * Double(x / maxActivation) + rng.nextGaussian() * noise))
                        })
                }
                simulations.append(
                    StoredSimulation(
                        subset: subset, recordIndex: index, tokens: record.tokens, trueActivations: record.activations,
                        outcome: outcome, mode: "json"))
            }
        }
        try store.saveSimulations(explanationID: explanationID, simulations)

        var scores: [StoredScore] = []
        var spearmanAll = CorrelationResult.undefined("no simulations", n: 0)
        for subset in StoredScore.Subset.allCases {
            let chosen = simulations.filter { subset == .all || $0.subset.rawValue == subset.rawValue }
            var truth: [Double] = []
            var predicted: [Double] = []
            for simulation in chosen {
                guard let values = simulation.predicted else { continue }
                truth += simulation.trueActivations.map(Double.init)
                predicted += values
            }
            for metric in StoredScore.Metric.allCases {
                let result = metric == .spearman ? Correlation.spearman(truth, predicted) : Correlation.pearson(truth, predicted)
                scores.append(
                    StoredScore(
                        metric: metric, subset: subset, value: result.value, undefinedReason: result.undefinedReason,
                        n: result.n))
                if metric == .spearman && subset == .all { spearmanAll = result }
            }
        }
        try store.saveScores(explanationID: explanationID, scores)
        return (spearmanAll, failed)
    }
}
