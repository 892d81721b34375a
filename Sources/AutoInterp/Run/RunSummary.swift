public import AutoInterpLLM
public import Foundation

/// The end-of-run summary: what the run database holds for a run, plus this invocation's costs.
///
/// Stored results (scores, failed simulations, undefined scores, missing ratings) are counted
/// from the database, so a resumed run reports the whole run; calls, tokens and cost are this
/// invocation's. Written as `summary.json` beside the database and printed as text.
public struct RunSummary: Sendable, Codable, Equatable {
    /// Spearman (`all`) statistics of one unit kind.
    public struct KindScores: Sendable, Codable, Equatable {
        public var units: Int
        public var scored: Int
        public var undefined: Int
        public var meanSpearman: Double?
        public var medianSpearman: Double?
        public var meanPearson: Double?
    }

    /// The control pass (the random-explanation floor, see ``ControlPass``): counted from the store.
    public struct ControlSummary: Sendable, Codable, Equatable {
        /// Units with a control explanation stored.
        public var controls: Int
        /// Controls with a Spearman (`all`) stored, defined or not.
        public var scored: Int
        /// Controls that failed, or wait for a stage not requested, in this invocation (see `notes`).
        public var failed: Int
        public var waiting: Int
        /// The controls' Spearman (`all`) statistics by unit kind.
        public var byKind: [String: KindScores]
        /// Kinds that got no control, with the reason (e.g. a single explained unit).
        public var skipped: [String]
        /// Failed and waiting controls with their reasons (this invocation).
        public var notes: [UnitNote]
    }

    /// A unit that was skipped or failed, and why.
    public struct UnitNote: Sendable, Codable, Equatable {
        public var unit: String
        public var kind: String
        public var reason: String
    }

    public var run: String
    public var database: String
    public var units: Int
    /// Units with an explanation and a defined or undefined Spearman (`all`) stored.
    public var scored: Int
    /// Failure counts by kind: `dead` units, units with no `explanation`, failed `simulation`
    /// records, `undefined-score` (Spearman over all), unrated `rubric` examples, `llm-call`
    /// failures of this invocation.
    public var failures: [String: Int]
    public var byKind: [String: KindScores]
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
        stoppedEarly == nil && notes.allSatisfy { $0.kind == "dead" } && (controls?.notes.isEmpty ?? true)
    }

    /// Tokens (prompt + completion) per unit worked on in this invocation.
    public var tokensPerUnit: Double? {
        unitsWorked > 0 ? Double(promptTokens + completionTokens) / Double(unitsWorked) : nil
    }

    /// Counts the run's stored results (`controls`: what the control pass did, nil when it did not run).
    public static func collect(
        store: RunStore, run: RunInfo, reports: [UnitOutcome], usage: LLMUsage?, stoppedEarly: String?, simulatorMode: String?,
        controls: ControlPass.Outcome? = nil
    ) throws -> RunSummary {
        let units = try store.progress(runID: run.id)
        var failures: [String: Int] = [:]
        var byKind: [String: KindScores] = [:]
        var ratings: [Int: Int] = [:]
        var spearmans: [UnitKind: [Double?]] = [:]
        var pearsons: [UnitKind: [Double?]] = [:]
        var scored = 0
        let failedRatings = Set(reports.filter { $0.failedRatings > 0 }.map(\.unit))
        for unit in units {
            let kind = unit.unit.unit.kind
            byKind[kind.rawValue, default: KindScores(units: 0, scored: 0, undefined: 0)].units += 1
            if unit.isDead {
                failures["dead", default: 0] += 1
                continue
            }
            guard unit.explanation != nil else {
                failures["explanation", default: 0] += 1
                continue
            }
            if unit.failedSimulations > 0 { failures["simulation", default: 0] += unit.failedSimulations }
            for scorer in StoredClassification.Scorer.allCases where unit.failedClassifications(scorer) > 0 {
                failures[scorer.rawValue, default: 0] += unit.failedClassifications(scorer)
            }
            if let spearman = unit.score(.spearman, .all) {
                scored += 1
                byKind[kind.rawValue]?.scored += 1
                spearmans[kind, default: []].append(spearman)
                if spearman == nil {
                    failures["undefined-score", default: 0] += 1
                    byKind[kind.rawValue]?.undefined += 1
                }
                pearsons[kind, default: []].append(unit.score(.pearson, .all) ?? nil)
            }
            for rating in unit.ratings.values { ratings[rating, default: 0] += 1 }
            if unit.failedRatings > 0 || failedRatings.contains(unit.unit.unit) {
                failures["rubric", default: 0] += max(unit.failedRatings, unit.rubricExamples - unit.ratings.count)
            }
        }
        for (kind, values) in spearmans {
            let summary = Summary.summarize(values, threshold: 0)
            byKind[kind.rawValue]?.meanSpearman = summary.mean
            byKind[kind.rawValue]?.medianSpearman = summary.median
            byKind[kind.rawValue]?.meanPearson = Summary.summarize(pearsons[kind] ?? [], threshold: 0).mean
        }
        let callFailures = reports.count { $0.failureKind == "llm-call" }
        if callFailures > 0 { failures["llm-call"] = callFailures }
        let notes = reports.filter { $0.status != .complete }.sorted { $0.unit < $1.unit }.map { report in
            UnitNote(
                unit: report.unit.description, kind: report.status == .dead ? "dead" : report.failureKind ?? report.status.rawValue,
                reason: report.reason ?? report.status.rawValue)
        }
        let histograms = RubricTable.byKind(try store.rubricHistogram(runID: run.id))
        var summary = RunSummary(
            run: run.name, database: store.path, units: units.count, scored: scored, failures: failures, byKind: byKind, ratings: ratings,
            rubricByKind: Dictionary(uniqueKeysWithValues: histograms.map { ($0.key.rawValue, $0.value) }),
            notes: notes, stoppedEarly: stoppedEarly, calls: usage?.calls ?? 0, cachedCalls: usage?.cachedCalls ?? 0,
            promptTokens: usage?.promptTokens ?? 0, completionTokens: usage?.completionTokens ?? 0, cost: usage?.cost,
            unitsWorked: reports.count { $0.storedSomething || $0.status == .failed }, simulatorMode: simulatorMode)
        summary.stages = try store.stageUsage()
        if let controls { summary.controls = try controlSummary(store: store, run: run, outcome: controls) }
        summary.refusedExplanations = try refusedExplanations(store: store, run: run)
        summary.alikeExplanations = try alikeWarning(store: store, run: run)
        return summary
    }

    /// The control pass counted from the store, with this invocation's failures.
    static func controlSummary(store: RunStore, run: RunInfo, outcome: ControlPass.Outcome) throws -> ControlSummary {
        let controls = try store.controlProgress(runID: run.id)
        var byKind: [String: KindScores] = [:]
        var spearmans: [UnitKind: [Double?]] = [:]
        var pearsons: [UnitKind: [Double?]] = [:]
        for control in controls {
            let kind = control.unit.unit.kind
            byKind[kind.rawValue, default: KindScores(units: 0, scored: 0, undefined: 0)].units += 1
            guard let spearman = control.score(.spearman, .all) else { continue }
            byKind[kind.rawValue]?.scored += 1
            if spearman == nil { byKind[kind.rawValue]?.undefined += 1 }
            spearmans[kind, default: []].append(spearman)
            pearsons[kind, default: []].append(control.score(.pearson, .all) ?? nil)
        }
        for (kind, values) in spearmans {
            let summary = Summary.summarize(values, threshold: 0)
            byKind[kind.rawValue]?.meanSpearman = summary.mean
            byKind[kind.rawValue]?.medianSpearman = summary.median
            byKind[kind.rawValue]?.meanPearson = Summary.summarize(pearsons[kind] ?? [], threshold: 0).mean
        }
        let notes = outcome.reports.filter { $0.status == .failed || $0.status == .waiting || $0.status == .cancelled }
            .sorted { $0.unit < $1.unit }
            .map { UnitNote(unit: $0.unit.description, kind: $0.failureKind ?? $0.status.rawValue, reason: $0.reason ?? $0.status.rawValue) }
        return ControlSummary(
            controls: controls.count, scored: byKind.values.reduce(0) { $0 + $1.scored },
            failed: outcome.reports.count { $0.status == .failed }, waiting: outcome.reports.count { $0.status == .waiting },
            byKind: byKind, skipped: outcome.skipped, notes: notes)
    }

    /// The summary's lines on the control pass (empty when it did not run).
    var controlLines: [String] {
        guard let controls else { return [] }
        func number(_ value: Double?) -> String { value.map { String(format: "%.3f", $0) } ?? "n/a" }
        var head = "controls (another unit's explanation, the random floor): \(controls.controls) stored, \(controls.scored) scored, \(controls.failed) failed"
        if controls.waiting > 0 { head += ", \(controls.waiting) waiting" }
        var lines = [head]
        for kind in controls.byKind.keys.sorted() {
            let k = controls.byKind[kind]!
            lines.append(
                "  \(kind) controls: \(k.scored) scored (\(k.undefined) undefined); Spearman mean \(number(k.meanSpearman)), median \(number(k.medianSpearman))")
        }
        for reason in controls.skipped { lines.append("  no control: \(reason)") }
        for note in controls.notes.prefix(5) { lines.append("  control of \(note.unit): \(note.kind): \(note.reason)") }
        if controls.notes.count > 5 { lines.append("  … and \(controls.notes.count - 5) more controls (see summary.json)") }
        return lines
    }

    /// The summary as printed at the end of `autointerp run`.
    public var text: String {
        func number(_ value: Double?) -> String { value.map { String(format: "%.3f", $0) } ?? "n/a" }
        var lines: [String] = []
        lines.append("run '\(run)': \(units) units, \(scored) scored (\(database))")
        for kind in byKind.keys.sorted() {
            let k = byKind[kind]!
            lines.append(
                "  \(kind)s: \(k.units) units, \(k.scored) scored (\(k.undefined) undefined); Spearman mean \(number(k.meanSpearman)), median \(number(k.medianSpearman)); Pearson mean \(number(k.meanPearson))")
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

    /// Writes the summary as JSON to `url`.
    public func write(to url: URL) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        do {
            try encoder.encode(self).write(to: url, options: .atomic)
        } catch {
            throw AutoInterpError.io(url.path, "cannot write the run summary: \(error.localizedDescription)")
        }
    }
}
