public import AutoInterpLLM
public import Foundation

/// The end-of-run summary: what the run database holds for a run, plus this invocation's costs.
///
/// Stored results (scores, failed simulations, undefined scores, missing ratings) are counted
/// from the database, so a resumed run reports the whole run; calls, tokens and cost are this
/// invocation's. Written as `summary.json` beside the database and printed as text.
public struct RunSummary: Sendable, Codable, Equatable {
    /// One scorer's statistics (the same ``ScorerColumn`` the reports print): features and
    /// neurons by kind, and the controls of both kinds (the random-explanation floor).
    public struct ScorerSummary: Sendable, Codable, Equatable {
        public var scorer: ReportScorer
        /// By unit kind (`feature`, `neuron`).
        public var byKind: [String: ScorerColumn]
        /// The controls; nil when the run has none scored by this scorer.
        public var control: ScorerColumn?
        /// Median of features − median of neurons, with its 95 % bootstrap interval (kinds
        /// resampled independently); nil without defined scores of both kinds.
        public var featuresMinusNeurons: Double? = nil
        public var featuresMinusNeuronsCI: ConfidenceInterval? = nil
    }

    /// The control pass (the random-explanation floor, see ``ControlPass``): counted from the store.
    public struct ControlSummary: Sendable, Codable, Equatable {
        /// Units with a control explanation stored.
        public var controls: Int
        /// Controls with a headline score of some scorer stored, defined or not.
        public var scored: Int
        /// Controls that failed, or wait for a stage not requested, in this invocation (see `notes`).
        public var failed: Int
        public var waiting: Int
        /// Kinds that got no control, with the reason (e.g. a single explained unit).
        public var skipped: [String]
        /// Failed and waiting controls with their reasons (this invocation).
        public var notes: [UnitNote]
        /// The sample asked for (`all`, or the most units per kind, ``ControlSample``), and per
        /// kind (`feature`, `neuron`) the explained units and how many of them got a control.
        public var sample: String = ControlSample.all.description
        public var explainedByKind: [String: Int] = [:]
        public var sampledByKind: [String: Int] = [:]
    }

    /// A unit that was skipped or failed, and why.
    public struct UnitNote: Sendable, Codable, Equatable {
        public var unit: String
        /// `dead`, `waiting`, `cancelled`, or the failure's label (a stage's name, `llm-call`).
        public var kind: String
        public var reason: String
    }

    public var run: String
    public var database: String
    public var units: Int
    /// Units by kind (`feature`, `neuron`).
    public var unitsByKind: [String: Int]
    /// Units with an explanation and a headline score of some scorer stored (defined or not).
    public var scored: Int
    /// Failure counts by kind, counted from the store (see ``FailureKind``).
    public var failures: [FailureKind: Int]
    /// Every scorer of the run's catalogue with a stored score, in catalogue order.
    public var scorers: [ScorerSummary]
    /// Ratings stored, by rating 0...3.
    public var ratings: [Int: Int]
    /// Rubric rating counts per bin, by unit kind (`feature`, `neuron`).
    public var rubricByKind: [String: RubricTable]
    /// Dead, failed and waiting units with their reasons (this invocation).
    public var notes: [UnitNote]
    /// Whether the run stopped early, and why.
    public var stoppedEarly: String?
    /// This invocation's LLM usage.
    public var calls: Int
    public var cachedCalls: Int
    public var promptTokens: Int
    public var completionTokens: Int
    public var cost: Double?
    /// Units this invocation worked on (stored something or failed).
    public var unitsWorked: Int
    public var simulatorMode: String?
    /// How this invocation differed from the defaults, in words (e.g. a stage left out by the local baseline).
    public var remarks: [String] = []
    /// The LLM cost of each stage over the run's database (every invocation), from `llm_calls`.
    /// Calls for controls are counted under the stage that made them (e.g. `simulate`).
    public var stages: [StageUsage] = []
    /// The control pass; nil when it did not run (no stage that scores controls was requested).
    public var controls: ControlSummary?
    /// Refused explanations (``RunSummary/RefusedExplanations``); nil when none was refused.
    public var refusedExplanations: RefusedExplanations?
    /// Set when the run's explanations are alike (``alikeWarning(store:run:)``).
    public var alikeExplanations: String?

    /// Whether every unit, and every control, has all its results (nothing failed or left over).
    public var isComplete: Bool {
        stoppedEarly == nil && notes.allSatisfy { $0.kind == UnitOutcome.Status.dead.rawValue } && (controls?.notes.isEmpty ?? true)
    }

    /// Tokens (prompt + completion) per unit worked on in this invocation.
    public var tokensPerUnit: Double? {
        unitsWorked > 0 ? Double(promptTokens + completionTokens) / Double(unitsWorked) : nil
    }

    /// The statistics of `scorer` (nil when the run has none of its scores).
    public func scorer(_ name: String) -> ScorerSummary? { scorers.first { $0.scorer.name == name } }

    /// Counts the run's stored results (`controls`: what the control pass did, nil when it did
    /// not run; `scorers`: the run's catalogue's).
    public static func collect(
        store: RunStore, run: RunInfo, reports: [UnitOutcome], usage: LLMUsage?, stoppedEarly: String?, simulatorMode: String?,
        controls: ControlPass.Outcome? = nil, scorers: [ReportScorer] = StageCatalog.builtIn.scorers
    ) throws -> RunSummary {
        let units = try store.progress(runID: run.id)
        let controlViews = Dictionary(try store.controlProgress(runID: run.id).map { ($0.unit.id, $0) }, uniquingKeysWith: { a, _ in a })
        var failures: [FailureKind: Int] = [:]
        var unitsByKind: [String: Int] = [:]
        var ratings: [Int: Int] = [:]
        var scored = 0
        let failedRatings = Set(reports.filter { $0.failedRatings > 0 }.map(\.unit))
        for unit in units {
            unitsByKind[unit.unit.unit.kind.rawValue, default: 0] += 1
            if unit.isDead {
                failures[.dead, default: 0] += 1
                continue
            }
            guard unit.explanation != nil else {
                failures[.explanation, default: 0] += 1
                continue
            }
            if unit.failedSimulations > 0 { failures[.simulation, default: 0] += unit.failedSimulations }
            for scorer in StoredClassification.Scorer.allCases where unit.failedClassifications(scorer) > 0 {
                failures[FailureKind(rawValue: scorer.rawValue), default: 0] += unit.failedClassifications(scorer)
            }
            if unit.failedIntruderAttempts.count > 0 { failures[.intruder, default: 0] += unit.failedIntruderAttempts.count }
            if scorers.contains(where: { unit.value($0.metric, $0.subset) != nil }) { scored += 1 }
            if unit.score(.spearman, .all) == .some(nil) { failures[.undefinedScore, default: 0] += 1 }
            for rating in unit.ratings.values { ratings[rating, default: 0] += 1 }
            if unit.failedRatings > 0 || failedRatings.contains(unit.unit.unit) {
                failures[.rubric, default: 0] += max(unit.failedRatings, unit.rubricExamples - unit.ratings.count)
            }
        }
        let callFailures = reports.count { $0.failure == .call }
        if callFailures > 0 { failures[.llmCall] = callFailures }
        let notes = reports.filter { $0.status != .complete }.sorted { $0.unit < $1.unit }.map { report in
            UnitNote(unit: report.unit.description, kind: report.kind, reason: report.reason ?? report.status.rawValue)
        }
        let histograms = RubricTable.byKind(try store.rubricHistogram(runID: run.id))
        var summary = RunSummary(
            run: run.name, database: store.path, units: units.count, unitsByKind: unitsByKind, scored: scored, failures: failures,
            scorers: Self.scorers(scorers, units: units, controls: controlViews), ratings: ratings,
            rubricByKind: Dictionary(uniqueKeysWithValues: histograms.map { ($0.key.rawValue, $0.value) }),
            notes: notes, stoppedEarly: stoppedEarly, calls: usage?.calls ?? 0, cachedCalls: usage?.cachedCalls ?? 0,
            promptTokens: usage?.promptTokens ?? 0, completionTokens: usage?.completionTokens ?? 0, cost: usage?.cost,
            unitsWorked: reports.count { $0.storedSomething || $0.status == .failed }, simulatorMode: simulatorMode)
        summary.stages = try store.stageUsage()
        if let controls {
            summary.controls = controlSummary(controls: Array(controlViews.values), scorers: scorers, outcome: controls)
        }
        summary.refusedExplanations = try refusedExplanations(store: store, run: run)
        summary.alikeExplanations = try alikeWarning(store: store, run: run)
        return summary
    }

    /// Every scorer's columns over the units' headline views and their controls: the same
    /// ``ScorerColumn`` the reports build.
    static func scorers(_ scorers: [ReportScorer], units: [UnitProgress], controls: [Int64: UnitProgress]) -> [ScorerSummary] {
        let live = units.filter { !$0.isDead }
        // Each live unit's own view beside its control's, by kind (the same pairs for every scorer).
        let pairs = live.map { (kind: $0.unit.unit.kind, own: $0 as (any ScoreSource)?, control: controls[$0.unit.id] as (any ScoreSource)?) }
        return scorers.compactMap { scorer in
            var byKind: [String: ScorerColumn] = [:]
            for kind in UnitKind.allCases {
                let column = ScorerColumn(scorer, units: pairs.filter { $0.kind == kind }.map { ($0.own, $0.control) }, control: false)
                if column.stored > 0 { byKind[kind.rawValue] = column }
            }
            let control = ScorerColumn(scorer, units: pairs.map { ($0.own, $0.control) }, control: true)
            guard !byKind.isEmpty || control.stored > 0 else { return nil }
            var summary = ScorerSummary(scorer: scorer, byKind: byKind, control: control.stored > 0 ? control : nil)
            let defined: (UnitKind) -> [Double] = { kind in
                live.filter { $0.unit.unit.kind == kind }.compactMap { $0.value(scorer.metric, scorer.subset) ?? nil }.filter { !$0.isNaN }
            }
            if let difference = Bootstrap().medianDifferenceWithInterval(defined(.feature), defined(.neuron)) {
                summary.featuresMinusNeurons = difference.value
                summary.featuresMinusNeuronsCI = difference.interval
            }
            return summary
        }
    }

    /// The control pass counted from the store, with this invocation's failures.
    static func controlSummary(controls: [UnitProgress], scorers: [ReportScorer], outcome: ControlPass.Outcome) -> ControlSummary {
        let scored = controls.count { control in scorers.contains { control.value($0.metric, $0.subset) != nil } }
        let notes = outcome.reports.filter { $0.status == .failed || $0.status == .waiting || $0.status == .cancelled }
            .sorted { $0.unit < $1.unit }
            .map { UnitNote(unit: $0.unit.description, kind: $0.kind, reason: $0.reason ?? $0.status.rawValue) }
        return ControlSummary(
            controls: controls.count, scored: scored, failed: outcome.reports.count { $0.status == .failed },
            waiting: outcome.reports.count { $0.status == .waiting }, skipped: outcome.skipped, notes: notes,
            sample: outcome.sample.description, explainedByKind: outcome.explained, sampledByKind: outcome.sampled)
    }

    /// The summary's lines on the control pass (empty when it did not run).
    var controlLines: [String] {
        guard let controls else { return [] }
        var head = "controls (another unit's explanation, the random floor): \(controls.controls) stored, \(controls.scored) scored, \(controls.failed) failed"
        if controls.waiting > 0 { head += ", \(controls.waiting) waiting" }
        var lines = [head]
        let kinds = controls.explainedByKind.keys.sorted()
        if !kinds.isEmpty {
            let sample = (try? ControlSample(parsing: controls.sample))?.words ?? controls.sample
            let counts = kinds.map { "\(Self.plural($0)) \(controls.sampledByKind[$0] ?? 0) of \(controls.explainedByKind[$0] ?? 0)" }
            lines.append("  control sample (\(Setting.controls) \(controls.sample), \(sample)): " + counts.joined(separator: ", "))
        }
        let floor = scorers.compactMap { s in
            s.control.map {
                "\(s.scorer.name) median \(Self.number($0.median, $0.medianCI)) (n \($0.defined), \($0.stored - $0.defined) undefined)"
            }
        }
        if !floor.isEmpty { lines.append("  controls: " + floor.joined(separator: "; ")) }
        for reason in controls.skipped { lines.append("  no control: \(reason)") }
        for note in controls.notes.prefix(5) { lines.append("  control of \(note.unit): \(note.kind): \(note.reason)") }
        if controls.notes.count > 5 { lines.append("  … and \(controls.notes.count - 5) more controls (see summary.json)") }
        return lines
    }

    static func number(_ value: Double?) -> String { value.map { String(format: "%.3f", $0) } ?? "n/a" }

    /// A value with its 95 % interval, `0.527 [0.46, 0.60]`; the value alone without one.
    static func number(_ value: Double?, _ interval: ConfidenceInterval?) -> String {
        guard value != nil, interval != nil else { return number(value) }
        return "\(number(value)) \(ReportText.interval(interval))"
    }

    /// `features`, `neurons`, `neurons (−)` for a kind's raw value.
    static func plural(_ kind: String) -> String { UnitKind(rawValue: kind)?.plural ?? "\(kind)s" }

    /// The summary as printed at the end of `autointerp run`.
    public var text: String {
        var lines: [String] = []
        lines.append("run '\(run)': \(units) units, \(scored) scored (\(database))")
        for kind in unitsByKind.keys.sorted() {
            let parts = scorers.compactMap { s in
                s.byKind[kind].map {
                    "\(s.scorer.name) median \(Self.number($0.median, $0.medianCI)), mean \(Self.number($0.mean, $0.meanCI)) "
                        + "(n \($0.defined), \($0.stored - $0.defined) undefined)"
                }
            }
            lines.append(
                "  \(Self.plural(kind)): \(unitsByKind[kind] ?? 0) units" + (parts.isEmpty ? "" : "; " + parts.joined(separator: "; ")))
        }
        let differences = scorers.compactMap { s in
            s.featuresMinusNeurons.map { "\(s.scorer.name) \(Self.number($0, s.featuresMinusNeuronsCI))" }
        }
        if !differences.isEmpty {
            lines.append("  features − neurons (median, 95% bootstrap CI): " + differences.joined(separator: "; "))
        }
        for s in scorers {
            guard let baseline = s.scorer.baseline else { continue }
            let drops = unitsByKind.keys.sorted().compactMap { kind -> String? in
                guard let column = s.byKind[kind], let pairs = column.baselinePairs, pairs > 0 else { return nil }
                return "\(kind)s \(Self.number(column.baselineDrop, column.baselineDropCI)) (n \(pairs))"
            }
            guard !drops.isEmpty else { continue }
            lines.append("  \(s.scorer.name): median \(baseline.rawValue) − \(s.scorer.subset.rawValue) per unit: " + drops.joined(separator: "; "))
        }
        lines.append(failuresLine)
        lines += explanationLines
        if !ratings.isEmpty {
            lines.append("rubric ratings: " + (0...3).map { "\($0): \(ratings[$0] ?? 0)" }.joined(separator: ", ") + " (histogram per bin: view rubric_histogram)")
        }
        for note in notes.prefix(10) { lines.append("  \(note.unit): \(note.kind): \(note.reason)") }
        if notes.count > 10 { lines.append("  … and \(notes.count - 10) more (see summary.json)") }
        lines += controlLines
        var usageLine = "LLM: \(calls) calls (\(cachedCalls) cached), \(promptTokens) prompt + \(completionTokens) completion tokens"
        if let perUnit = tokensPerUnit { usageLine += String(format: ", %.0f tokens per unit", perUnit) }
        if let cost {
            usageLine += String(format: ", cost $%.4f", cost)
            if unitsWorked > 0 { usageLine += String(format: " ($%.5f per unit)", cost / Double(unitsWorked)) }
        }
        if let simulatorMode { usageLine += "; simulator mode \(simulatorMode)" }
        lines.append(usageLine)
        let working = stages.filter { $0.stage != "check" && $0.stage != "other" }
        if !working.isEmpty {
            func k(_ n: Int) -> String { n >= 10_000 ? String(format: "%.0fk", Double(n) / 1000) : n >= 1000 ? String(format: "%.1fk", Double(n) / 1000) : String(n) }
            let parts = working.map { s in
                let perUnit = s.units > 0 ? String(format: ", %.1f calls and %@ tokens per unit", Double(s.calls - s.cachedCalls) / Double(s.units), k((s.promptTokens + s.completionTokens) / s.units)) : ""
                return "\(s.stage) \(s.calls - s.cachedCalls) calls, \(k(s.promptTokens)) prompt (\(k(s.cachedPromptTokens)) cached) + \(k(s.completionTokens)) completion tokens\(perUnit)"
            }
            lines.append("LLM by stage (whole run): " + parts.joined(separator: "; "))
        }
        for remark in remarks { lines.append("note: \(remark)") }
        if let stoppedEarly {
            lines.append("stopped early: \(stoppedEarly)")
        } else if outcome == .complete {
            lines.append("run finished: every unit has its results")
        } else {
            lines.append("run finished with failures (counted above); rerun the same command to retry what is missing")
        }
        return lines.joined(separator: "\n")
    }

    /// Writes the summary as JSON to `url` (settings its texts mention as `` `name` ``).
    public func write(to url: URL) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        do {
            let json = Setting.plain(String(decoding: try encoder.encode(self), as: UTF8.self))
            try Data(json.utf8).write(to: url, options: .atomic)
        } catch {
            throw AutoInterpError.io(url.path, "cannot write the run summary: \(error.localizedDescription)")
        }
    }
}
