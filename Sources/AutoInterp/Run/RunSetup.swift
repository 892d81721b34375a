import AutoInterpLLM
public import Foundation
public import Logging

/// Creates (or resumes) a run: resolves the unit specs, selects examples and stores every unit.
///
/// The database is `<results>/<name>/autointerp.sqlite`. Each unit is saved in its own
/// transaction; units already stored by an earlier, interrupted invocation of the same config
/// are left as they are, so running the same command again finishes the job.
public struct RunSetup {
    /// Inputs of a preparation, as the CLI gathers them.
    public struct Request: Sendable {
        public var name: String
        public var resultsFolder: URL
        public var activations: URL
        public var vocab: URL?
        public var sae: URL?
        /// A sparse latent cache (`encode` CSR or delphi's layout) the features are read from
        /// instead of an SAE. When `activations` is the same URL, the tokens come from the cache.
        public var latents: URL?
        /// How to read `sae` (format, hookpoint, layer, k); detected from its files by default.
        public var saeOptions = SAELoadOptions()
        public var features: UnitSpec
        public var neurons: UnitSpec
        /// Which side of each neuron is studied (`--neuron-sign`): positive (the default), negative
        /// (its activations negated, ``UnitKind/negativeNeuron``) or both (two units per neuron).
        public var neuronSign: NeuronSign = .positive
        public var selection: SelectionConfig
        /// Replace an existing run of the same name whose config differs.
        public var forceNew: Bool
        /// Bytes of per-unit selection state one chunk of units may hold (see `ChunkedSelection`);
        /// not part of the run config (it changes no result).
        public var selectionMemoryBudget = 1 << 30
        /// The stage settings of `autointerp run`; nil for `select`, which leaves a stored
        /// pipeline config alone.
        public var pipeline: PipelineConfig?
        /// One slice of the units (`--shard k/N`); nil = all of them.
        public var shard: RunShard?

        public init(
            name: String, resultsFolder: URL, activations: URL, vocab: URL? = nil, sae: URL? = nil, features: UnitSpec, neurons: UnitSpec,
            selection: SelectionConfig = SelectionConfig(), forceNew: Bool = false, pipeline: PipelineConfig? = nil
        ) {
            self.pipeline = pipeline
            self.name = name
            self.resultsFolder = resultsFolder
            self.activations = activations
            self.vocab = vocab
            self.sae = sae
            self.features = features
            self.neurons = neurons
            self.selection = selection
            self.forceNew = forceNew
        }

        /// `<results>/<name>/autointerp.sqlite`, or a shard's `<results>/<name>/shards/<k>-of-<N>/autointerp.sqlite`.
        public var databaseURL: URL {
            var folder = resultsFolder.appendingPathComponent(name, isDirectory: true)
            if let shard { folder = folder.appendingPathComponent("shards", isDirectory: true).appendingPathComponent(shard.folderName) }
            return folder.appendingPathComponent("autointerp.sqlite")
        }
    }

    /// What a preparation did.
    public struct Outcome: Sendable {
        public var run: RunInfo
        public var store: RunStore
        /// Units stored by this invocation, and units found already stored.
        public var stored: Int
        public var alreadyStored: Int
        /// Units that never fire on any selectable token (stored, but with no examples to explain).
        public var dead: [UnitRef]
        /// Chunks the selection ran in (0 when every unit was already stored), and the estimated
        /// bytes of selection state one chunk holds (features × kept examples, not tokens).
        public var selectionChunks = 0
        public var selectionBytes = 0
        /// What the SAE's files say about its inputs that the dataset's metadata contradicts (hook, model, BOS),
        /// one line each, also logged as warnings.
        public var warnings: [String] = []
    }

    public var logger: Logger
    /// Called after each batch of selection with tokens done, tokens/s and the ETA.
    public var selectionProgress: (@Sendable (SelectionProgress) -> Void)?

    public init(logger: Logger, selectionProgress: (@Sendable (SelectionProgress) -> Void)? = nil) {
        self.logger = logger
        self.selectionProgress = selectionProgress
    }

    /// Runs the preparation.
    ///
    /// - Parameter progress: called with (steps done, total steps) during selection.
    /// - Throws: `AutoInterpError` for bad inputs, a changed config without `forceNew`, or storage failures.
    public func prepare(_ request: Request, progress: ((Int, Int) -> Void)? = nil) throws -> Outcome {
        guard !request.name.isEmpty, !request.name.contains("/"), request.name != ".", request.name != ".." else {
            throw AutoInterpError.invalidInput("run name '\(request.name)' must be a plain folder name (no '/')")
        }
        try request.validate()
        let latents = try request.latents.map { try LatentCache(url: $0.standardizedFileURL) }
        if latents != nil, request.sae != nil {
            throw AutoInterpError.invalidInput("\(Setting.latents) replaces \(Setting.sae) (the features are read from the cache): give one of them")
        }
        let dataset: ActivationDataset
        if let latents, request.activations.standardizedFileURL == latents.url {
            dataset = try latents.tokenDataset(vocabURL: request.vocab?.standardizedFileURL)
        } else {
            dataset = try ActivationDataset(
                url: request.activations.standardizedFileURL, vocabURL: request.vocab?.standardizedFileURL, dense: latents == nil ? .required : .optional)
        }
        try latents?.checkCompatible(with: dataset)
        let seed = request.selection.seed
        if !request.neurons.isNone, !dataset.hasActivations {
            throw AutoInterpError.invalidInput(
                "neurons need dense activations, but \(dataset.url.path) holds only tokens: pass the dataset with \(Setting.activations), or \(Setting.neurons) none")
        }
        if request.neuronSign != .positive, request.neurons.isNone {
            throw AutoInterpError.invalidOption(
                .neuronSign,
                "\(request.neuronSign.rawValue) applies to neurons only (features are non-negative); "
                    + "give \(Setting.neurons) too, e.g. \(Setting.neurons) 0-99")
        }
        // Only the studied features' encoder columns are read (all of them for a TopK SAE), never
        // the decoder; a shard reads only its slice's columns.
        let neuronIndices = try request.neurons.resolve(count: dataset.width, kind: .neuron, seed: seed)
        // Each studied neuron is one unit per side asked for (the negative side: its activations negated).
        var neurons = request.neuronSign.kinds.flatMap { kind in neuronIndices.map { UnitRef(kind, $0) } }
        var resolved: [Int] = []
        var plan: [UnitRef] = []
        let featureSpec = request.features
        let shard = request.shard
        let plannedNeurons = neurons
        let hard = request.selection.hardNegatives > 0
        let pick: (Int) throws -> [Int] = { dSAE in
            resolved = try featureSpec.resolve(count: dSAE, kind: .feature, seed: seed)
            if let shard {
                plan = resolved.map { UnitRef(.feature, $0) } + plannedNeurons
                resolved = shard.slice(of: plan).filter { $0.kind == .feature }.map(\.index)
            }
            return resolved
        }
        var sae = try request.sae.map {
            try SparseAutoencoder.load(path: $0.standardizedFileURL, options: request.saeOptions, scope: .features(pick, logger: logger))
        }
        var features: [Int]
        if let latents {
            features = try featureSpec.resolve(count: latents.featureCount, kind: .feature, seed: seed)
        } else if sae != nil {
            features = resolved
        } else {
            guard request.features.isNone else {
                throw AutoInterpError.invalidInput("features were requested but no SAE was given (pass \(Setting.sae) DIR or \(Setting.features) none)")
            }
            features = []
        }
        try sae?.checkCompatible(with: dataset, saePath: request.sae?.path)
        let warnings = sae?.provenanceWarnings(with: dataset, saePath: request.sae?.path) ?? []
        for line in warnings { logger.warning("\(line)") }
        if let shard {
            // The plan is every unit; this shard keeps its contiguous slice (features from an SAE were sliced while reading it).
            if sae == nil {
                plan = features.map { UnitRef(.feature, $0) } + neurons
                features = shard.slice(of: plan).filter { $0.kind == .feature }.map(\.index)
            }
            neurons = shard.slice(of: plan).filter(\.kind.isNeuron)
            guard !plan.isEmpty else {
                throw AutoInterpError.invalidInput("no units to study: give \(Setting.features) and/or \(Setting.neurons) (e.g. \(Setting.neurons) 0-99)")
            }
            if features.isEmpty && neurons.isEmpty {
                logger.notice("shard \(shard) of \(plan.count) units is empty: nothing to do")
            }
        } else {
            guard !(features.isEmpty && neurons.isEmpty) else {
                throw AutoInterpError.invalidInput("no units to study: give \(Setting.features) and/or \(Setting.neurons) (e.g. \(Setting.neurons) 0-99)")
            }
        }
        var config = RunConfig(
            activations: dataset.url.path, vocab: dataset.vocabURL.standardizedFileURL.path, sae: request.sae?.standardizedFileURL.path,
            featureSpec: request.features.description, neuronSpec: request.neurons.description, features: features, neurons: [],
            selection: request.selection, pipeline: request.pipeline)
        if request.neuronSign != .positive { config.neuronSign = request.neuronSign }
        config.setUnits(features.map { UnitRef(.feature, $0) } + neurons)
        config.saeSource = sae?.source
        config.dataset = DatasetDescription(metadata: dataset.metadata)
        config.latents = latents?.url.path
        let configJSON = try config.canonicalJSON()

        try RunLock.acquire(runFolder: request.databaseURL.deletingLastPathComponent(), name: request.name)
        if let shard { try ShardPlan(shard: shard, plan: plan).write(into: request.databaseURL.deletingLastPathComponent()) }
        let store = try RunStore(url: request.databaseURL)
        var run: RunInfo
        if let existing = try store.run(named: request.name) {
            switch try Self.compare(stored: existing.configJSON, wanted: config) {
            case .same:
                run = existing
            case .addsPipeline:
                // A run made by `select` gains its pipeline settings on the first `run`.
                run = try store.updateConfig(runID: existing.id, configJSON: configJSON)
            case .differs(let what):
                guard request.forceNew else {
                    throw AutoInterpError.invalidInput(
                        "run '\(request.name)' in \(store.path) was made with a different config (\(what)); rerun with the same options to resume, pick another \(Setting.name), or pass \(Setting.forceNew) to replace it"
                    )
                }
                try store.deleteRun(id: existing.id)
                run = try store.createRun(name: request.name, configJSON: configJSON)
            }
        } else {
            run = try store.createRun(name: request.name, configJSON: configJSON)
        }

        let done = Set(try store.units(runID: run.id).map(\.unit))
        let wanted = features.map { UnitRef(.feature, $0) } + neurons
        let todo = wanted.filter { !done.contains($0) }
        logger.info("run \(request.name): \(wanted.count) units, \(done.count) already stored")
        var dead: [UnitRef] = []
        var chunks = 0
        var neighbours: [UnitRef: [UnitRef]] = [:]
        if hard, !todo.isEmpty {
            (neighbours, sae) = try Self.neighbours(of: todo, request: request, sae: sae, latents: latents, dataset: dataset)
        }
        let selector = ChunkedSelection(config: request.selection, memoryBudget: request.selectionMemoryBudget)
        let perUnit = ChunkedSelection.bytesPerUnit(config: request.selection, dataset: dataset, tokensPerBatch: selector.tokensPerBatch)
        if !todo.isEmpty {
            // Chunk by chunk, units stored as they are made, 64 to a transaction: a killed run resumes at the first
            // unstored unit's chunk. The transactions run on a thread of their own while selection goes on (at most two
            // groups waiting), so storing overlaps making the next units' examples.
            var pending: [(statistics: UnitStatistics, examples: [ExampleRecord])] = []
            let writer = SerialWorker(label: "autointerp.select.store")
            let runID = run.id
            func flush() throws {
                guard !pending.isEmpty else { return }
                let units = pending
                pending = []
                try writer.submit { _ = try store.saveUnits(runID: runID, units) }
            }
            defer { try? writer.finish() }
            chunks = try selector.run(
                dataset: dataset, sae: sae, latents: latents, units: todo, neighbours: neighbours,
                scratchFolder: request.databaseURL.deletingLastPathComponent(),
                progress: { report in
                    progress?(report.tokensDone, report.tokensTotal)
                    selectionProgress?(report)
                }, chunkDone: flush
            ) { selection in
                pending.append((selection.statistics, selection.examples))
                if pending.count >= 64 { try flush() }
                if selection.statistics.maxActivation <= 0 { dead.append(selection.unit) }
            }
            try flush()
            try writer.finish()
            try store.setStatus(runID: run.id, .selected)
            run = try store.run(id: run.id) ?? run
        }
        let chunkUnits = min(todo.count, max(1, request.selectionMemoryBudget / max(perUnit, 1)))
        return Outcome(
            run: run, store: store, stored: todo.count, alreadyStored: done.count, dead: dead, selectionChunks: chunks,
            selectionBytes: chunkUnits * perUnit, warnings: warnings)
    }

    /// The hard negatives' neighbours of the units to select (``UnitNeighbours``: features by
    /// decoder cosine, or by co-firing in a latent cache; neurons by co-firing, a negative side by
    /// co-firing below 0), and the SAE to select with: read again for the studied features' and
    /// their neighbours' encoder columns.
    static func neighbours(
        of units: [UnitRef], request: Request, sae: SparseAutoencoder?, latents: LatentCache?, dataset: ActivationDataset
    ) throws -> ([UnitRef: [UnitRef]], SparseAutoencoder?) {
        let features = units.filter { $0.kind == .feature }.map(\.index)
        var found = try UnitNeighbours.neurons(
            units.filter { $0.kind == .neuron }.map(\.index), negative: units.filter { $0.kind == .negativeNeuron }.map(\.index),
            dataset: dataset)
        var selecting = sae
        if let model = sae, !features.isEmpty, let url = request.sae?.standardizedFileURL {
            // An SAELens folder's W_dec is read in blocks from the mapped file; another format reads its decoder once.
            if model.source?.format == .saelens,
                let streamed = try UnitNeighbours.features(features, saeLensFolder: url, dSAE: model.dSAE, dIn: model.dIn)
            {
                found.merge(streamed) { a, _ in a }
            } else {
                let full = try model.hasDecoder
                    ? model : SparseAutoencoder.load(path: url, options: request.saeOptions, scope: .featuresWithDecoder { _ in features })
                found.merge(try UnitNeighbours.features(features, sae: full)) { a, _ in a }
            }
            let extra = Set(found.values.joined().filter { $0.kind == .feature }.map(\.index)).subtracting(features).sorted()
            let wanted = features + extra
            selecting = try SparseAutoencoder.load(path: url, options: request.saeOptions, scope: .features { _ in wanted })
        } else if let latents, !features.isEmpty {
            found.merge(try UnitNeighbours.latents(features, cache: latents, dataset: dataset)) { a, _ in a }
        }
        return (found, selecting)
    }

    /// How a wanted config relates to the one stored with a run.
    enum Comparison: Equatable {
        case same
        /// Equal selection; the stored config has no pipeline settings yet.
        case addsPipeline
        /// Something that changes results differs; the text names what.
        case differs(String)
    }

    /// Compares configs: the selection part must match exactly; pipeline settings are compared
    /// only when both sides have them (`select` leaves them out).
    static func compare(stored json: String, wanted: RunConfig) throws -> Comparison {
        guard let stored = try? RunConfig.decode(json) else { return .differs("the stored config is unreadable") }
        var storedSelection = stored, wantedSelection = wanted
        storedSelection.pipeline = nil
        wantedSelection.pipeline = nil
        // Runs made before the SAE source, the dataset description or its corpus was recorded
        // resume as they are.
        if stored.saeSource == nil { wantedSelection.saeSource = nil }
        if stored.dataset == nil { wantedSelection.dataset = nil }
        if stored.dataset?.texts == nil { wantedSelection.dataset?.texts = nil }
        if stored.dataset?.textsSHA256 == nil { wantedSelection.dataset?.textsSHA256 = nil }
        let changed = try wantedSelection.differences(from: storedSelection)
        if !changed.isEmpty {
            return .differs("inputs, units or selection options: " + changed.map(JSONFields.words).joined(separator: ", "))
        }
        switch (stored.pipeline, wanted.pipeline) {
        case (_, nil): return .same
        case (nil, _?): return .addsPipeline
        case (let old?, let new?):
            let changed = new.describedDifferences(from: old)
            guard changed.isEmpty else { return .differs(changed.joined(separator: ", ")) }
            // A run made without an embedding model records the one it gains (another is then a change).
            return old.embedder == nil && new.embedder != nil ? .addsPipeline : .same
        }
    }
}
