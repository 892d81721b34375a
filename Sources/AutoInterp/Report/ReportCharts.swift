import Foundation

/// The report's SVG figures, drawn from data with ``SVG`` and ``LinearScale``.
///
/// Every bar carries `data-value` (the number it encodes); every plot area is a
/// `<g class="plot">` with `data-baseline` (the pixel y of value 0) and `data-y-scale` (pixels
/// per unit of value), so a bar's height is `value × scale` and its bottom is the baseline.
/// Axis ticks are `<line class="tick">` with `data-tick` (their value), placed by the same scale.
public enum ReportCharts {
    /// Colours per kind and per rubric rating (0 unrelated … 3 cleanly identifies).
    public static let kindColours: [UnitKind: String] = [.feature: "#2b6cb0", .neuron: "#dd8a2b", .negativeNeuron: "#9b2c2c"]
    public static let ratingColours = ["#c9ced6", "#f2c879", "#8cc98a", "#2f8f4e"]

    // MARK: - Score histogram

    /// Counts of scores in `bins` equal bins of [-1, 1] (1 falls in the last bin; values outside are clamped).
    public static func histogram(_ scores: [Double], bins: Int) -> [Int] {
        var counts = [Int](repeating: 0, count: bins)
        for score in scores where score.isFinite {
            let position = Int(((score + 1) / 2 * Double(bins)).rounded(.down))
            counts[Swift.min(bins - 1, Swift.max(0, position))] += 1
        }
        return counts
    }

    /// Grouped bars of the share of defined Spearman scores per bin, one colour per kind, with median lines.
    public static func scoreHistogram(_ report: RunReport) -> String {
        let bins = Swift.max(2, report.options.histogramBins)
        let kinds = report.kinds
        var shares: [UnitKind: [Double]] = [:]
        var counts: [UnitKind: [Int]] = [:]
        for kind in kinds {
            let defined = report.scores(kind).compactMap { $0 }
            let histogram = histogram(defined, bins: bins)
            counts[kind] = histogram
            shares[kind] = histogram.map { defined.isEmpty ? 0 : Double($0) / Double(defined.count) }
        }
        let top = LinearScale.niceMax(shares.values.flatMap { $0 }.max() ?? 0.1, count: 5)
        let (width, height) = (1000.0, 300.0)
        let (left, right, topMargin, bottom) = (52.0, 16.0, 40.0, 44.0)
        let x = LinearScale(domain: -1...1, range: left...(width - right))
        let y = LinearScale(domain: 0...top, range: topMargin...(height - bottom), flipped: true)
        var svg = SVG(width: width, height: height)
        axes(&svg, x: x, y: y, xTicks: stride(from: -1.0, through: 1.0, by: 0.25).map { $0 }, yPercent: true)
        svg.text("Spearman correlation (subset all)", x: (left + width - right) / 2, y: height - 8, anchor: "middle")
        svg.text("share of scored units", x: 12, y: 16, cssClass: "label")

        let slot = (x.range.upperBound - x.range.lowerBound) / Double(bins)
        let barWidth = (slot - 2) / Double(Swift.max(1, kinds.count))
        svg.open(["class": "plot", "data-baseline": SVG.number(y(0)), "data-y-scale": "\(y.pixelsPerUnit)"])
        for (k, kind) in kinds.enumerated() {
            for bin in 0..<bins {
                let share = shares[kind]![bin]
                let low = -1 + 2 * Double(bin) / Double(bins), high = -1 + 2 * Double(bin + 1) / Double(bins)
                let barHeight = share * y.pixelsPerUnit
                svg.rect(
                    x: x.range.lowerBound + Double(bin) * slot + 1 + Double(k) * barWidth, y: y(0) - barHeight,
                    width: barWidth, height: barHeight, fill: kindColours[kind]!, value: share,
                    extra: ["data-kind": kind.rawValue, "data-count": String(counts[kind]![bin]), "data-bin": String(bin)],
                    title: "\(kind.plural) in (\(ReportText.fixed(low, 2)), \(ReportText.fixed(high, 2))]: "
                        + "\(counts[kind]![bin]) (\(ReportText.percent(share)))")
            }
        }
        svg.close()
        // Medians and the legend.
        for (k, kind) in kinds.enumerated() {
            let summary = report.summary(kind, threshold: 0)
            if let median = summary.median {
                svg.line(
                    x1: x(median), y1: topMargin - 4, x2: x(median), y2: y(0), cssClass: "median",
                    extra: [
                        "stroke": kindColours[kind]!, "data-kind": kind.rawValue, "data-value": ReportText.json(median),
                    ])
            }
            let legendX = left + 200 + Double(k) * 340
            svg.rect(x: legendX, y: 8, width: 12, height: 12, fill: kindColours[kind]!, cssClass: "swatch")
            svg.text(
                "\(kind.plural): n = \(summary.definedCount), median \(ReportText.fixed(summary.median, 2))"
                    + (summary.undefinedCount > 0 ? ", \(summary.undefinedCount) undefined" : ""),
                x: legendX + 16, y: 18)
        }
        return svg.render(label: "Distribution of Spearman scores, features vs neurons", cssClass: "chart wide")
    }

    // MARK: - Box plot

    /// One horizontal box per kind: quartiles, median and 1.5 IQR whiskers of the defined scores.
    public static func scoreBoxes(_ report: RunReport) -> String {
        let kinds = report.kinds
        let (width, rowHeight) = (1000.0, 34.0)
        let (left, right, topMargin) = (80.0, 16.0, 8.0)
        let height = topMargin + Double(kinds.count) * rowHeight + 30
        let x = LinearScale(domain: -1...1, range: left...(width - right))
        var svg = SVG(width: width, height: height)
        let axisY = topMargin + Double(kinds.count) * rowHeight
        svg.line(x1: left, y1: axisY, x2: width - right, y2: axisY, cssClass: "axis")
        for tick in stride(from: -1.0, through: 1.0, by: 0.25) {
            svg.line(
                x1: x(tick), y1: topMargin, x2: x(tick), y2: axisY + 4, cssClass: tick == 0 ? "grid zero" : "grid",
                extra: ["data-tick": ReportText.json(tick)])
            svg.text(String(format: "%g", tick), x: x(tick), y: axisY + 17, anchor: "middle", cssClass: "tick-label")
        }
        for (row, kind) in kinds.enumerated() {
            let values = report.scores(kind).compactMap { $0 }.sorted()
            let centre = topMargin + (Double(row) + 0.5) * rowHeight
            svg.text("\(kind.plural)", x: left - 8, y: centre + 4, anchor: "end")
            guard let q = quartiles(values) else { continue }
            let colour = kindColours[kind]!
            svg.open(["class": "box", "data-kind": kind.rawValue])
            svg.line(x1: x(q.low), y1: centre, x2: x(q.q1), y2: centre, cssClass: "whisker", extra: ["stroke": colour])
            svg.line(x1: x(q.q3), y1: centre, x2: x(q.high), y2: centre, cssClass: "whisker", extra: ["stroke": colour])
            svg.rect(
                x: x(q.q1), y: centre - 10, width: x(q.q3) - x(q.q1), height: 20, fill: colour, cssClass: "iqr",
                extra: ["data-q1": ReportText.json(q.q1), "data-q3": ReportText.json(q.q3)],
                title: "\(kind.plural): Q1 \(ReportText.fixed(q.q1, 3)), median \(ReportText.fixed(q.median, 3)), "
                    + "Q3 \(ReportText.fixed(q.q3, 3))")
            svg.line(
                x1: x(q.median), y1: centre - 10, x2: x(q.median), y2: centre + 10, cssClass: "box-median",
                extra: ["data-value": ReportText.json(q.median)])
            svg.close()
        }
        return svg.render(label: "Spearman score quartiles per kind", cssClass: "chart wide")
    }

    /// Quartiles (linear interpolation) and 1.5 IQR whisker ends of sorted `values`; nil when empty.
    public static func quartiles(_ values: [Double]) -> (low: Double, q1: Double, median: Double, q3: Double, high: Double)? {
        guard !values.isEmpty else { return nil }
        func quantile(_ p: Double) -> Double {
            let position = p * Double(values.count - 1)
            let lower = Int(position.rounded(.down)), upper = Int(position.rounded(.up))
            return values[lower] + (values[upper] - values[lower]) * (position - Double(lower))
        }
        let q1 = quantile(0.25), q3 = quantile(0.75)
        let reach = 1.5 * (q3 - q1)
        let low = values.first { $0 >= q1 - reach } ?? values[0]
        let high = values.last { $0 <= q3 + reach } ?? values[values.count - 1]
        return (low, q1, quantile(0.5), q3, high)
    }

    // MARK: - Rubric

    /// Stacked bars: for each activation bin, the share of ratings 0, 1, 2, 3 (Scaling Monosemanticity).
    public static func rubric(_ table: RubricTable, title: String) -> String {
        let (width, height) = (440.0, 250.0)
        let (left, right, topMargin, bottom) = (44.0, 8.0, 40.0, 40.0)
        let bins = table.maxBin + 1
        let y = LinearScale(domain: 0...1, range: topMargin...(height - bottom), flipped: true)
        let slot = (width - left - right) / Double(bins)
        var svg = SVG(width: width, height: height)
        svg.text(title, x: left, y: 14, cssClass: "chart-title")
        for tick in y.ticks(count: 4) {
            svg.line(
                x1: left - 4, y1: y(tick), x2: width - right, y2: y(tick), cssClass: tick == 0 ? "axis" : "grid tick",
                extra: ["data-tick": ReportText.json(tick)])
            svg.text(ReportText.percent(tick).replacingOccurrences(of: ".0%", with: "%"), x: left - 7, y: y(tick) + 4,
                     anchor: "end", cssClass: "tick-label")
        }
        svg.open(["class": "plot", "data-baseline": SVG.number(y(0)), "data-y-scale": "\(y.pixelsPerUnit)"])
        for bin in 0..<bins {
            let total = table.total(bin: bin)
            let barX = left + Double(bin) * slot + 3
            var top = y(0)
            for rating in RubricTable.ratings {
                guard let share = table.share(bin: bin, rating: rating) else { continue }
                let barHeight = share * y.pixelsPerUnit
                top -= barHeight
                svg.rect(
                    x: barX, y: top, width: slot - 6, height: barHeight, fill: ratingColours[rating], value: share,
                    extra: ["data-bin": String(bin), "data-rating": String(rating), "data-count": String(table.counts[bin][rating])],
                    title: "bin \(RubricTable.label(bin: bin)), rating \(rating): \(table.counts[bin][rating]) of \(total)"
                        + " (\(ReportText.percent(share)))")
            }
        }
        svg.close()
        for bin in 0..<bins {
            let centre = left + (Double(bin) + 0.5) * slot
            svg.text(RubricTable.label(bin: bin), x: centre, y: height - bottom + 14, anchor: "middle", cssClass: "tick-label")
            svg.text(
                ReportText.shortCount(table.total(bin: bin)), x: centre, y: topMargin - 10, anchor: "middle",
                cssClass: "count-label", extra: ["data-count": String(table.total(bin: bin))])
        }
        svg.text("n", x: left - 7, y: topMargin - 10, anchor: "end", cssClass: "count-label")
        svg.text("activation bin (none = non-activating; 1–\(bins - 1) = tenths of max)", x: (left + width - right) / 2,
                 y: height - 8, anchor: "middle")
        return svg.render(label: title, cssClass: "chart")
    }

    /// The rating legend (0 … 3) as a small SVG.
    public static func ratingLegend() -> String {
        let names = ["0 unrelated", "1 related to context", "2 loosely related", "3 cleanly identifies"]
        var svg = SVG(width: 620, height: 22)
        for (rating, name) in names.enumerated() {
            let x = Double(rating) * 155
            svg.rect(x: x, y: 5, width: 12, height: 12, fill: ratingColours[rating], cssClass: "swatch")
            svg.text(name, x: x + 16, y: 15)
        }
        return svg.render(label: "Rubric ratings", cssClass: "legend")
    }

    // MARK: - Axes

    static func axes(_ svg: inout SVG, x: LinearScale, y: LinearScale, xTicks: [Double], yPercent: Bool) {
        for tick in y.ticks(count: 5) {
            svg.line(
                x1: x.range.lowerBound - 4, y1: y(tick), x2: x.range.upperBound, y2: y(tick),
                cssClass: tick == 0 ? "axis" : "grid tick", extra: ["data-tick": ReportText.json(tick)])
            let label = yPercent ? String(format: "%g%%", (tick * 1000).rounded() / 10) : String(format: "%g", tick)
            svg.text(label, x: x.range.lowerBound - 7, y: y(tick) + 4, anchor: "end", cssClass: "tick-label")
        }
        for tick in xTicks {
            svg.line(
                x1: x(tick), y1: y.range.upperBound, x2: x(tick), y2: y.range.upperBound + 4, cssClass: "xtick",
                extra: ["data-tick": ReportText.json(tick)])
            svg.text(String(format: "%g", tick), x: x(tick), y: y.range.upperBound + 17, anchor: "middle", cssClass: "tick-label")
        }
    }
}
