import Foundation

/// One scorer's numbers as a table: features vs neurons vs the random floor (the units'
/// controls), shared by the Markdown and HTML reports and `autointerp compare`.
public struct ScorerTable: Sendable, Equatable {
    public var scorer: ReportScorer
    /// `""`, `features`, `neurons`, and `control` when the run has controls.
    public var header: [String]
    /// Label first, then one cell per column (plain text: escape for HTML).
    public var rows: [[String]]
    /// The columns' statistics, in header order (after the label).
    public var columns: [ScorerColumn]
    /// Median of features − median of neurons with its 95 % bootstrap interval (the two kinds
    /// resampled independently); nil without defined scores of both kinds.
    public var featuresMinusNeurons: Double?
    public var featuresMinusNeuronsCI: ConfidenceInterval?

    /// The table of `scorer` in `report`.
    public init(_ report: RunReport, scorer: ReportScorer) {
        self.scorer = scorer
        let kinds = report.columnKinds
        var columns = kinds.map { report.scorerColumn(scorer, kind: $0, control: false) }
        header = [""] + kinds.map { $0.plural }
        let controls = report.hasControls
        if controls {
            columns.append(report.scorerColumn(scorer, kind: nil, control: true))
            header.append("control")
        }
        self.columns = columns
        var rows: [[String]] = [
            ["scored"] + columns.map { String($0.stored) },
            ["undefined"] + columns.map { String($0.stored - $0.defined) },
            ["median"] + columns.map { ReportText.fixed($0.median, 3, interval: $0.medianCI) },
            ["quartiles (Q1 – Q3)"] + columns.map { $0.q1 == nil ? "–" : "\(ReportText.fixed($0.q1, 3)) – \(ReportText.fixed($0.q3, 3))" },
            ["mean"] + columns.map { ReportText.fixed($0.mean, 3, interval: $0.meanCI) },
        ]
        let features = report.definedScores(scorer, kind: .feature), neurons = report.definedScores(scorer, kind: .neuron)
        if let difference = Bootstrap().medianDifferenceWithInterval(features, neurons) {
            featuresMinusNeurons = difference.value
            featuresMinusNeuronsCI = difference.interval
            rows.append(
                ["median features − neurons"] + [ReportText.fixed(difference.value, 3, interval: difference.interval)]
                    + Array(repeating: "", count: columns.count - 1))
        }
        for (i, threshold) in scorer.thresholds.enumerated() {
            rows.append(
                ["share > \(ReportText.fixed(threshold, 1))"]
                    + columns.map { column in
                        let interval = column.shareAboveCI.indices.contains(i) ? column.shareAboveCI[i] : nil
                        return ReportText.percent(column.shareAbove[i], interval: interval)
                    })
        }
        for (i, extra) in scorer.extras.enumerated() {
            rows.append([extra.label] + columns.map { ReportText.fixed($0.extraMedians[i], 3) })
        }
        if let baseline = scorer.baseline {
            rows.append(
                ["median \(baseline.rawValue) − \(scorer.subset.rawValue) per unit"]
                    + columns.map { column in
                        guard let pairs = column.baselinePairs, pairs > 0 else { return "–" }
                        return "\(ReportText.fixed(column.baselineDrop, 3, interval: column.baselineDropCI)) (n \(pairs))"
                    })
        }
        if controls {
            rows.append(
                ["above own control"]
                    + columns.map { column in
                        guard let pairs = column.floorPairs else { return "–" }
                        return "\(ReportText.percent(column.aboveFloor, interval: column.aboveFloorCI)) (n \(pairs))"
                    })
        }
        self.rows = rows
    }

    /// The note under every scorer table.
    public static let note =
        "Shares are of defined scores; undefined ones are counted apart. Control = each unit scored with another unit's explanation "
        + "of the same kind (explainer 'control', a seeded derangement): the random-explanation floor, both kinds pooled. "
        + "\"Above own control\": share of units scoring higher than their own control (ties count one half), "
        + "over units where both are defined. "
        + "Brackets: 95% percentile-bootstrap intervals (2,000 seeded resamples over units; the control share resampled by unit pair, "
        + "features − neurons by kind)."

    /// How many units the control column holds and how they were chosen, e.g. "Controls: 100 of
    /// 240 explained units (a seeded sample of at most 50 explained units per kind)"; nil without controls.
    public static func controlNote(_ report: RunReport) -> String? {
        guard report.hasControls else { return nil }
        let controlled = report.units.count { $0.control != nil }
        let explained = report.units.count { $0.explanation != nil }
        let how = report.controlSample.map { "; control sample \($0): \($0.words)" } ?? ""
        return "Controls: \(controlled) of \(explained) explained units\(how)."
    }

    /// The tables of every scorer the run has scores of.
    public static func all(_ report: RunReport) -> [ScorerTable] {
        report.scorers.map { ScorerTable(report, scorer: $0) }
    }
}
