import Foundation

extension ReportCharts {
    /// Colour of the control (random-explanation floor) bars.
    public static let controlColour = "#8a8f98"

    /// One scorer's headline values by group: features, neurons, then the controls of every unit
    /// (the floor), each only when it has a defined value.
    public static func scorerGroups(_ report: RunReport, _ scorer: ReportScorer) -> [(label: String, colour: String, values: [Double])] {
        var groups: [(label: String, colour: String, values: [Double])] = []
        for kind in report.kinds {
            let values = report.definedScores(scorer, kind: kind)
            if !values.isEmpty { groups.append(("\(kind.plural)", kindColours[kind] ?? "#555", values)) }
        }
        let controls = report.units.compactMap { $0.control?.score(scorer.metric, scorer.subset)?.value ?? nil }.filter { !$0.isNaN }
        if !controls.isEmpty { groups.append(("controls", controlColour, controls)) }
        return groups
    }

    /// The value range a scorer's chart spans: [-1, 1] for a correlation (chance 0), else [0, 1].
    public static func scorerDomain(_ scorer: ReportScorer) -> ClosedRange<Double> {
        scorer.chance == 0 ? -1...1 : 0...1
    }

    /// Counts of `values` in `bins` equal bins of `domain` (the top value falls in the last bin; values outside are clamped).
    public static func histogram(_ values: [Double], bins: Int, domain: ClosedRange<Double>) -> [Int] {
        var counts = [Int](repeating: 0, count: bins)
        let width = domain.upperBound - domain.lowerBound
        for value in values where value.isFinite {
            let position = Int(((value - domain.lowerBound) / width * Double(bins)).rounded(.down))
            counts[Swift.min(bins - 1, Swift.max(0, position))] += 1
        }
        return counts
    }

    /// Grouped bars of the share of each group's defined values per bin (features, neurons and
    /// the controls beside them), with the groups' medians and the scorer's chance level as lines.
    public static func scorerHistogram(_ report: RunReport, _ scorer: ReportScorer) -> String {
        let bins = 10
        let domain = scorerDomain(scorer)
        let groups = scorerGroups(report, scorer)
        let shares = groups.map { group in
            histogram(group.values, bins: bins, domain: domain).map { Double($0) / Double(group.values.count) }
        }
        let counts = groups.map { histogram($0.values, bins: bins, domain: domain) }
        let top = LinearScale.niceMax(shares.flatMap { $0 }.max() ?? 0.1, count: 5)
        let (width, height) = (1000.0, 260.0)
        let (left, right, topMargin, bottom) = (52.0, 16.0, 40.0, 44.0)
        let x = LinearScale(domain: domain, range: left...(width - right))
        let y = LinearScale(domain: 0...top, range: topMargin...(height - bottom), flipped: true)
        var svg = SVG(width: width, height: height)
        let step = (domain.upperBound - domain.lowerBound) / 4
        let ticks = stride(from: domain.lowerBound, through: domain.upperBound + 1e-9, by: step).map { $0 }
        axes(&svg, x: x, y: y, xTicks: ticks, yPercent: true)
        svg.text(scorer.title, x: (left + width - right) / 2, y: height - 8, anchor: "middle")
        svg.text("share of scored units", x: 12, y: 16, cssClass: "label")
        let slot = (x.range.upperBound - x.range.lowerBound) / Double(bins)
        let barWidth = (slot - 2) / Double(Swift.max(1, groups.count))
        svg.open(["class": "plot", "data-baseline": SVG.number(y(0)), "data-y-scale": "\(y.pixelsPerUnit)", "data-scorer": scorer.name])
        for (g, group) in groups.enumerated() {
            for bin in 0..<bins {
                let share = shares[g][bin]
                let low = domain.lowerBound + step * 4 * Double(bin) / Double(bins)
                let high = domain.lowerBound + step * 4 * Double(bin + 1) / Double(bins)
                let barHeight = share * y.pixelsPerUnit
                svg.rect(
                    x: x.range.lowerBound + Double(bin) * slot + 1 + Double(g) * barWidth, y: y(0) - barHeight,
                    width: barWidth, height: barHeight, fill: group.colour, value: share,
                    extra: ["data-group": group.label, "data-count": String(counts[g][bin]), "data-bin": String(bin)],
                    title: "\(group.label) in (\(ReportText.fixed(low, 2)), \(ReportText.fixed(high, 2))]: "
                        + "\(counts[g][bin]) (\(ReportText.percent(share)))")
            }
        }
        svg.close()
        if let chance = scorer.chance {
            svg.line(
                x1: x(chance), y1: topMargin - 4, x2: x(chance), y2: y(0), cssClass: "chance",
                extra: ["stroke": "#444", "data-value": ReportText.json(chance)])
        }
        for (g, group) in groups.enumerated() {
            let median = ScorerColumn.quantile(group.values.sorted(), 0.5)
            if let median {
                svg.line(
                    x1: x(median), y1: topMargin - 4, x2: x(median), y2: y(0), cssClass: "median",
                    extra: ["stroke": group.colour, "data-group": group.label, "data-value": ReportText.json(median)])
            }
            let legendX = left + 120 + Double(g) * 280
            svg.rect(x: legendX, y: 8, width: 12, height: 12, fill: group.colour, cssClass: "swatch")
            svg.text("\(group.label): n = \(group.values.count), median \(ReportText.fixed(median, 2))", x: legendX + 16, y: 18)
        }
        return svg.render(label: "Distribution of \(scorer.title) for features, neurons and the controls")
    }

    /// The same distribution as a Markdown table: one row per bin (highest first), per group the
    /// count and a bar of its share.
    public static func scorerHistogramRows(_ report: RunReport, _ scorer: ReportScorer) -> (header: [String], rows: [[String]]) {
        let bins = 10
        let domain = scorerDomain(scorer)
        let groups = scorerGroups(report, scorer)
        let counts = groups.map { histogram($0.values, bins: bins, domain: domain) }
        let width = (domain.upperBound - domain.lowerBound) / Double(bins)
        var rows: [[String]] = []
        for bin in (0..<bins).reversed() {
            let low = domain.lowerBound + width * Double(bin)
            var row = ["(\(ReportText.fixed(low, 1)), \(ReportText.fixed(low + width, 1))]"]
            for (g, group) in groups.enumerated() {
                let share = Double(counts[g][bin]) / Double(group.values.count)
                row.append("\(counts[g][bin]) " + String(repeating: "█", count: Int((share * 30).rounded())))
            }
            rows.append(row)
        }
        return ([scorer.name] + groups.map(\.label), rows)
    }
}
