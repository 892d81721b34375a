import Foundation

/// Renders a ``RunReport`` as one self-contained HTML file: inline CSS, inline SVG, a small
/// inline script, no network.
///
/// The page is well-formed XML (XHTML syntax: every element closed, only XML's predefined
/// entities, the script in a CDATA section) so tests can parse it with an XML parser.
/// The run overview is static HTML and SVG drawn in Swift. The unit index and unit cards are
/// drawn by the script from one JSON block (`<script type="application/json" id="report-data">`),
/// a page of the index at a time and a card only when opened, so 10,000 units stay light in
/// the browser. Every string from the database is escaped: as HTML text in the static part,
/// and as JSON with `<`, `>`, `&` written as `\u003c`, `\u003e`, `\u0026` in the data block
/// (the script then only ever sets `textContent`).
public struct HTMLReport: Sendable {
    public var report: RunReport

    public init(_ report: RunReport) {
        self.report = report
    }

    /// The whole document.
    public func render() -> String {
        var html = """
            <!DOCTYPE html>
            <html xmlns="http://www.w3.org/1999/xhtml" lang="en">
            <head>
            <meta charset="utf-8"/>
            <meta name="viewport" content="width=device-width, initial-scale=1"/>
            <title>autointerp report: \(ReportText.html(report.run.name))</title>
            <style>
            \(Self.css)
            </style>
            </head>
            <body>

            """
        html += header()
        html += overview()
        html += scorerSection()
        html += rubricSection()
        html += costSection()
        html += unitsSection()
        html += "<script type=\"application/json\" id=\"report-data\">" + ReportData.json(report) + "</script>\n"
        html += "<script>//<![CDATA[\n" + Self.script + "\n//]]></script>\n"
        html += "</body>\n</html>\n"
        return html
    }

    // MARK: - Sections

    private func header() -> String {
        let run = report.run
        var parts = [
            "database <code>\(ReportText.html(report.databasePath))</code>",
            "created \(ReportText.html(run.createdAt.formatted(.iso8601)))",
            "status <b>\(ReportText.html(run.status.rawValue))</b>",
            "\(ReportText.count(report.units.count)) units",
        ]
        if let explainer = report.explainer {
            parts.append("explainer <b>\(ReportText.html(explainer))</b>")
        }
        if report.explainerCounts.count > 1 {
            let all = report.explainerCounts.sorted { $0.key < $1.key }.map { "\($0.key) (\($0.value))" }
            parts.append("all explainers: \(ReportText.html(all.joined(separator: ", ")))")
        }
        return """
            <header>
            <h1>autointerp run <span class="run-name">\(ReportText.html(run.name))</span></h1>
            <p class="meta">\(parts.joined(separator: " · "))</p>
            <nav><a href="#overview">Scores</a> \(hasScorerSection ? "<a href=\"#scorers\">Scorers</a> " : "")<a href="#rubric">Rubric</a> <a href="#cost">Cost and failures</a> <a href="#units">Units</a></nav>
            </header>

            """
    }

    private func overview() -> String {
        let kinds = report.columnKinds
        var rows: [(String, [String])] = []
        func row(_ label: String, _ value: (UnitKind) -> String) { rows.append((label, kinds.map(value))) }
        let summaries = Dictionary(uniqueKeysWithValues: kinds.map { ($0, report.summary($0, threshold: 0)) })
        row("units") { ReportText.count(report.units($0).count) }
        row("explained") { kind in ReportText.count(report.units(kind).count { $0.explanation != nil }) }
        row("scored (defined)") { ReportText.count(summaries[$0]!.definedCount) }
        row("undefined score") { ReportText.count(summaries[$0]!.undefinedCount) }
        row("median Spearman") { ReportText.fixed(summaries[$0]!.median, 3) }
        row("mean Spearman") { ReportText.fixed(summaries[$0]!.mean, 3) }
        for threshold in report.options.thresholds {
            row("share &gt; \(ReportText.fixed(threshold, 2))") {
                ReportText.percent(report.summary($0, threshold: threshold).shareAbove)
            }
        }
        row("failed simulations") { kind in
            let counts = report.simulationCounts(kind)
            return "\(ReportText.count(counts.failed)) of \(ReportText.count(counts.total))"
        }
        var html = """
            <section id="overview">
            <h2>Features vs neurons: explanation scores</h2>
            <p class="note">A unit's score is the Spearman correlation between simulated and true activations over all
            its scored records (subset <code>all</code>) for its latest explanation by the report's explainer.
            Undefined scores (a constant side) are counted apart, never as 0; shares are of defined scores.</p>
            <table class="summary" id="summary-table">
            <thead><tr><th></th>\(kinds.map { "<th>\($0.plural)</th>" }.joined())</tr></thead>
            <tbody>

            """
        for (label, values) in rows {
            html += "<tr><th>\(label)</th>\(values.map { "<td>\($0)</td>" }.joined())</tr>\n"
        }
        html += "</tbody>\n</table>\n"
        html += "<p class=\"rank-test\">\(rankTestSentence())</p>\n"
        html += "<figure>\n" + ReportCharts.scoreHistogram(report) + "\n" + ReportCharts.scoreBoxes(report)
        html += "\n<figcaption>Bars: share of each kind's defined scores per bin of width "
        html += "\(ReportText.fixed(2 / Double(Swift.max(2, report.options.histogramBins)), 2)); "
        html += "dashed lines: medians. Boxes: quartiles, whiskers 1.5 IQR.</figcaption>\n</figure>\n</section>\n"
        return html
    }

    /// Whether the page has the scorer tables: controls, or more than one scorer.
    private var hasScorerTables: Bool {
        !report.scorers.isEmpty && (report.hasControls || report.scorers.count > 1)
    }

    /// Whether the page has the scorer section (the tables, or the agreement of two scorers or more).
    private var hasScorerSection: Bool { hasScorerTables || !ScorerAgreement(report).isEmpty }

    /// Per scorer, features vs neurons vs the controls, and the scorers' agreement (only what the run has).
    private func scorerSection() -> String {
        let tables = ScorerTable.all(report)
        let agreement = ScorerAgreement(report)
        let showTables = hasScorerTables
        guard showTables || !agreement.isEmpty else { return "" }
        var html = "<section id=\"scorers\">\n<h2>Scorers: features vs neurons vs the random floor</h2>\n"
        func table(id: String, header: [String], rows: [[String]]) -> String {
            var text = "<table class=\"summary\" id=\"\(id)\">\n<thead><tr>"
            text += header.map { "<th>\(ReportText.html($0))</th>" }.joined() + "</tr></thead>\n<tbody>\n"
            for row in rows {
                text += "<tr><th>\(ReportText.html(row[0]))</th>" + row.dropFirst().map { "<td>\(ReportText.html($0))</td>" }.joined() + "</tr>\n"
            }
            return text + "</tbody>\n</table>\n"
        }
        if showTables {
            html += "<p class=\"note\">\(ReportText.html(ScorerTable.note))</p>\n"
            if let note = ScorerTable.controlNote(report) { html += "<p class=\"note\">\(ReportText.html(note))</p>\n" }
            for scorerTable in tables {
                html += "<h3>\(ReportText.html(scorerTable.scorer.title))</h3>\n"
                html += table(id: "scorer-\(scorerTable.scorer.name)", header: scorerTable.header, rows: scorerTable.rows)
                html += "<figure>\n" + ReportCharts.scorerHistogram(report, scorerTable.scorer)
                html += "\n<figcaption>Share of each group's defined scores per tenth of the range; solid lines: medians, "
                html += "dark line: chance.</figcaption>\n</figure>\n"
            }
        }
        if !agreement.isEmpty {
            html += "<h3>Agreement between scorers</h3>\n<p class=\"note\">Spearman correlation of the per-unit scores of two scorers, "
            html += "over the units (both kinds) where both are defined; rubric = mean rating on the top activation bins"
            html += (report.rubricTopBins.map { " (\($0.lowerBound)–\($0.upperBound))" } ?? "")
            html += "; brackets: 95% bootstrap interval (units resampled as pairs).</p>\n"
            let (header, rows) = agreement.rows()
            html += table(id: "scorer-agreement", header: header, rows: rows)
        }
        return html + "</section>\n"
    }

    private func rankTestSentence() -> String {
        guard let test = report.rankTest else {
            return "Mann-Whitney U test: needs defined scores of both features and neurons."
        }
        return "Mann-Whitney U test, features vs neurons (two-sided): U = \(ReportText.fixed(test.u, 1)), "
            + "z = \(ReportText.fixed(test.z, 2)), p = \(ReportText.pValue(test.p)); "
            + "P(a random feature outscores a random neuron) = "
            + "\(ReportText.fixed(test.effectSize, 3, interval: report.rankTestEffectSizeCI)) "
            + "(n = \(test.n1) features, \(test.n2) neurons; 95% bootstrap CI in brackets)."
    }

    private func rubricSection() -> String {
        var html = """
            <section id="rubric">
            <h2>Specificity rubric</h2>
            <p class="note">For each activation bin, the share of examples the judge rated 0, 1, 2 or 3
            (Templeton et al. 2024). Counts are over every rated example of the report explanations.</p>

            """
        guard UnitKind.allCases.contains(where: { report.rubric($0).total > 0 }) else {
            if let why = report.rubricFailureSummary {
                return html + "<p>\(ReportText.html(why))</p>\n</section>\n"
            }
            // The local baseline has no judge: say so rather than draw empty charts.
            return html + "<p>No rubric ratings in this run (the rubric needs an LLM judge: give the run an LLM endpoint and model).</p>\n</section>\n"
        }
        if let why = report.rubricFailureSummary { html += "<p class=\"note\">\(ReportText.html(why))</p>\n" }
        html += ReportCharts.ratingLegend() + "\n<div class=\"charts\">\n"
        for kind in report.columnKinds {
            html += ReportCharts.rubric(report.rubric(kind), title: "\(kind.plural)") + "\n"
        }
        html += "</div>\n</section>\n"
        return html
    }

    private func costSection() -> String {
        var html = "<section id=\"cost\">\n<h2>Cost and failures</h2>\n"
        if report.otherRuns.isEmpty {
            html += "<p class=\"note\">LLM calls logged in this run's database.</p>\n"
        } else {
            html += "<p class=\"note\">LLM calls logged in this database, which it shares with "
            html += "\(ReportText.html(report.otherRuns.joined(separator: ", "))): the log is kept per request, not per run.</p>\n"
        }
        let prices = report.prices
        html += "<table class=\"usage\" id=\"usage-table\">\n<thead><tr><th>model</th><th>calls</th><th>cached</th>"
        html += "<th>failed</th><th>prompt tokens</th><th>completion tokens</th><th>mean latency</th>"
        if let prices { html += "<th>cost (\(ReportText.html(prices.currency)))</th>" }
        html += "</tr></thead>\n<tbody>\n"
        let rows = report.usage.count > 1 ? report.usage + [report.totalUsage] : report.usage
        for usage in rows {
            html += "<tr><td>\(ReportText.html(usage.model))</td><td>\(ReportText.count(usage.calls))</td>"
            html += "<td>\(ReportText.count(usage.cached))</td><td>\(ReportText.count(usage.failed))</td>"
            html += "<td>\(ReportText.count(usage.promptTokens))</td><td>\(ReportText.count(usage.completionTokens))</td>"
            html += "<td>\(usage.calls > 0 ? ReportText.fixed(usage.latencyMs / Double(usage.calls), 0) + " ms" : "–")</td>"
            if let prices {
                let cost = usage.model == "all" && report.usage.count > 1 ? report.totalCost : prices.cost(of: usage)
                html += "<td>\(ReportText.fixed(cost, 4, placeholder: "no price"))</td>"
            }
            html += "</tr>\n"
        }
        if report.usage.isEmpty { html += "<tr><td colspan=\"7\">no LLM calls logged</td></tr>\n" }
        html += "</tbody>\n</table>\n"
        if report.usedBatches, let prices {
            html += "<p class=\"note\" id=\"batch-cost\">Paid \(ReportText.fixed(report.totalCost, 4, placeholder: "no price")) "
            html += "\(ReportText.html(prices.currency)) with batch lines at the batch price; all in real time it would have been "
            html += "\(ReportText.fixed(report.totalRealtimeCost, 4, placeholder: "no price")).</p>\n"
        }
        if !report.stages.isEmpty {
            html += "<table class=\"usage\" id=\"stage-table\">\n<thead><tr><th>stage</th><th>calls</th><th>cached calls</th>"
            html += "<th>prompt tokens</th><th>of which cached</th><th>completion tokens</th><th>calls per unit</th><th>tokens per unit</th></tr></thead>\n<tbody>\n"
            for stage in report.stages {
                let sent = stage.calls - stage.cachedCalls
                html += "<tr><td>\(ReportText.html(stage.stage))</td><td>\(ReportText.count(sent))</td><td>\(ReportText.count(stage.cachedCalls))</td>"
                html += "<td>\(ReportText.count(stage.promptTokens))</td><td>\(ReportText.count(stage.cachedPromptTokens))</td>"
                html += "<td>\(ReportText.count(stage.completionTokens))</td>"
                html += "<td>\(stage.units > 0 ? ReportText.fixed(Double(sent) / Double(stage.units), 1) : "–")</td>"
                html += "<td>\(stage.units > 0 ? ReportText.count((stage.promptTokens + stage.completionTokens) / stage.units) : "–")</td></tr>\n"
            }
            html += "</tbody>\n</table>\n"
        }
        if prices == nil {
            html += "<p class=\"note\">No prices for this run, so tokens only "
            html += "(run again with prices per million tokens to show money).</p>\n"
        }
        html += groupTable(title: "Failed simulations", id: "failures-table", groups: report.failures)
        html += groupTable(title: "Undefined scores", id: "undefined-table", groups: report.undefinedScores)
        html += groupTable(title: "Refused explanations", id: "refused-table", groups: report.refusedExplanationGroups)
        html += "</section>\n"
        return html
    }

    private func groupTable(title: String, id: String, groups: [FailureGroup]) -> String {
        var html = "<h3>\(title)</h3>\n"
        guard !groups.isEmpty else { return html + "<p class=\"note\">none</p>\n" }
        html += "<table class=\"reasons\" id=\"\(id)\">\n<thead><tr><th>kind</th><th>count</th><th>reason</th></tr></thead>\n<tbody>\n"
        for group in groups.prefix(20) {
            html += "<tr><td>\(group.kind.label)</td><td>\(ReportText.count(group.count))</td>"
            html += "<td>\(ReportText.html(group.reason))</td></tr>\n"
        }
        if groups.count > 20 {
            html += "<tr><td colspan=\"3\">… \(groups.count - 20) more reasons</td></tr>\n"
        }
        return html + "</tbody>\n</table>\n"
    }

    private func unitsSection() -> String {
        let negativeOption = report.kinds.contains(.negativeNeuron) ? "<option value=\"neuron_negative\">neurons (−)</option>" : ""
        return """
        <section id="units">
        <h2>Units</h2>
        <div class="controls">
        <label>kind <select id="kind-filter"><option value="all">all</option><option value="feature">features</option><option value="neuron">neurons</option>\(negativeOption)</select></label>
        <label>sort <select id="sort"><option value="score-desc">score, best first</option><option value="score-asc">score, worst first</option><option value="index">kind and index</option><option value="density-desc">density, highest first</option><option value="max-desc">max activation, highest first</option></select></label>
        <label>search <input id="search" type="search" placeholder="explanation text or feature 12"/></label>
        <span id="shown"></span>
        </div>
        <table class="index" id="unit-index">
        <thead><tr><th>unit</th><th>score</th><th>control</th><th>top</th><th>random</th><th>density</th><th>max act.</th><th>explanation</th></tr></thead>
        <tbody id="unit-rows"><tr><td colspan="8">The unit index needs JavaScript.</td></tr></tbody>
        </table>
        <div class="pager"><button id="prev" type="button">previous</button> <span id="page"></span> <button id="next" type="button">next</button></div>
        <p class="note">Click a row for the unit's card: explanation, scores by subset, activation histogram, top examples
        (each token shaded by its activation; hover for the value) and rubric ratings per bin.</p>
        </section>

        """
    }
}
