import Foundation

/// What a report shows and how.
public struct ReportOptions: Sendable, Equatable {
    /// The explainer whose explanations are scored; nil picks the one with the most explanations
    /// in the run (ties: the one that wrote the latest explanation).
    public var explainer: String?
    /// Thresholds for the "share of units scoring above" rows.
    public var thresholds: [Double] = [0.25, 0.5, 0.75]
    /// Top examples per unit card.
    public var examplesPerUnit = 5
    /// Tokens kept per example, around its peak (longer records are cut, marked `…`).
    public var exampleWindow = 32
    /// Bins of the score histogram over [-1, 1].
    public var histogramBins = 20
    /// Units per page of the HTML index.
    public var pageSize = 50
    /// Units listed best and worst per kind in the Markdown report.
    public var markdownUnits = 10
    /// The scorers the report knows (sections, unit columns, the agreement matrix): those of
    /// the built-in stages by default; a run with extra stages passes its catalogue's.
    public var scorers: [ReportScorer] = StageCatalog.builtIn.scorers

    public init() {}
}

/// Everything a report shows about one run, read once from its database.
///
/// A unit's *score* is the Spearman correlation on subset `all` of its *report explanation*:
/// the latest (highest id) explanation by the chosen explainer (``ReportOptions/explainer``).
/// The latest rather than the best, because picking the best of several explanations would
/// inflate the scores. Undefined scores are counted, never treated as 0.
public struct RunReport: Sendable {
    public var run: RunInfo
    /// The database file.
    public var databasePath: String
    public var options: ReportOptions
    /// The explainer whose explanations are reported (nil when the run has none yet).
    public var explainer: String?
    /// Explanations per explainer in this run.
    public var explainerCounts: [String: Int]
    /// Names of the other runs in the same database.
    public var otherRuns: [String]
    /// Every unit of the run, by kind then index.
    public var units: [UnitReport]
    /// The database's LLM call log by model (shared by all runs in the database).
    public var usage: [ModelUsage]
    /// Prices from the run configuration, if it has any.
    public var prices: TokenPrices?
    /// Failed simulations grouped by kind and error.
    public var failures: [FailureGroup]
    /// Undefined Spearman/all scores grouped by kind and reason.
    public var undefinedScores: [FailureGroup]
    /// Rubric examples the judge could not rate, by kind and reason (`rubric_failures`).
    public var rubricFailures: [FailureGroup] = []
    /// The call log by stage (`llm_calls.stage`): what each stage cost.
    public var stages: [StageUsage] = []
    /// The calls by endpoint (shown when more than one served the run: a pool).
    public var endpoints: [EndpointUsage] = []
    /// Units whose explanation was refused (`explanation_failures`: the last reason), by kind and reason.
    public var refusedExplanationGroups: [FailureGroup] = []

    /// The control sample of the run config (``ControlSample``); nil for runs stored before it existed.
    public var controlSample: ControlSample?

    /// Units with a refused explanation (asked again or not: see ``refusedExplanationGroups``).
    public var refusedExplanations: Int { refusedExplanationGroups.reduce(0) { $0 + $1.count } }

    public init(
        run: RunInfo, databasePath: String, options: ReportOptions, explainer: String?, explainerCounts: [String: Int],
        otherRuns: [String], units: [UnitReport], usage: [ModelUsage], prices: TokenPrices?, failures: [FailureGroup],
        undefinedScores: [FailureGroup]
    ) {
        self.run = run
        self.databasePath = databasePath
        self.options = options
        self.explainer = explainer
        self.explainerCounts = explainerCounts
        self.otherRuns = otherRuns
        self.units = units
        self.usage = usage
        self.prices = prices
        self.failures = failures
        self.undefinedScores = undefinedScores
    }

    // MARK: - Derived numbers

    /// The units of one kind.
    public func units(_ kind: UnitKind) -> [UnitReport] { units.filter { $0.unit.kind == kind } }

    /// The kinds a table gives a column: features and neurons always, negative-side neurons when the run has them.
    public var columnKinds: [UnitKind] { UnitKind.columns(present: units.map(\.unit.kind)) }

    /// The kinds present in the run, features first.
    public var kinds: [UnitKind] { UnitKind.allCases.filter { kind in units.contains { $0.unit.kind == kind } } }

    /// Scores of the units of `kind` that have a report explanation with a Spearman/all row (nil = undefined).
    public func scores(_ kind: UnitKind) -> [Double?] {
        var scores: [Double?] = []
        for unit in units where unit.unit.kind == kind {
            if let spearman = unit.spearman { scores.append(spearman.value) }
        }
        return scores
    }

    /// Summary of the scores of `kind` against `threshold`.
    public func summary(_ kind: UnitKind, threshold: Double) -> ScoreSummary {
        Summary.summarize(scores(kind), threshold: threshold)
    }

    /// Mann-Whitney U of feature scores against neuron scores (defined scores only); nil when a side is empty.
    public var rankTest: MannWhitneyResult? {
        RankTest.mannWhitneyU(scores(.feature).compactMap { $0 }, scores(.neuron).compactMap { $0 })
    }

    /// The 95 % bootstrap interval of P(feature > neuron) (Mann-Whitney's effect size; the two
    /// kinds resampled independently, seeded with ``Bootstrap/reportSeed``); nil when a side is empty.
    public var rankTestEffectSizeCI: ConfidenceInterval? {
        Bootstrap().probabilityGreater(scores(.feature).compactMap { $0 }, scores(.neuron).compactMap { $0 })
    }

    /// Rubric counts of every unit of `kind`, summed.
    public func rubric(_ kind: UnitKind) -> RubricTable {
        units(kind).reduce(into: RubricTable()) { $0.add($1.rubric) }
    }

    /// Failed and total simulations of the report explanations of `kind`.
    public func simulationCounts(_ kind: UnitKind) -> (failed: Int, total: Int) {
        units(kind).reduce((0, 0)) { ($0.0 + $1.failedSimulations, $0.1 + $1.simulations) }
    }

    /// Totals over ``usage``.
    public var totalUsage: ModelUsage {
        usage.reduce(into: ModelUsage(model: "all")) { $0.add($1) }
    }

    /// What the run's calls would have cost all in real time; nil as ``totalCost``.
    public var totalRealtimeCost: Double? {
        guard let prices else { return nil }
        var sum = 0.0
        for entry in usage {
            guard let cost = prices.realtimeCost(of: entry) else { return nil }
            sum += cost
        }
        return sum
    }

    /// Whether some calls went as batch lines (then the paid cost and the real-time one differ).
    public var usedBatches: Bool { usage.contains { $0.batchPromptTokens + $0.batchCompletionTokens > 0 } }

    /// Money spent (non-cached calls) at ``prices``, each tier at its own; nil without prices or when a model has no price.
    public var totalCost: Double? {
        guard let prices else { return nil }
        var sum = 0.0
        for entry in usage {
            guard let cost = prices.cost(of: entry) else { return nil }
            sum += cost
        }
        return sum
    }
}

// MARK: - Units

/// One unit as a report shows it.
public struct UnitReport: Sendable {
    /// `units.id`.
    public var unitID: Int64
    public var statistics: UnitStatistics
    /// The report explanation (nil when the unit has none by the chosen explainer).
    public var explanation: ExplanationReport?
    /// Explanations of this unit by any explainer.
    public var explanationCount: Int
    /// The top explanation examples, strongest first, cut to the report window.
    public var examples: [ReportExample]
    /// Rubric counts of the report explanation.
    public var rubric: RubricTable
    /// Simulations of the report explanation, and how many failed.
    public var simulations: Int
    public var failedSimulations: Int
    /// The unit's control: another unit's explanation scored on this unit (`explainer = 'control'`),
    /// its random-explanation floor; nil when it has none.
    public var control: ExplanationReport?

    public init(
        unitID: Int64, statistics: UnitStatistics, explanation: ExplanationReport?, explanationCount: Int,
        examples: [ReportExample], rubric: RubricTable, simulations: Int, failedSimulations: Int
    ) {
        self.unitID = unitID
        self.statistics = statistics
        self.explanation = explanation
        self.explanationCount = explanationCount
        self.examples = examples
        self.rubric = rubric
        self.simulations = simulations
        self.failedSimulations = failedSimulations
    }

    public var unit: UnitRef { statistics.unit }

    /// Spearman on `all` of the report explanation, if stored.
    public var spearman: StoredScore? { explanation?.score(.spearman, .all) }

    /// The unit's score: Spearman/all, nil when missing or undefined.
    public var score: Double? { spearman?.value }

    /// The control's Spearman/all value, nil when missing or undefined.
    public var controlScore: Double? { control?.score(.spearman, .all)?.value }
}

/// An explanation and its scores.
public struct ExplanationReport: Sendable {
    /// `explanations.id`.
    public var id: Int64
    public var explainer: String
    public var model: String
    public var text: String
    public var scores: [StoredScore]

    public init(id: Int64, explainer: String, model: String, text: String, scores: [StoredScore]) {
        self.id = id
        self.explainer = explainer
        self.model = model
        self.text = text
        self.scores = scores
    }

    /// The score of `metric` on `subset`, if stored.
    public func score(_ metric: StoredScore.Metric, _ subset: StoredScore.Subset) -> StoredScore? {
        scores.first { $0.metric == metric && $0.subset == subset }
    }
}

/// An example record cut to the report window.
public struct ReportExample: Sendable, Equatable {
    public var tokens: [String]
    public var activations: [Float]
    /// Tokens dropped before the window.
    public var droppedBefore: Int
    /// Tokens dropped after the window.
    public var droppedAfter: Int

    public init(tokens: [String], activations: [Float], droppedBefore: Int = 0, droppedAfter: Int = 0) {
        self.tokens = tokens
        self.activations = activations
        self.droppedBefore = droppedBefore
        self.droppedAfter = droppedAfter
    }

    /// At most `window` tokens around the peak activation (three quarters of them before it).
    public static func window(tokens: [String], activations: [Float], size: Int) -> ReportExample {
        let count = Swift.min(tokens.count, activations.count)
        guard count > size, size > 0 else {
            return ReportExample(tokens: Array(tokens.prefix(count)), activations: Array(activations.prefix(count)))
        }
        var peak = 0
        for i in 0..<count where activations[i] > activations[peak] { peak = i }
        let start = Swift.min(Swift.max(0, peak - size * 3 / 4), count - size)
        return ReportExample(
            tokens: Array(tokens[start..<(start + size)]), activations: Array(activations[start..<(start + size)]),
            droppedBefore: start, droppedAfter: count - start - size)
    }

    /// The largest activation shown (0 when empty).
    public var maxActivation: Float { activations.max() ?? 0 }
}

// MARK: - Cost and failures

/// LLM calls and tokens of one model.
public struct ModelUsage: Sendable, Equatable {
    public var model: String
    public var calls = 0
    /// Calls answered from the cache (no request, no cost).
    public var cached = 0
    /// Calls that ended in an error or a non-2xx status.
    public var failed = 0
    public var promptTokens = 0
    public var completionTokens = 0
    /// Tokens of non-cached calls (what a paid endpoint bills), both tiers.
    public var billedPromptTokens = 0
    public var billedCompletionTokens = 0
    /// The part of the billed tokens that went as batch lines (`llm_calls.tier` `batch`).
    public var batchPromptTokens = 0
    public var batchCompletionTokens = 0
    public var latencyMs = 0.0

    public init(model: String) { self.model = model }

    mutating func add(_ other: ModelUsage) {
        calls += other.calls
        cached += other.cached
        failed += other.failed
        promptTokens += other.promptTokens
        completionTokens += other.completionTokens
        billedPromptTokens += other.billedPromptTokens
        billedCompletionTokens += other.billedCompletionTokens
        batchPromptTokens += other.batchPromptTokens
        batchCompletionTokens += other.batchCompletionTokens
        latencyMs += other.latencyMs
    }
}

/// Prices in money per million tokens: for every model (``fallback``), or per model name.
public struct TokenPrices: Sendable, Equatable {
    public struct Price: Sendable, Equatable {
        public var promptPerMillion: Double
        public var completionPerMillion: Double
        /// The batch tier's prices; nil: half of the real-time ones.
        public var batchPromptPerMillion: Double?
        public var batchCompletionPerMillion: Double?

        public init(
            promptPerMillion: Double, completionPerMillion: Double, batchPromptPerMillion: Double? = nil,
            batchCompletionPerMillion: Double? = nil
        ) {
            self.promptPerMillion = promptPerMillion
            self.completionPerMillion = completionPerMillion
            self.batchPromptPerMillion = batchPromptPerMillion
            self.batchCompletionPerMillion = batchCompletionPerMillion
        }
    }

    /// The price for every model not listed in `byModel`.
    public var fallback: Price?
    public var byModel: [String: Price]
    public var currency: String

    public init(fallback: Price?, byModel: [String: Price] = [:], currency: String = "USD") {
        self.fallback = fallback
        self.byModel = byModel
        self.currency = currency
    }

    /// The cost of the billed tokens of `usage`; nil when its model has no price.
    /// What was paid: the real-time tokens at the real-time price, the batch lines at the batch price.
    public func cost(of usage: ModelUsage) -> Double? {
        guard let price = byModel[usage.model] ?? fallback else { return nil }
        let realtime = Double(usage.billedPromptTokens - usage.batchPromptTokens) * price.promptPerMillion
            + Double(usage.billedCompletionTokens - usage.batchCompletionTokens) * price.completionPerMillion
        let batch = Double(usage.batchPromptTokens) * (price.batchPromptPerMillion ?? price.promptPerMillion / 2)
            + Double(usage.batchCompletionTokens) * (price.batchCompletionPerMillion ?? price.completionPerMillion / 2)
        return (realtime + batch) / 1_000_000
    }

    /// What the same tokens would have cost all in real time (the batch lines at real-time prices).
    public func realtimeCost(of usage: ModelUsage) -> Double? {
        guard let price = byModel[usage.model] ?? fallback else { return nil }
        return (Double(usage.billedPromptTokens) * price.promptPerMillion
            + Double(usage.billedCompletionTokens) * price.completionPerMillion) / 1_000_000
    }

    /// The prices a run stores (``RunStore/prices(runID:)``), for every model, in USD.
    public init(_ prices: StoredPrices) {
        self.init(fallback: Price(
            promptPerMillion: prices.prompt, completionPerMillion: prices.completion, batchPromptPerMillion: prices.batchPrompt,
            batchCompletionPerMillion: prices.batchCompletion))
    }
}

/// A count of failures (or undefined scores) of one kind with one reason.
public struct FailureGroup: Sendable, Equatable {
    public var kind: UnitKind
    public var reason: String
    public var count: Int

    public init(kind: UnitKind, reason: String, count: Int) {
        self.kind = kind
        self.reason = reason
        self.count = count
    }
}

extension RunReport {
    /// "All N ratings failed: <reason>" (or how many failed, and the commonest reason), nil when none failed.
    public var rubricFailureSummary: String? {
        let failed = rubricFailures.reduce(0) { $0 + $1.count }
        guard failed > 0, let top = rubricFailures.max(by: { $0.count < $1.count }) else { return nil }
        let rated = UnitKind.allCases.reduce(0) { $0 + rubric($1).total }
        let head = rated == 0 ? "All \(failed) rubric ratings failed" : "\(failed) of \(failed + rated) rubric ratings failed"
        return "\(head): \(top.reason)" + (rubricFailures.count > 1 ? " (and \(rubricFailures.count - 1) other reasons)" : "")
    }
}
