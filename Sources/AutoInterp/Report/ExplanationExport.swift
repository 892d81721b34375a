import Foundation

/// One row per explanation of a run, with its unit, scores and rubric histogram, as JSONL or CSV.
///
/// Field names follow Neuronpedia's explanation exports where there is one (`modelId`, `layer`,
/// `index`, `description`, `typeName` for the explainer, `explanationModelName`), camelCase
/// otherwise. Fields, in order:
/// - `run`, `modelId` and `layer` (the dataset's `__metadata__` `model`/`layer`, recorded in the run config; else null),
///   `kind` (`feature`|`neuron`), `index`, `unitId`, `maxActivation`, `density`;
/// - `explanationId`, `typeName`, `explanationModelName`, `description`, `createdAt`,
///   `latest` (true for the unit's latest explanation by this explainer);
/// - scores `spearmanAll`, `spearmanTop`, `spearmanRandom`, `pearsonAll`, `pearsonTop`,
///   `pearsonRandom` (null when missing or undefined), `undefinedReasons` (JSONL: an object
///   `{"spearmanRandom": "…"}`; CSV: `spearmanRandom: …; …`), `n` (pairs behind Spearman/all);
/// - `simulations`, `failedSimulations`;
/// - `rubricHistogram`: rating counts `[[r0, r1, r2, r3], …]` indexed by bin (0 = non-activating),
///   empty when unrated (CSV: the same JSON text in one field).
public enum ExplanationExport {
    /// The output format.
    public enum Format: String, Sendable, CaseIterable {
        case jsonl
        case csv
    }

    /// One exported row.
    public struct Row: Sendable {
        public var run: String
        public var modelId: String?
        public var layer: String?
        public var unit: UnitRef
        public var unitID: Int64
        public var maxActivation: Double?
        public var density: Double?
        public var explanationID: Int64
        public var explainer: String
        public var model: String
        public var text: String
        public var createdAt: String
        public var latest: Bool
        public var scores: [StoredScore]
        public var simulations: Int
        public var failedSimulations: Int
        public var rubric: RubricTable?

        /// The value of a score, nil when missing or undefined.
        public func value(_ metric: StoredScore.Metric, _ subset: StoredScore.Subset) -> Double? {
            scores.first { $0.metric == metric && $0.subset == subset }?.value
        }
    }

    /// The export's column names, in order.
    public static let columns = [
        "run", "modelId", "layer", "kind", "index", "unitId", "maxActivation", "density", "explanationId", "typeName",
        "explanationModelName", "description", "createdAt", "latest", "spearmanAll", "spearmanTop", "spearmanRandom",
        "pearsonAll", "pearsonTop", "pearsonRandom", "undefinedReasons", "n", "simulations", "failedSimulations",
        "rubricHistogram",
    ]

    // MARK: - Rows

    /// Every explanation of `run`, by kind, index, then explanation id.
    public static func rows(store: RunStore, run: RunInfo) throws -> [Row] {
        // The model and layer the dataset says it comes from (`__metadata__` `model`, `layer`).
        let dataset = (try? store.config(runID: run.id))?.dataset
        var scores: [Int64: [StoredScore]] = [:]
        for score in try store.scores(runID: run.id) { scores[score.explanationID, default: []].append(score.score) }
        var rubric: [Int64: RubricTable] = [:]
        for row in try store.rubricHistogram(runID: run.id) {
            rubric[row.explanationID, default: RubricTable()].add(bin: row.bin, rating: row.rating, count: row.count)
        }
        let simulations = try store.simulationCounts(runID: run.id)
        return try store.explanationListings(runID: run.id).map { row in
            Row(
                run: run.name, modelId: dataset?.model, layer: dataset?.layer, unit: row.unit,
                unitID: row.unitID, maxActivation: row.maxActivation, density: row.density,
                explanationID: row.id, explainer: row.explainer, model: row.model,
                text: row.text, createdAt: row.createdAt, latest: row.latest,
                scores: scores[row.id] ?? [], simulations: simulations[row.id]?.total ?? 0,
                failedSimulations: simulations[row.id]?.failed ?? 0, rubric: rubric[row.id])
        }
    }

    // MARK: - Writing

    /// The rows as text in `format` (JSONL: one object per line; CSV: a header line, then rows).
    public static func render(_ rows: [Row], format: Format) -> String {
        switch format {
        case .jsonl:
            return rows.map(jsonLine).joined()
        case .csv:
            return columns.joined(separator: ",") + "\r\n" + rows.map(csvLine).joined()
        }
    }

    private static func scoreName(_ metric: StoredScore.Metric, _ subset: StoredScore.Subset) -> String {
        metric.rawValue + subset.rawValue.prefix(1).uppercased() + subset.rawValue.dropFirst()
    }

    private static func scoreCells(_ row: Row) -> [(name: String, value: Double?)] {
        StoredScore.Metric.allCases.flatMap { metric in
            StoredScore.Subset.allCases.map { subset in (scoreName(metric, subset), row.value(metric, subset)) }
        }
    }

    private static func undefinedReasons(_ row: Row) -> [(String, String)] {
        row.scores.compactMap { score in score.undefinedReason.map { (scoreName(score.metric, score.subset), $0) } }
    }

    private static func rubricJSON(_ row: Row) -> String {
        guard let rubric = row.rubric, rubric.total > 0 else { return "[]" }
        return "[" + rubric.counts.map { "[" + $0.map(String.init).joined(separator: ",") + "]" }.joined(separator: ",") + "]"
    }

    private static func spearmanN(_ row: Row) -> Int? {
        row.scores.first { $0.metric == .spearman && $0.subset == .all }?.n
    }

    private static func jsonLine(_ row: Row) -> String {
        func string(_ text: String?) -> String { text.map(ReportText.json) ?? "null" }
        var fields: [String] = [
            "\"run\":\(string(row.run))", "\"modelId\":\(string(row.modelId))", "\"layer\":\(string(row.layer))",
            "\"kind\":\"\(row.unit.kind.rawValue)\"", "\"index\":\(row.unit.index)", "\"unitId\":\(row.unitID)",
            "\"maxActivation\":\(ReportText.json(row.maxActivation))", "\"density\":\(ReportText.json(row.density))",
            "\"explanationId\":\(row.explanationID)", "\"typeName\":\(string(row.explainer))",
            "\"explanationModelName\":\(string(row.model))", "\"description\":\(string(row.text))",
            "\"createdAt\":\(string(row.createdAt))", "\"latest\":\(row.latest)",
        ]
        fields += scoreCells(row).map { "\"\($0.name)\":\(ReportText.json($0.value))" }
        fields.append(
            "\"undefinedReasons\":{" + undefinedReasons(row).map { "\"\($0.0)\":\(ReportText.json($0.1))" }.joined(separator: ",")
                + "}")
        fields.append("\"n\":\(spearmanN(row).map(String.init) ?? "null")")
        fields.append("\"simulations\":\(row.simulations)")
        fields.append("\"failedSimulations\":\(row.failedSimulations)")
        fields.append("\"rubricHistogram\":\(rubricJSON(row))")
        return "{" + fields.joined(separator: ",") + "}\n"
    }

    private static func csvLine(_ row: Row) -> String {
        func number(_ value: Double?) -> String { value.flatMap { $0.isFinite ? $0.description : nil } ?? "" }
        // Text from the database or the LLM goes through `csvText` (spreadsheet-safe); numbers,
        // which may begin with '-', are written as they are.
        func text(_ value: String) -> String { ReportText.csvText(value) }
        var cells: [String] = [
            text(row.run), text(row.modelId ?? ""), text(row.layer ?? ""), text(row.unit.kind.rawValue), String(row.unit.index),
            String(row.unitID), number(row.maxActivation), number(row.density), String(row.explanationID), text(row.explainer),
            text(row.model), text(row.text), text(row.createdAt), row.latest ? "true" : "false",
        ]
        cells += scoreCells(row).map { number($0.value) }
        cells.append(text(undefinedReasons(row).map { "\($0.0): \($0.1)" }.joined(separator: "; ")))
        cells.append(spearmanN(row).map(String.init) ?? "")
        cells.append(String(row.simulations))
        cells.append(String(row.failedSimulations))
        cells.append(ReportText.csv(rubricJSON(row)))
        return cells.joined(separator: ",") + "\r\n"
    }
}
