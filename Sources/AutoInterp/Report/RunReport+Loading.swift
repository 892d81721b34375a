import Foundation

// MARK: - Loading

extension RunReport {
    /// Reads everything the report shows about `run` from `store`, with a handful of read-only queries.
    ///
    /// - Throws: ``AutoInterpError`` when `options.explainer` names an explainer with no
    ///   explanations in the run, or the database cannot be read.
    public static func load(from store: RunStore, run: RunInfo, options: ReportOptions = ReportOptions()) throws
        -> RunReport
    {
        let storedUnits = try store.units(runID: run.id)

        // Explanations: counts per explainer, then the latest of the chosen explainer per unit.
        let explanationRows = try store.explanationListings(runID: run.id).sorted { $0.id < $1.id }
        var counts: [String: Int] = [:]
        var latest: [String: Int64] = [:]
        var perUnit: [Int64: Int] = [:]
        for row in explanationRows {
            counts[row.explainer, default: 0] += 1
            latest[row.explainer] = row.id
            perUnit[row.unitID, default: 0] += 1
        }
        let explainer: String?
        if let wanted = options.explainer {
            guard counts[wanted] != nil else {
                let known = counts.keys.sorted().joined(separator: ", ")
                throw AutoInterpError.invalidInput(
                    "run '\(run.name)' in \(store.path) has no explanations by explainer '\(wanted)'"
                        + " (explainers there: \(known.isEmpty ? "none" : known))")
            }
            explainer = wanted
        } else {
            explainer = counts.keys.max { a, b in (counts[a]!, latest[a]!) < (counts[b]!, latest[b]!) }
        }
        var chosen: [Int64: ExplanationReport] = [:]
        for row in explanationRows where row.explainer == explainer {
            chosen[row.unitID] = ExplanationReport(id: row.id, explainer: row.explainer, model: row.model, text: row.text, scores: [])
        }
        let unitOfExplanation = Dictionary(uniqueKeysWithValues: chosen.map { ($1.id, $0) })

        // Controls (another unit's explanation scored on this one): the first per unit.
        var controls: [Int64: ExplanationReport] = [:]
        for control in try store.controlExplanations(runID: run.id) where controls[control.unitID] == nil {
            controls[control.unitID] = ExplanationReport(
                id: control.id, explainer: control.explainer, model: control.model, text: control.text, scores: [])
        }
        let unitOfControl = Dictionary(uniqueKeysWithValues: controls.map { ($1.id, $0) })

        // Scores of the chosen explanations and of the controls.
        for score in try store.scores(runID: run.id) {
            if let unitID = unitOfExplanation[score.explanationID] {
                chosen[unitID]?.scores.append(score.score)
            } else if let unitID = unitOfControl[score.explanationID] {
                controls[unitID]?.scores.append(score.score)
            }
        }

        // Rubric counts of the chosen explanations.
        var rubric: [Int64: RubricTable] = [:]
        for row in try store.rubricHistogram(runID: run.id) {
            guard let unitID = unitOfExplanation[row.explanationID] else { continue }
            rubric[unitID, default: RubricTable()].add(bin: row.bin, rating: row.rating, count: row.count)
        }

        // Simulation counts of the chosen explanations.
        var simulations: [Int64: SimulationCount] = [:]
        for (explanationID, count) in try store.simulationCounts(runID: run.id) {
            guard let unitID = unitOfExplanation[explanationID] else { continue }
            simulations[unitID] = count
        }

        let examples = try topExamples(store: store, runID: run.id, options: options)

        let units = storedUnits.map { stored in
            var unit = UnitReport(
                unitID: stored.id, statistics: stored.statistics, explanation: chosen[stored.id],
                explanationCount: perUnit[stored.id] ?? 0, examples: examples[stored.id] ?? [],
                rubric: rubric[stored.id] ?? RubricTable(), simulations: simulations[stored.id]?.total ?? 0,
                failedSimulations: simulations[stored.id]?.failed ?? 0)
            unit.control = controls[stored.id]
            return unit
        }

        var report = RunReport(
            run: run, databasePath: store.path, options: options, explainer: explainer, explainerCounts: counts,
            otherRuns: try store.runs().map(\.name).filter { $0 != run.name }, units: units,
            usage: try store.modelUsage(), prices: try store.prices(runID: run.id).map(TokenPrices.init),
            failures: try failureGroups(store, runID: run.id, explanations: Set(unitOfExplanation.keys)),
            undefinedScores: undefinedGroups(units))
        report.stages = try store.stageUsage()
        report.endpoints = try store.endpointUsage()
        report.rubricFailures = try store.rubricFailureCounts(runID: run.id).map { FailureGroup(kind: $0.kind, reason: $0.reason, count: $0.count) }
        report.refusedExplanationGroups = try store.explanationFailureGroups(runID: run.id)
            .map { FailureGroup(kind: $0.kind, reason: $0.reason, count: $0.count) }
        report.controlSample = (try? RunConfig.decode(run.configJSON))?.pipeline?.controls
        return report
    }

    // MARK: Queries

    /// The strongest `explain`/`top` examples of every unit, cut to the window.
    private static func topExamples(store: RunStore, runID: Int64, options: ReportOptions) throws -> [Int64:
        [ReportExample]]
    {
        guard options.examplesPerUnit > 0 else { return [:] }
        var result: [Int64: [ReportExample]] = [:]
        let rows = try store.topExampleTexts(runID: runID, limit: options.examplesPerUnit)
        for row in rows {
            result[row.unitID, default: []].append(
                ReportExample.window(tokens: row.tokens, activations: row.activations, size: options.exampleWindow))
        }
        return result
    }

    /// Failed simulations of the report explanations by kind and error.
    private static func failureGroups(_ store: RunStore, runID: Int64, explanations: Set<Int64>) throws -> [FailureGroup] {
        var groups: [String: [UnitKind: Int]] = [:]
        for failure in try store.simulationFailures(runID: runID) where explanations.contains(failure.explanationID) {
            groups[failure.error ?? "no reason recorded", default: [:]][failure.kind, default: 0] += failure.count
        }
        return sorted(groups)
    }

    /// Undefined Spearman/all scores by kind and reason.
    private static func undefinedGroups(_ units: [UnitReport]) -> [FailureGroup] {
        var groups: [String: [UnitKind: Int]] = [:]
        for unit in units {
            guard let score = unit.spearman, score.value == nil else { continue }
            groups[score.undefinedReason ?? "no reason recorded", default: [:]][unit.unit.kind, default: 0] += 1
        }
        return sorted(groups)
    }

    private static func sorted(_ groups: [String: [UnitKind: Int]]) -> [FailureGroup] {
        groups.flatMap { reason, kinds in kinds.map { FailureGroup(kind: $0.key, reason: reason, count: $0.value) } }
            .sorted { ($0.count, $1.kind, $1.reason) > ($1.count, $0.kind, $0.reason) }
    }
}
