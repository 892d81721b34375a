public import AutoInterpLLM
public import Foundation
public import Logging

/// `autointerp audit`: which of a run's metrics notice a wrong explanation (after Oikarinen et
/// al., arXiv 2506.05774).
///
/// For a seeded sample of explained units, a *broader* and a *narrower* variant of each unit's
/// explanation is made (with the LLM, prompts `audit-broader.txt` and `audit-narrower.txt`, when
/// the run was explained by one; else with the pattern baseline's own generalisation and
/// specialisation, ``PatternSet/variant(_:records:)``), stored as explanations of the unit marked
/// as audit rows (`explainer = 'audit'`, `audit_of`, `audit_variant`), and scored by every scorer
/// the run has (the same stages, on a progress view whose explanation is the variant). The table:
/// per scorer and variant, the share of units whose score drops below their own explanation's,
/// with a 95 % bootstrap interval. A metric that does not drop for the broader variant cannot tell
/// a too generic explanation from a right one. Audit rows never enter a headline (summary,
/// reports, `compare`, `export` read only the units' own explanations). Rerunning finishes what
/// is missing and makes no variant twice.
public struct MetricAudit: Sendable {
    /// How a variant differs from the explanation.
    public enum Variant: String, Sendable, Codable, CaseIterable, Comparable {
        /// Describes more than the unit does (too generic).
        case broader
        /// Describes less than the unit does (too specific).
        case narrower

        public static func < (a: Self, b: Self) -> Bool { a.rawValue < b.rawValue }

        /// The prompt file of the LLM variant.
        public var promptFile: String { "audit-\(rawValue).txt" }
    }

    /// Units audited by default (kept small: each costs two explanations' scoring).
    public static let defaultUnits = 30

    /// What to audit.
    public struct Request: Sendable {
        public var run: String
        public var resultsFolder: URL
        /// Explained units sampled (all when fewer).
        public var units: Int
        /// The run's endpoint, needed when the run was explained by an LLM (its model must be the run's).
        public var endpoint: LLMEndpointConfig?
        /// The prompts folder (the audit's two templates and the run's); nil finds the default.
        public var prompts: URL?
        public var rubric: URL?
        /// The run's sentence-embedding model folder, for its embedding scorer (nil: that scorer is left out).
        public var embedder: URL?
        public var observer: (any RunObserver)?

        public init(run: String, resultsFolder: URL, units: Int = MetricAudit.defaultUnits, endpoint: LLMEndpointConfig? = nil) {
            self.run = run
            self.resultsFolder = resultsFolder
            self.units = units
            self.endpoint = endpoint
        }
    }

    /// One scorer's line of the table.
    public struct Row: Sendable, Codable, Equatable {
        public var scorer: String
        public var variant: Variant
        /// Units whose own and variant scores are both defined.
        public var pairs: Int
        /// The share of them whose variant scores worse (lower, for a scorer where higher is better).
        public var drops: Double?
        public var dropsCI: ConfidenceInterval?
        /// The median of variant − own.
        public var medianChange: Double?
    }

    /// What the audit found.
    public struct Outcome: Sendable, Codable, Equatable {
        public var run: String
        /// `llm` (the run's model) or `local-n2g` (the pattern baseline's variants).
        public var method: String
        /// Units sampled, and the variants stored for them by kind of variant.
        public var units: Int
        public var variants: [String: Int]
        public var rows: [Row]
        /// Variants that could not be made or scored, with the reason.
        public var notes: [String]

        /// The table as printed.
        public var text: String {
            var lines: [String] = []
            let how = method == PatternExplainer.name
                ? "the pattern baseline's own broader / narrower patterns" : "broader / narrower rewrites by \(method)"
            let counts = Variant.allCases.sorted().map { "\(variants[$0.rawValue] ?? 0) \($0.rawValue)" }.joined(separator: ", ")
            lines.append("metric audit of run '\(run)': \(units) units, variants \(counts) (\(how))")
            lines.append("share of units whose score drops with the variant (95% bootstrap CI; n = units with both scores defined):")
            var table = [["scorer", "narrower (too specific)", "broader (too generic)"]]
            for scorer in Self.scorerOrder(rows) {
                var row = [scorer]
                for variant in [Variant.narrower, .broader] {
                    guard let r = rows.first(where: { $0.scorer == scorer && $0.variant == variant }) else { row.append("–"); continue }
                    let share = ReportText.percent(r.drops)
                    let ci = r.dropsCI.map { " [\(ReportText.fixed($0.low * 100, 0)), \(ReportText.fixed($0.high * 100, 0))]" } ?? ""
                    row.append("\(share)\(ci) (n \(r.pairs))")
                }
                table.append(row)
            }
            let widths = (0..<3).map { c in table.map { $0[c].count }.max() ?? 0 }
            for row in table {
                let cells = row.enumerated().map { $1.padding(toLength: widths[$0], withPad: " ", startingAt: 0) }.joined(separator: "  ")
                lines.append("  " + cells.replacingOccurrences(of: "\\s+$", with: "", options: .regularExpression))
            }
            for note in notes.prefix(5) { lines.append("  note: \(note)") }
            if notes.count > 5 { lines.append("  … and \(notes.count - 5) more notes (see audit.json)") }
            return lines.joined(separator: "\n")
        }

        static func scorerOrder(_ rows: [Row]) -> [String] {
            var seen: [String] = []
            for row in rows where !seen.contains(row.scorer) { seen.append(row.scorer) }
            return seen
        }
    }

    public var logger: Logger

    public init(logger: Logger) {
        self.logger = logger
    }

    /// Makes the missing variants, scores them, and returns (and writes as `audit.json` beside
    /// the run database) the table.
    ///
    /// - Throws: `AutoInterpError` when the run is missing, has no pipeline yet, or was explained
    ///   by an LLM and no (or another) endpoint model is given; `LLMError` when the endpoint is unusable.
    public func run(_ request: Request) async throws -> Outcome {
        guard (1...1_000_000).contains(request.units) else {
            throw AutoInterpError.invalidOption(.auditUnits, "must be between 1 and 1000000, got \(request.units)")
        }
        let folder = request.resultsFolder.appendingPathComponent(request.run, isDirectory: true)
        let url = folder.appendingPathComponent("autointerp.sqlite")
        guard FileManager.default.fileExists(atPath: url.path) else {
            throw AutoInterpError.invalidInput(
                "no run '\(request.run)' in \(request.resultsFolder.path) (no \(url.path)): run `autointerp run` first")
        }
        try RunLock.acquire(runFolder: folder, name: request.run)
        let store = try RunStore(url: url)
        guard let run = try store.run(named: request.run) else {
            throw AutoInterpError.invalidInput("\(url.path) holds no run named '\(request.run)'")
        }
        let config = try store.config(runID: run.id)
        guard let pipeline = config.pipeline else {
            throw AutoInterpError.invalidInput("run '\(request.run)' has only been selected: run `autointerp run` first, then audit it")
        }
        let runRequest = try Self.runRequest(request, config: config, pipeline: pipeline)
        let plan = try StagePlan(runRequest)
        if runRequest.explainer == .llm {
            let changed = plan.settings.differences(from: pipeline)
            guard changed.isEmpty else {
                throw AutoInterpError.invalidInput(
                    "run '\(request.run)' was made with other settings than this audit would score with (\(changed.joined(separator: ", "))): pass the run's \(Setting.model) and \(Setting.prompts)")
            }
        }
        let client = try runRequest.endpoint.map { try LLMClient(config: $0, store: store, logger: logger) }
        if let client, let observer = request.observer { client.onCallFinished { observer.callFinished($0) } }
        let coordinator = RunCoordinator(logger: logger)
        var pinned = try store.capabilities(runID: run.id)
        if client != nil, pinned == nil {
            pinned = try await coordinator.pin(plan, request: runRequest, client: client, store: store, run: run)
        }
        var mode: String?
        let stages = try coordinator.stages(plan, request: runRequest, client: client, pinned: pinned, mode: &mode)

        // The scorers the run has, and the stages that make them (with what they need).
        let units = try store.progress(runID: run.id)
        // A scorer whose stage the plan leaves out (the embedding scorer without a model) is not audited.
        let planned = Set(plan.catalog.descriptors.filter { plan.requested.contains($0.name) }.flatMap { $0.scorers.map(\.name) })
        let scorers = plan.catalog.scorers.filter { scorer in
            planned.contains(scorer.name) && units.contains { $0.value(scorer.metric, scorer.subset) != nil }
        }
        guard !scorers.isEmpty else {
            throw AutoInterpError.invalidInput("run '\(request.run)' has no scores yet: finish `autointerp run` first, then audit it")
        }
        var requested = Set<StageName>()
        let names = Set(scorers.map(\.name))
        for descriptor in plan.catalog.descriptors where descriptor.scorers.contains(where: { names.contains($0.name) }) {
            guard let stage = stages.first(where: { $0.name == descriptor.name }), stage.scoresControls else { continue }
            requested.insert(stage.name)
            for need in stage.needs where stages.first(where: { $0.name == need })?.scoresControls == true { requested.insert(need) }
        }

        let explained = units.filter { !$0.isDead && $0.explanation != nil }
        let sample = Self.sample(explained.map(\.unit.unit), count: request.units, seed: config.selection.seed)
        let chosen = explained.filter { sample.contains($0.unit.unit) }
        var notes: [String] = []
        let maker = VariantMaker(
            explainer: runRequest.explainer, baseline: runRequest.baseline, client: client, model: pipeline.model,
            prompts: try runRequest.explainer == .llm ? Self.templates(plan: plan, folder: request.prompts) : [:])
        var existing = Set(try store.auditExplanations(runID: run.id).compactMap { e in e.auditOf.map { "\($0) \(e.auditVariant ?? "")" } })
        var missing: [(of: StoredExplanation, variant: String, model: String, text: String)] = []
        for unit in chosen {
            guard let own = unit.explanation else { continue }
            for variant in Variant.allCases.sorted() where !existing.contains("\(own.id) \(variant.rawValue)") {
                do {
                    let context = LLMCallContext(unit: unit.unit.unit.description, stage: "audit")
                    let text = try await LLMCallContext.$current.withValue(context) {
                        try await maker.make(variant, of: own, unit: unit.unit, store: store)
                    }
                    missing.append((own, variant.rawValue, maker.model, text))
                    existing.insert("\(own.id) \(variant.rawValue)")
                } catch let failure as StageFailure {
                    notes.append("\(unit.unit.unit) \(variant.rawValue): \(failure.reason)")
                }
            }
        }
        if !missing.isEmpty { try store.addAuditExplanations(missing) }

        // Score every variant of the sample with the run's scoring stages.
        let chosenOwn = Set(chosen.compactMap(\.explanation?.id))
        let audits = try store.auditExplanations(runID: run.id).filter { $0.auditOf.map(chosenOwn.contains) ?? false }
        let views = try audits.compactMap { try store.progress(unitID: $0.unitID, explanationID: $0.id) }
        let runner = UnitStageRunner(store: store, stages: stages, requested: requested, logger: logger)
        let inFlight = client.map { 2 * $0.config.maxInFlight } ?? 4
        let scheduler = UnitScheduler(runner: runner, unitsInFlight: inFlight, observer: request.observer, logger: logger)
        let (reports, stoppedEarly) = try await scheduler.run(run, units: views, label: "audit")
        for report in reports where report.status != .complete {
            notes.append("\(report.unit) (variant): \(report.kind): \(report.reason ?? report.status.rawValue)")
        }
        if let stoppedEarly { notes.append("stopped early: \(stoppedEarly)") }

        // The table: each sampled unit's own score against each variant's.
        let scored = try audits.compactMap { try store.progress(unitID: $0.unitID, explanationID: $0.id) }
        let own = Dictionary(chosen.compactMap { u in u.explanation.map { ($0.id, u) } }, uniquingKeysWith: { a, _ in a })
        var rows: [Row] = []
        for scorer in scorers {
            for variant in [Variant.narrower, .broader] {
                var outcomes: [Double] = []
                var changes: [Double] = []
                for view in scored where view.explanation?.auditVariant == variant.rawValue {
                    guard let base = view.explanation?.auditOf.flatMap({ own[$0] }),
                        let mine = base.value(scorer.metric, scorer.subset) ?? nil,
                        let theirs = view.value(scorer.metric, scorer.subset) ?? nil, !mine.isNaN, !theirs.isNaN
                    else { continue }
                    let worse = scorer.higherIsBetter ? theirs < mine : theirs > mine
                    outcomes.append(worse ? 1 : 0)
                    changes.append(theirs - mine)
                }
                let share = outcomes.isEmpty ? nil : outcomes.reduce(0, +) / Double(outcomes.count)
                let ci = outcomes.isEmpty ? nil : Bootstrap().sampleIntervals(sorted: outcomes.sorted(), thresholds: [])[1]
                rows.append(Row(
                    scorer: scorer.name, variant: variant, pairs: outcomes.count, drops: share, dropsCI: ci,
                    medianChange: ScorerColumn.quantile(changes.sorted(), 0.5)))
            }
        }
        var variants: [String: Int] = [:]
        for audit in audits { variants[audit.auditVariant ?? "?", default: 0] += 1 }
        let outcome = Outcome(
            run: run.name, method: runRequest.explainer == .llm ? pipeline.model : PatternExplainer.name, units: chosen.count,
            variants: variants, rows: rows, notes: notes)
        try Self.write(outcome, to: folder.appendingPathComponent("audit.json"))
        return outcome
    }

    /// `count` of `units` by the smallest seeded hash (both kinds pooled): the same sample for
    /// the same seed, whatever the order.
    static func sample(_ units: [UnitRef], count: Int, seed: UInt64) -> Set<UnitRef> {
        guard count < units.count else { return Set(units) }
        func rank(_ unit: UnitRef) -> UInt64 {
            let kind: UInt64 = unit.kind == .feature ? 0 : 1 << 40
            var rng = SeededGenerator(seed: seed, stream: 0x6175_6469_7400 ^ kind ^ UInt64(truncatingIfNeeded: unit.index))
            return rng.next()
        }
        return Set(units.map { ($0, rank($0)) }.sorted { ($0.1, $0.0) < ($1.1, $1.0) }.prefix(count).map(\.0))
    }

    /// The run request the run's stages are rebuilt from (its stored settings; the endpoint given).
    static func runRequest(_ request: Request, config: RunConfig, pipeline: PipelineConfig) throws -> RunRequest {
        let llm = pipeline.explainer == "llm"
        if llm {
            guard let endpoint = request.endpoint else {
                throw AutoInterpError.invalidOption(
                    .endpoint,
                    "run '\(request.run)' was explained by \(pipeline.model) at \(pipeline.endpoint): pass \(Setting.endpoint) and \(Setting.model) \(pipeline.model) to make and score its variants")
            }
            guard endpoint.model == pipeline.model else {
                throw AutoInterpError.invalidOption(
                    .endpoint, "run '\(request.run)' was explained by \(pipeline.model), not \(endpoint.model): pass \(Setting.model) \(pipeline.model)")
            }
        }
        var setup = RunSetup.Request(
            name: request.run, resultsFolder: request.resultsFolder, activations: URL(fileURLWithPath: config.activations),
            vocab: URL(fileURLWithPath: config.vocab), sae: config.sae.map { URL(fileURLWithPath: $0) },
            features: try UnitSpec(parsing: config.featureSpec), neurons: try UnitSpec(parsing: config.neuronSpec),
            selection: config.selection)
        setup.neuronSign = config.sign
        var runRequest = RunRequest(
            setup: setup, endpoint: llm ? request.endpoint : nil, simulatorModel: pipeline.simulatorModel, judgeModel: pipeline.judgeModel,
            simulatorMode: pipeline.simulatorMode, recordsPerCall: pipeline.recordsPerCall, explainerSamples: pipeline.explainerSamples,
            prompts: request.prompts, rubric: request.rubric, explainer: llm ? .llm : .local,
            baseline: pipeline.baseline ?? PatternSet.Parameters())
        runRequest.controls = pipeline.controls ?? .all
        runRequest.classifyPerCall = pipeline.examplesPerClassifyCall
        runRequest.embedder = request.embedder
        runRequest.intruderGroups = pipeline.intruderGroups ?? .default
        // The rubric is not a scorer the audit uses: without an endpoint, the local plan leaves it out quietly.
        runRequest.stages = nil
        return runRequest
    }

    /// The audit's two templates, from the prompts folder the plan's templates came from (or `folder`).
    static func templates(plan: StagePlan, folder: URL?) throws -> [Variant: PromptTemplate] {
        let base = folder ?? plan.prompts.map { URL(fileURLWithPath: $0.explainer.file).deletingLastPathComponent() }
            ?? URL(fileURLWithPath: "prompts")
        var templates: [Variant: PromptTemplate] = [:]
        for variant in Variant.allCases {
            templates[variant] = try PromptSet.template(variant.promptFile, in: base, required: ["explanation"])
        }
        return templates
    }

    static func write(_ outcome: Outcome, to url: URL) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        do {
            try encoder.encode(outcome).write(to: url, options: .atomic)
        } catch {
            throw AutoInterpError.io(url.path, "cannot write the audit: \(error.localizedDescription)")
        }
    }
}

/// Makes one variant's text: the pattern baseline's, or the LLM's rewrite.
struct VariantMaker: Sendable {
    let explainer: ExplainerKind
    let baseline: PatternSet.Parameters
    let client: LLMClient?
    /// The model asked (the run's explainer model), or the baseline's `none`.
    let model: String
    let prompts: [MetricAudit.Variant: PromptTemplate]

    init(
        explainer: ExplainerKind, baseline: PatternSet.Parameters, client: LLMClient?, model: String,
        prompts: [MetricAudit.Variant: PromptTemplate]
    ) {
        self.explainer = explainer
        self.baseline = baseline
        self.client = client
        self.model = explainer == .llm ? model : PatternExplainer.model
        self.prompts = prompts
    }

    /// - Throws: ``StageFailure`` with the reason when no usable variant comes out (recorded as a note).
    func make(_ variant: MetricAudit.Variant, of own: StoredExplanation, unit: StoredUnit, store: RunStore) async throws -> String {
        switch explainer {
        case .local:
            let examples = try store.examples(unitID: unit.id, role: .explain, subset: .top)
            let patterns = PatternExplainer(parameters: baseline).patterns(from: examples)
            guard patterns.explanation == own.text else {
                throw StageFailure("the stored explanation is not the text of the patterns re-derived from the unit's examples")
            }
            guard let varied = patterns.variant(variant.rawValue, records: examples.map(\.tokens)), varied.explanation != own.text else {
                throw StageFailure(variant == .narrower ? "a single pattern has nothing to drop" : "no other token to add")
            }
            return varied.explanation
        case .llm:
            guard let client, let template = prompts[variant] else {
                throw StageFailure("no endpoint to ask for the \(variant.rawValue) variant")
            }
            let request = ChatCompletionRequest(
                model: model, messages: try template.render(["explanation": own.text]), temperature: 0, maxTokens: LLMExplainer.maxTokens)
            let answer = try await client.complete(request)
            let content = LLMExplainer.answerText(answer.content ?? "")
            guard !answer.isCutOff, let text = ExplanationCleaner.clean(content), !text.isEmpty,
                text.lowercased() != own.text.lowercased()
            else {
                client.discard(answer)
                throw StageFailure("no usable \(variant.rawValue) rewrite: \(SimulationParser.preview(content))")
            }
            return text
        }
    }
}
