import ArgumentParser
import AutoInterp
import Foundation
import Logging

/// Options naming the inputs and units of a run, shared by `select` and `run`.
struct RunInputOptions: ParsableArguments {
    @Option(
        help: """
            Activation dataset: a .safetensors file with tokens and activations, or its shards as a folder, \
            a glob ('acts/part-*.safetensors') or a manifest (.json list of paths). With --latents it may hold only \
            tokens (and mask); a delphi cache needs none.
            """)
    var activations: String?

    @Option(help: "Sparse features instead of an SAE: an `encode` CSR file, or a delphi latent cache folder ({start}_{end}.safetensors).")
    var latents: String?

    @Option(help: "Token strings (JSON array); default vocab.json beside the dataset.")
    var vocab: String?

    @Option(help: "SAE folder or file for features: SAELens, Gemma Scope, sparsify, circuit-tracer or torch .pt (see README).")
    var sae: String?

    @OptionGroup var saeFormat: SAEFormatOptions

    @Option(help: "Features to study: 0-99, 3,7,10-12, random:200, all, none.")
    var features = "none"

    @Option(help: "Neurons to study (dataset columns): same forms as --features.")
    var neurons = "none"

    @Option(
        help: """
            Side of each neuron to study: positive (default), negative (its activations negated: where it fires most \
            negative, reported as 'neuron N (−)') or both (two units per neuron). Features are non-negative.
            """)
    var neuronSign = NeuronSign.positive.rawValue

    @Option(help: "Run name; the database is <results>/<name>/autointerp.sqlite.")
    var name: String

    @Option(help: "Folder holding runs.")
    var results = "results"

    @Option(help: "Seed for unit draws and example selection.")
    var seed: UInt64 = 0

    @Option(help: "Top contexts shown to the explainer per unit.")
    var explainTop = 10

    @Option(help: "Held-out top contexts scored per unit.")
    var scoreTop = 5

    @Option(help: "Random contexts scored per unit.")
    var scoreRandom = 10

    @Option(help: "Samples per activation bin (10 equal-width bins of (0, max]).")
    var perBin = 5

    @Option(help: "Non-activating contexts per unit.")
    var nonActivating = 5

    @Option(help: "Detection/fuzzing example sizes: small (2 per activation decile + 20 silent) or delphi (10 per decile + 100 silent, Paulo et al. 2025).")
    var classifyProtocol = ClassifyProtocol.small.rawValue

    @Option(help: "Activating contexts per activation decile for detection and fuzzing (default: from --classify-protocol; 0 for none).")
    var classifyPerDecile: Int?

    @Option(help: "Silent contexts (the unit never fires) for detection and fuzzing (default: from --classify-protocol).")
    var classifySilent: Int?

    @Option(
        help: """
            Hard negatives per unit for detection and fuzzing: silent contexts where one of the unit's 8 nearest units fires \
            (features: decoder cosine, or co-firing with --latents; neurons: co-firing). Scored on subset hard beside the \
            random silent ones (subset all); each adds one item per classification scorer. 0 (default) for none.
            """)
    var hardNegatives = 0

    @Flag(help: "Keep special tokens ([CLS], [SEP], …) in examples and statistics.")
    var includeSpecialTokens = false

    @Option(
        help: """
            Per-unit selection state (kept examples, histograms) one chunk of units may hold, in bytes with an optional \
            K, M or G suffix; more units are selected in several chunks, each stored before the next (a killed run resumes at \
            the first unstored chunk).
            """)
    var selectionMemory = "1G"

    @Flag(help: "Replace an existing run of this name whose config differs.")
    var forceNew = false

    @Option(help: "Study one contiguous slice of the (kind, index)-sorted units: k/N (0-based k), or N with --shard-index-env; writes <results>/<name>/shards/k-of-N/ and skips the controls (autointerp merge, then run without --shard).")
    var shard: String?

    @Option(help: "Environment variable holding the shard index k, e.g. SLURM_ARRAY_TASK_ID or JOB_COMPLETION_INDEX (then --shard N).")
    var shardIndexEnv: String?

    /// Parses a unit spec, naming the option in the error.
    static func spec(_ text: String, option: String) throws -> UnitSpec {
        do {
            return try UnitSpec(parsing: text)
        } catch let error as AutoInterpError {
            throw AutoInterpError.invalidInput("\(option): \(error.message)")
        }
    }

    /// `512M`, `64K`, `2G` or a plain byte count (powers of 1024).
    static func bytes(_ text: String, option: String) throws -> Int {
        let shifts: [Character: Int] = ["K": 10, "M": 20, "G": 30]
        let suffix = text.last.map { Character($0.uppercased()) }
        let shift = suffix.flatMap { shifts[$0] } ?? 0
        let digits = shift > 0 ? String(text.dropLast()) : text
        guard let value = Int(digits), value >= 1, value <= (1 << 40) >> shift else {
            throw AutoInterpError.invalidInput("\(option) '\(text)' is not a size: write e.g. 512M, 2G or 65536 (at most 1T)")
        }
        return value << shift
    }

    func request() throws -> RunSetup.Request {
        var selection = SelectionConfig()
        selection.seed = seed
        selection.explainTop = explainTop
        selection.scoreTop = scoreTop
        selection.scoreRandom = scoreRandom
        selection.quantilePerBin = perBin
        selection.nonActivating = nonActivating
        selection.includeSpecialTokens = includeSpecialTokens
        selection.apply(try ClassifyProtocol(parsing: classifyProtocol))
        if let classifyPerDecile { selection.classifyPerDecile = classifyPerDecile }
        if let classifySilent { selection.classifySilent = classifySilent }
        selection.hardNegatives = hardNegatives
        try selection.validate()
        guard let dataset = activations ?? latents else {
            throw AutoInterpError.invalidInput("--activations is required (or --latents with a delphi cache, whose splits hold the tokens)")
        }
        var request = RunSetup.Request(
            name: name, resultsFolder: URL(fileURLWithPath: results), activations: URL(fileURLWithPath: dataset),
            vocab: vocab.map { URL(fileURLWithPath: $0) }, sae: sae.map { URL(fileURLWithPath: $0) },
            features: try Self.spec(features, option: "--features"), neurons: try Self.spec(neurons, option: "--neurons"),
            selection: selection, forceNew: forceNew)
        request.saeOptions = saeFormat.options
        request.neuronSign = try NeuronSign(parsing: neuronSign)
        if let shard {
            request.shard = try RunShard.parse(shard, indexVariable: shardIndexEnv, environment: ProcessInfo.processInfo.environment)
        } else if shardIndexEnv != nil {
            throw AutoInterpError.invalidInput("--shard-index-env needs --shard N (the shard count)")
        }
        request.latents = latents.map { URL(fileURLWithPath: $0) }
        request.selectionMemoryBudget = try Self.bytes(selectionMemory, option: "--selection-memory")
        return request
    }
}

struct SelectCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "select",
        abstract: "Create a run: compute unit statistics and pick explanation and scoring examples.",
        discussion: "Running the same command again resumes an interrupted run; a changed config is refused unless --force-new."
    )

    @OptionGroup var inputs: RunInputOptions

    @Flag(help: "No progress bar.")
    var quiet = false

    func run() async throws {
        try await reportingErrors {
            let request = try inputs.request()
            let progress = ProgressBarObserver(enabled: !quiet)
            let outcome = try RunSetup(logger: Logger(label: "autointerp.select")).prepare(request) { progress.selecting(done: $0, total: $1) }
            progress.finish()
            let units = try outcome.store.units(runID: outcome.run.id)
            let kinds = Dictionary(grouping: units, by: \.unit.kind).mapValues(\.count)
            let negatives = kinds[.negativeNeuron].map { ", \($0) negative-side neurons" } ?? ""
            let counts = "\(kinds[.feature] ?? 0) features, \(kinds[.neuron] ?? 0) neurons\(negatives)"
            print("run '\(outcome.run.name)': \(units.count) units (\(counts)) in \(outcome.store.path)")
            print("stored now: \(outcome.stored), already stored: \(outcome.alreadyStored), never firing: \(outcome.dead.count)")
            if outcome.selectionChunks > 0 {
                print(
                    "selection: \(outcome.selectionChunks) chunk(s), about \(formatBytes(outcome.selectionBytes)) of unit state per chunk, peak memory \(formatBytes(peakResidentBytes()))")
            }
        }
    }
}
