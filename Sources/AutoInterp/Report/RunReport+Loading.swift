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
        let db = store.database
        let storedUnits = try store.units(runID: run.id)

        // Explanations: counts per explainer, then the latest of the chosen explainer per unit.
        let explanationRows = try db.query(
            """
            SELECT e.id, e.unit_id, e.explainer, e.model, e.text FROM explanations e
            JOIN units u ON u.id = e.unit_id WHERE u.run_id = ? ORDER BY e.id
            """, [run.id])
        var counts: [String: Int] = [:]
        var latest: [String: Int64] = [:]
        var perUnit: [Int64: Int] = [:]
        for row in explanationRows {
            let explainer = row.string("explainer") ?? ""
            counts[explainer, default: 0] += 1
            latest[explainer] = row.int64("id") ?? 0
            perUnit[row.int64("unit_id") ?? 0, default: 0] += 1
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
        for row in explanationRows where row.string("explainer") == explainer {
            let id = row.int64("id") ?? 0
            chosen[row.int64("unit_id") ?? 0] = ExplanationReport(
                id: id, explainer: explainer ?? "", model: row.string("model") ?? "", text: row.string("text") ?? "",
                scores: [])
        }
        let unitOfExplanation = Dictionary(uniqueKeysWithValues: chosen.map { ($1.id, $0) })

        // Scores of the chosen explanations.
        for score in try store.scores(runID: run.id) {
            guard let unitID = unitOfExplanation[score.explanationID] else { continue }
            chosen[unitID]?.scores.append(score.score)
        }

        // Rubric counts of the chosen explanations.
        var rubric: [Int64: RubricTable] = [:]
        for row in try store.rubricHistogram(runID: run.id) {
            guard let unitID = unitOfExplanation[row.explanationID] else { continue }
            rubric[unitID, default: RubricTable()].add(bin: row.bin, rating: row.rating, count: row.count)
        }

        // Simulation counts of the chosen explanations.
        var simulations: [Int64: (failed: Int, total: Int)] = [:]
        for row in try db.query(
            """
            SELECT s.explanation_id AS id, SUM(s.status = 'failed') AS failed, COUNT(*) AS total FROM simulations s
            JOIN explanations e ON e.id = s.explanation_id JOIN units u ON u.id = e.unit_id
            WHERE u.run_id = ? GROUP BY s.explanation_id
            """, [run.id])
        {
            guard let unitID = unitOfExplanation[row.int64("id") ?? 0] else { continue }
            simulations[unitID] = (row.int("failed") ?? 0, row.int("total") ?? 0)
        }

        let examples = try topExamples(store: store, runID: run.id, options: options)

        let units = storedUnits.map { stored in
            UnitReport(
                unitID: stored.id, statistics: stored.statistics, explanation: chosen[stored.id],
                explanationCount: perUnit[stored.id] ?? 0, examples: examples[stored.id] ?? [],
                rubric: rubric[stored.id] ?? RubricTable(), simulations: simulations[stored.id]?.total ?? 0,
                failedSimulations: simulations[stored.id]?.failed ?? 0)
        }

        return RunReport(
            run: run, databasePath: store.path, options: options, explainer: explainer, explainerCounts: counts,
            otherRuns: try store.runs().map(\.name).filter { $0 != run.name }, units: units,
            usage: try usage(db), prices: TokenPrices.parse(configJSON: run.configJSON),
            failures: try failureGroups(db, runID: run.id, explanations: Set(unitOfExplanation.keys)),
            undefinedScores: undefinedGroups(units))
    }

    // MARK: Queries

    /// The strongest `explain`/`top` examples of every unit, cut to the window.
    private static func topExamples(store: RunStore, runID: Int64, options: ReportOptions) throws -> [Int64:
        [ReportExample]]
    {
        guard options.examplesPerUnit > 0 else { return [:] }
        var result: [Int64: [ReportExample]] = [:]
        let rows = try store.database.query(
            """
            WITH ranked AS (
                SELECT x.id,
                       ROW_NUMBER() OVER (PARTITION BY x.unit_id ORDER BY x.max_activation DESC, x.record_idx) AS rank
                FROM examples x JOIN units u ON u.id = x.unit_id
                WHERE u.run_id = ? AND x.role = 'explain' AND x.subset = 'top'
            )
            SELECT x.unit_id, x.tokens_json, x.acts_json FROM ranked r JOIN examples x ON x.id = r.id
            WHERE r.rank <= ? ORDER BY x.unit_id, r.rank
            """, [runID, options.examplesPerUnit])
        for row in rows {
            guard let tokens = parseStrings(row.string("tokens_json") ?? "[]") else {
                throw AutoInterpError.database(
                    store.path, "column examples.tokens_json does not hold a JSON array of strings (was it edited by hand?)")
            }
            let activations = parseNumbers(row.string("acts_json") ?? "[]")
            result[row.int64("unit_id") ?? 0, default: []].append(
                ReportExample.window(tokens: tokens, activations: activations, size: options.exampleWindow))
        }
        return result
    }

    /// The call log by model.
    private static func usage(_ db: SQLiteDatabase) throws -> [ModelUsage] {
        try db.query(
            """
            SELECT model, COUNT(*) AS calls, SUM(cached) AS cached,
                   SUM(error IS NOT NULL OR status_code IS NULL OR status_code NOT BETWEEN 200 AND 299) AS failed,
                   TOTAL(prompt_tokens) AS prompt, TOTAL(completion_tokens) AS completion,
                   TOTAL(CASE WHEN cached = 0 THEN prompt_tokens END) AS billed_prompt,
                   TOTAL(CASE WHEN cached = 0 THEN completion_tokens END) AS billed_completion,
                   TOTAL(latency_ms) AS latency
            FROM llm_calls GROUP BY model ORDER BY model
            """
        ).map { row in
            var usage = ModelUsage(model: row.string("model") ?? "")
            usage.calls = row.int("calls") ?? 0
            usage.cached = row.int("cached") ?? 0
            usage.failed = row.int("failed") ?? 0
            usage.promptTokens = Int(row.double("prompt") ?? 0)
            usage.completionTokens = Int(row.double("completion") ?? 0)
            usage.billedPromptTokens = Int(row.double("billed_prompt") ?? 0)
            usage.billedCompletionTokens = Int(row.double("billed_completion") ?? 0)
            usage.latencyMs = row.double("latency") ?? 0
            return usage
        }
    }

    /// Failed simulations of the report explanations by kind and error.
    private static func failureGroups(_ db: SQLiteDatabase, runID: Int64, explanations: Set<Int64>) throws
        -> [FailureGroup]
    {
        var groups: [String: [UnitKind: Int]] = [:]
        for row in try db.query(
            """
            SELECT s.explanation_id AS id, u.kind AS kind, s.error AS error, COUNT(*) AS count FROM simulations s
            JOIN explanations e ON e.id = s.explanation_id JOIN units u ON u.id = e.unit_id
            WHERE u.run_id = ? AND s.status = 'failed' GROUP BY s.explanation_id, u.kind, s.error
            """, [runID])
        {
            guard explanations.contains(row.int64("id") ?? 0),
                let kind = row.string("kind").flatMap(UnitKind.init(rawValue:))
            else { continue }
            groups[row.string("error") ?? "no reason recorded", default: [:]][kind, default: 0] += row.int("count") ?? 0
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
