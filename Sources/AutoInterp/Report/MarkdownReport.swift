import Foundation

/// Renders a ``RunReport`` as Markdown: the same numbers as the HTML report, as tables that read
/// well in a terminal and in a pull request.
public struct MarkdownReport: Sendable {
    public var report: RunReport

    public init(_ report: RunReport) {
        self.report = report
    }

    /// The whole document.
    public func render() -> String {
        var lines: [String] = []
        let run = report.run
        lines.append("# autointerp run `\(run.name.replacingOccurrences(of: "`", with: "'"))`")
        lines.append("")
        var meta = [
            "database `\(report.databasePath)`", "created \(run.createdAt.formatted(.iso8601))", "status \(run.status)",
            "\(report.units.count) units",
        ]
        if let explainer = report.explainer { meta.append("explainer \(ReportText.markdown(explainer))") }
        lines.append(meta.joined(separator: " · "))
        lines.append("")
        lines += scoreSection()
        lines += scorerSections()
        lines += rubricSection()
        lines += costSection()
        lines += unitLists()
        return lines.joined(separator: "\n") + "\n"
    }

    // MARK: - Sections

    private func scoreSection() -> [String] {
        var rows: [[String]] = []
        let kinds = report.columnKinds
        let summaries = kinds.map { report.summary($0, threshold: 0) }
        rows.append(["units"] + kinds.map { String(report.units($0).count) })
        rows.append(["explained"] + kinds.map { kind in String(report.units(kind).count { $0.explanation != nil }) })
        rows.append(["scored (defined)"] + summaries.map { String($0.definedCount) })
        rows.append(["undefined score"] + summaries.map { String($0.undefinedCount) })
        rows.append(["median Spearman"] + summaries.map { ReportText.fixed($0.median, 3) })
        rows.append(["mean Spearman"] + summaries.map { ReportText.fixed($0.mean, 3) })
        for threshold in report.options.thresholds {
            rows.append(
                ["share > \(ReportText.fixed(threshold, 2))"]
                    + kinds.map { ReportText.percent(report.summary($0, threshold: threshold).shareAbove) })
        }
        rows.append(
            ["failed simulations"]
                + kinds.map { kind in
                    let counts = report.simulationCounts(kind)
                    return "\(counts.failed) of \(counts.total)"
                })
        var lines = ["## Features vs neurons: explanation scores", ""]
        lines.append("Score = Spearman (subset `all`) of each unit's latest explanation; undefined scores are counted apart.")
        lines.append("")
        lines += Self.table(header: [""] + kinds.map { $0.plural }, rows: rows, rightAligned: Set(1...kinds.count))
        lines.append("")
        if let test = report.rankTest {
            lines.append(
                "Mann-Whitney U, features vs neurons (two-sided): U = \(ReportText.fixed(test.u, 1)), "
                    + "z = \(ReportText.fixed(test.z, 2)), p = \(ReportText.pValue(test.p)); "
                    + "P(feature > neuron) = \(ReportText.fixed(test.effectSize, 3, interval: report.rankTestEffectSizeCI)) "
                    + "(n = \(test.n1), \(test.n2); 95% bootstrap CI).")
        } else {
            lines.append("Mann-Whitney U: needs defined scores of both features and neurons.")
        }
        lines.append("")
        // A text histogram of the score distribution.
        let bins = 10
        var histogramRows: [[String]] = []
        let counts = kinds.map { ReportCharts.histogram(report.scores($0).compactMap { $0 }, bins: bins) }
        let totals = counts.map { $0.reduce(0, +) }
        for bin in (0..<bins).reversed() {
            let low = -1 + 2 * Double(bin) / Double(bins), high = low + 2 / Double(bins)
            var row = ["(\(ReportText.fixed(low, 1)), \(ReportText.fixed(high, 1))]"]
            for (k, _) in kinds.enumerated() {
                let share = totals[k] > 0 ? Double(counts[k][bin]) / Double(totals[k]) : 0
                row.append("\(counts[k][bin]) " + String(repeating: "█", count: Int((share * 40).rounded())))
            }
            histogramRows.append(row)
        }
        lines.append("Score distribution (count and bar of the share of each kind's defined scores):")
        lines.append("")
        lines += Self.table(header: ["Spearman"] + kinds.map { $0.plural }, rows: histogramRows)
        lines.append("")
        return lines
    }

    /// Per scorer, features vs neurons vs the controls, and the scorers' agreement; only what
    /// the run has (the simulation table alone when it adds the controls).
    private func scorerSections() -> [String] {
        let tables = ScorerTable.all(report)
        var lines: [String] = []
        if !tables.isEmpty, report.hasControls || tables.count > 1 {
            lines += ["## Scorers: features vs neurons vs the random floor", ""]
            lines += [ReportText.markdown(ScorerTable.note), ""]
            if let note = ScorerTable.controlNote(report) { lines += [ReportText.markdown(note), ""] }
            for table in tables {
                lines += ["### \(table.scorer.title)", ""]
                lines += Self.table(header: table.header, rows: table.rows, rightAligned: Set(1..<table.header.count))
                lines.append("")
                let histogram = ReportCharts.scorerHistogramRows(report, table.scorer)
                if histogram.header.count > 1 {
                    lines += ["Distribution (count and bar of the share of each group's defined scores):", ""]
                    lines += Self.table(header: histogram.header, rows: histogram.rows)
                    lines.append("")
                }
            }
        }
        let agreement = ScorerAgreement(report)
        if !agreement.isEmpty {
            lines += ["## Agreement between scorers", ""]
            lines.append(
                "Spearman correlation of the per-unit scores of two scorers, over the units (both kinds) where both are defined; "
                    + "rubric = mean rating on the top activation bins"
                    + (report.rubricTopBins.map { " (\($0.lowerBound)–\($0.upperBound))" } ?? "")
                    + "; brackets: 95% bootstrap interval (units resampled as pairs).")
            lines.append("")
            let (header, rows) = agreement.rows()
            lines += Self.table(header: header, rows: rows, rightAligned: Set(1..<header.count))
            lines.append("")
        }
        return lines
    }

    private func rubricSection() -> [String] {
        var lines = ["## Specificity rubric", ""]
        lines.append("Share of ratings 0 (unrelated) … 3 (cleanly identifies) per activation bin (none = non-activating).")
        lines.append("")
        if let why = report.rubricFailureSummary {
            lines.append(ReportText.markdown(why))
            lines.append("")
        }
        for kind in report.columnKinds {
            let table = report.rubric(kind)
            lines.append("### \(kind.plural)")
            lines.append("")
            guard table.total > 0 else {
                lines.append("no ratings")
                lines.append("")
                continue
            }
            var rows: [[String]] = []
            for bin in 0...table.maxBin {
                var row = [RubricTable.label(bin: bin), String(table.total(bin: bin))]
                row += RubricTable.ratings.map { ReportText.percent(table.share(bin: bin, rating: $0)) }
                row.append(ReportText.fixed(table.meanRating(bin: bin), 2))
                rows.append(row)
            }
            lines += Self.table(header: ["bin", "n", "0", "1", "2", "3", "mean"], rows: rows, rightAligned: Set(1...6))
            lines.append("")
        }
        return lines
    }

    private func costSection() -> [String] {
        var lines = ["## Cost and failures", ""]
        if !report.otherRuns.isEmpty {
            lines.append("The call log is shared with the other runs of this database (\(report.otherRuns.joined(separator: ", "))).")
            lines.append("")
        }
        if report.usage.isEmpty {
            lines.append("No LLM calls logged.")
        } else {
            var header = ["model", "calls", "cached", "failed", "prompt tokens", "completion tokens"]
            if let prices = report.prices { header.append("cost (\(prices.currency))") }
            let usages = report.usage.count > 1 ? report.usage + [report.totalUsage] : report.usage
            let rows = usages.map { usage -> [String] in
                var row = [
                    ReportText.markdown(usage.model), String(usage.calls), String(usage.cached), String(usage.failed),
                    String(usage.promptTokens), String(usage.completionTokens),
                ]
                if let prices = report.prices {
                    let cost = usage.model == "all" && report.usage.count > 1 ? report.totalCost : prices.cost(of: usage)
                    row.append(ReportText.fixed(cost, 4, placeholder: "no price"))
                }
                return row
            }
            lines += Self.table(header: header, rows: rows, rightAligned: Set(1..<header.count))
            if report.usedBatches, let prices = report.prices {
                lines.append("")
                lines.append(
                    "Paid \(ReportText.fixed(report.totalCost, 4, placeholder: "no price")) \(prices.currency) with batch lines at the batch "
                        + "price; all in real time it would have been \(ReportText.fixed(report.totalRealtimeCost, 4, placeholder: "no price")).")
            }
            if !report.stages.isEmpty {
                lines.append("")
                lines.append("By stage (calls that reached the endpoint; per unit over the units with such calls):")
                lines.append("")
                let stageRows = report.stages.map { s -> [String] in
                    let sent = s.calls - s.cachedCalls
                    return [
                        ReportText.markdown(s.stage), String(sent), String(s.cachedCalls), String(s.promptTokens), String(s.cachedPromptTokens),
                        String(s.completionTokens), s.units > 0 ? ReportText.fixed(Double(sent) / Double(s.units), 1) : "–",
                        s.units > 0 ? String((s.promptTokens + s.completionTokens) / s.units) : "–",
                    ]
                }
                lines += Self.table(
                    header: ["stage", "calls", "cached calls", "prompt tokens", "of which cached", "completion tokens", "calls per unit", "tokens per unit"],
                    rows: stageRows, rightAligned: Set(1..<8))
            }
            if report.endpoints.count > 1 {
                lines.append("")
                lines.append("By endpoint (calls that reached it; a pool's replicas):")
                lines.append("")
                lines += Self.table(
                    header: ["endpoint", "calls", "failed", "mean latency (ms)"],
                    rows: report.endpoints.map {
                        [ReportText.markdown($0.endpoint), String($0.calls), String($0.failed), ReportText.fixed($0.meanLatencyMs, 0)]
                    },
                    rightAligned: [1, 2, 3])
            }
        }
        lines.append("")
        for (title, groups) in [
            ("Failed simulations", report.failures), ("Undefined scores", report.undefinedScores),
            ("Refused explanations", report.refusedExplanationGroups),
        ] {
            lines.append("### \(title)")
            lines.append("")
            if groups.isEmpty {
                lines.append("none")
            } else {
                lines += Self.table(
                    header: ["kind", "count", "reason"],
                    rows: groups.prefix(20).map { [$0.kind.label, String($0.count), ReportText.markdown($0.reason)] },
                    rightAligned: [1])
            }
            lines.append("")
        }
        return lines
    }

    private func unitLists() -> [String] {
        var lines: [String] = ["## Units", ""]
        let count = report.options.markdownUnits
        for kind in report.kinds {
            let scored = report.units(kind).filter { $0.score != nil }.sorted { ($0.score!, $1.unit.index) > ($1.score!, $0.unit.index) }
            for (title, units) in [("best", Array(scored.prefix(count))), ("worst", Array(scored.suffix(count).reversed()))] {
                guard !units.isEmpty else { continue }
                lines.append("### \(kind.plural), \(title) \(units.count)")
                lines.append("")
                // Each scorer's value beside the unit's own floor (its control), when the run has them.
                let scorers = report.scorers.filter { $0 != ScoreStage.simulation }
                let controls = report.hasControls
                var header = ["unit", "score"] + (controls ? ["control"] : [])
                for scorer in scorers { header += [scorer.name] + (controls ? ["\(scorer.name) control"] : []) }
                header += ["density", "explanation"]
                lines += Self.table(
                    header: header,
                    rows: units.map { unit in
                        var row = ["\(unit.unit)", ReportText.fixed(unit.score, 3)]
                        if controls { row.append(ReportText.fixed(unit.controlScore, 3)) }
                        for scorer in scorers {
                            row.append(ReportText.fixed(unit.explanation?.score(scorer.metric, scorer.subset)?.value, 3))
                            if controls { row.append(ReportText.fixed(unit.control?.score(scorer.metric, scorer.subset)?.value, 3)) }
                        }
                        row += [
                            ReportText.percent(unit.statistics.density),
                            ReportText.markdown(Self.shortened(unit.explanation?.text ?? "", to: 100)),
                        ]
                        return row
                    }, rightAligned: Set(1..<(header.count - 1)))
                lines.append("")
            }
        }
        lines.append("Every unit with its card: `report.html`; every explanation and score: `autointerp export`.")
        return lines
    }

    // MARK: - Tables

    /// `text` cut to `length` characters with an ellipsis.
    static func shortened(_ text: String, to length: Int) -> String {
        text.count <= length ? text : String(text.prefix(length - 1)) + "…"
    }

    /// A Markdown table with columns padded to equal width (cells must already be escaped).
    public static func table(header: [String], rows: [[String]], rightAligned: Set<Int> = []) -> [String] {
        var widths = header.map(ReportText.displayWidth)
        for row in rows {
            for (i, cell) in row.enumerated() where i < widths.count {
                widths[i] = Swift.max(widths[i], ReportText.displayWidth(cell))
            }
        }
        widths = widths.map { Swift.max(3, $0) }
        func line(_ cells: [String]) -> String {
            let padded = cells.enumerated().map { i, cell in
                let pad = String(repeating: " ", count: Swift.max(0, widths[i] - ReportText.displayWidth(cell)))
                return rightAligned.contains(i) ? pad + cell : cell + pad
            }
            return "| " + padded.joined(separator: " | ") + " |"
        }
        let rule = "|" + widths.enumerated().map { i, width in
            rightAligned.contains(i) ? String(repeating: "-", count: width + 1) + ":" : String(repeating: "-", count: width + 2)
        }.joined(separator: "|") + "|"
        return [line(header), rule] + rows.map(line)
    }
}
