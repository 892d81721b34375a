import Foundation

/// Features vs neurons within one run, and a second run (or explainer) against the first on the
/// units both have, as text tables for `autointerp compare`.
///
/// Two sides are aligned on (kind, index). Paired statistics use the units whose score is
/// defined on both sides; units scored on one side only are counted, never dropped silently.
public struct RunComparison: Sendable {
    /// One side: a loaded report and its label (run name, plus the explainer when it matters).
    public struct Side: Sendable {
        public var label: String
        public var report: RunReport

        public init(label: String, report: RunReport) {
            self.label = label
            self.report = report
        }
    }

    /// Paired numbers for one kind, side B against side A.
    public struct PairedRow: Sendable, Equatable {
        public var kind: UnitKind
        /// Units of this kind present on both sides.
        public var shared: Int
        /// Shared units with a defined score on both sides.
        public var paired: Int
        /// Shared units with a defined score on side A only, on side B only.
        public var onlyA: Int
        public var onlyB: Int
        /// Medians of the paired scores on each side, and of the differences B − A.
        public var medianA: Double?
        public var medianB: Double?
        public var medianDifference: Double?
        public var meanDifference: Double?
        /// Paired units where B scores higher, lower, the same.
        public var bWins: Int
        public var aWins: Int
        public var ties: Int
        /// Mann-Whitney U of all defined B scores against all defined A scores of this kind (unpaired).
        public var rankTest: MannWhitneyResult?
        /// 95 % bootstrap intervals (seeded, 2,000 resamples) of the median and mean of the
        /// paired differences B − A, resampled by unit; nil without paired units.
        public var medianDifferenceCI: ConfidenceInterval? = nil
        public var meanDifferenceCI: ConfidenceInterval? = nil
        /// Unpaired: median of all defined B scores − median of all defined A scores of this kind,
        /// with its interval (the two sides resampled independently). The comparison to read when
        /// the runs hold different units.
        public var unpairedMedianDifference: Double? = nil
        public var unpairedMedianDifferenceCI: ConfidenceInterval? = nil
        /// The 95 % bootstrap interval of the rank test's P(B > A) (the sides resampled independently).
        public var probabilityBGreaterCI: ConfidenceInterval? = nil

        /// Share of paired units where B scores higher, ties counting one half.
        public var bWinRate: Double? {
            paired > 0 ? (Double(bWins) + Double(ties) / 2) / Double(paired) : nil
        }
    }

    public var sides: [Side]

    public init(sides: [Side]) {
        precondition((1...2).contains(sides.count), "a comparison has one or two sides")
        self.sides = sides
    }

    // MARK: - Numbers

    /// Side B against side A per kind present on both (simulation Spearman); empty with one side.
    public var paired: [PairedRow] { paired(ScoreStage.simulation) }

    /// Side B against side A on `scorer`'s headline metric, per kind present on both; empty with one side.
    public func paired(_ scorer: ReportScorer) -> [PairedRow] {
        guard sides.count == 2 else { return [] }
        let a = sides[0].report, b = sides[1].report
        let value: (UnitReport) -> Double? = { $0.explanation?.score(scorer.metric, scorer.subset)?.value }
        return UnitKind.allCases.compactMap { kind in
            Self.pair(a: a.units(kind), b: b.units(kind), kind: kind, value: value)
        }
    }

    /// Paired numbers of two lists of units of one kind (by default on the Spearman/all score),
    /// with the unpaired difference of medians beside them; nil when they share no unit and
    /// either side has no defined score.
    public static func pair(
        a: [UnitReport], b: [UnitReport], kind: UnitKind, value: (UnitReport) -> Double? = { $0.score }
    ) -> PairedRow? {
        let scoresA = Dictionary(a.map { ($0.unit.index, $0) }, uniquingKeysWith: { first, _ in first })
        var row = PairedRow(
            kind: kind, shared: 0, paired: 0, onlyA: 0, onlyB: 0, medianA: nil, medianB: nil, medianDifference: nil,
            meanDifference: nil, bWins: 0, aWins: 0, ties: 0, rankTest: nil)
        var pairedA: [Double] = [], pairedB: [Double] = [], differences: [Double] = []
        for unitB in b {
            guard let unitA = scoresA[unitB.unit.index] else { continue }
            row.shared += 1
            switch (value(unitA), value(unitB)) {
            case let (scoreA?, scoreB?):
                pairedA.append(scoreA)
                pairedB.append(scoreB)
                differences.append(scoreB - scoreA)
                if scoreB > scoreA { row.bWins += 1 } else if scoreB < scoreA { row.aWins += 1 } else { row.ties += 1 }
            case (_?, nil): row.onlyA += 1
            case (nil, _?): row.onlyB += 1
            case (nil, nil): break
            }
        }
        let allA = a.compactMap(value).filter { !$0.isNaN }, allB = b.compactMap(value).filter { !$0.isNaN }
        let bootstrap = Bootstrap()
        if let medianA = Bootstrap.median(allA), let medianB = Bootstrap.median(allB) {
            row.unpairedMedianDifference = medianB - medianA
            row.unpairedMedianDifferenceCI = bootstrap.medianDifference(allB, allA)
            row.probabilityBGreaterCI = bootstrap.probabilityGreater(allB, allA)
        }
        guard row.shared > 0 || row.unpairedMedianDifference != nil else { return nil }
        row.paired = differences.count
        let pairs = zip(pairedA, pairedB).map { ($0, $1) }
        row.medianDifferenceCI = bootstrap.pairedMedianDifference(pairs)
        row.meanDifferenceCI = bootstrap.interval(pairs: pairs) { Bootstrap.mean($0.map { $0.1 - $0.0 }) }
        row.medianA = Summary.summarize(pairedA, threshold: 0).median
        row.medianB = Summary.summarize(pairedB, threshold: 0).median
        let summary = Summary.summarize(differences, threshold: 0)
        row.medianDifference = summary.median
        row.meanDifference = summary.mean
        row.rankTest = RankTest.mannWhitneyU(b.compactMap(value), a.compactMap(value))
        return row
    }

    // MARK: - Text

    /// The comparison as Markdown-style text tables.
    public func render() -> String {
        var lines: [String] = []
        for side in sides {
            lines += Self.kindTable(side)
            lines.append("")
            lines += Self.scorerTables(side)
        }
        if sides.count == 2 {
            let scorers = sides[0].report.scorers.filter { scorer in sides[1].report.scorers.contains(scorer) }
            for scorer in scorers.isEmpty ? [ScoreStage.simulation] : scorers {
                lines += pairedTable(scorer)
            }
        }
        return lines.joined(separator: "\n")
    }

    /// Per scorer, features vs neurons vs the controls of one side (when the side has controls
    /// or a scorer beyond simulation).
    static func scorerTables(_ side: Side) -> [String] {
        let tables = ScorerTable.all(side.report)
        guard !tables.isEmpty, side.report.hasControls || tables.count > 1 else { return [] }
        var lines: [String] = []
        lines += floorTable(side.report, tables: tables, label: side.label)
        for table in tables {
            lines += ["## \(side.label): \(table.scorer.title), features vs neurons vs control", ""]
            lines += MarkdownReport.table(header: table.header, rows: table.rows, rightAligned: Set(1..<table.header.count))
            lines.append("")
        }
        if side.report.hasControls {
            lines += ["Control = each unit scored with another unit's explanation of the same kind (the random-explanation floor).", ""]
        }
        return lines
    }

    /// One row per scorer: the medians of features, neurons and the controls (the floor), with
    /// their counts; the table `autointerp demo` prints.
    static func floorTable(_ report: RunReport, tables: [ScorerTable], label: String) -> [String] {
        let header = ["median [95% CI] (n)"] + (tables.first?.header.dropFirst().map { $0 } ?? []) + ["features − neurons"]
        let rows = tables.map { table in
            [table.scorer.title] + table.columns.enumerated().map { i, column in
                // A scorer that scores no control (intruder: no explanation) has chance as its floor.
                if report.hasControls, i == table.columns.count - 1, column.stored == 0, let chance = table.scorer.chance {
                    return "chance \(ReportText.fixed(chance, 1))"
                }
                return "\(ReportText.fixed(column.median, 3, interval: column.medianCI)) (\(column.defined))"
            }
                + [ReportText.fixed(table.featuresMinusNeurons, 3, interval: table.featuresMinusNeuronsCI)]
        }
        var lines = ["## \(label): every scorer, features vs neurons\(report.hasControls ? " vs control" : "")", ""]
        lines += MarkdownReport.table(header: header, rows: rows, rightAligned: Set(1..<header.count))
        lines.append("")
        return lines
    }

    /// Side B against side A on one scorer.
    private func pairedTable(_ scorer: ReportScorer) -> [String] {
        var lines: [String] = []
        do {
            let a = sides[0].label, b = sides[1].label
            let what = scorer == ScoreStage.simulation ? "" : " (\(scorer.title))"
            lines.append("## \(b) vs \(a)\(what), on shared units (kind, index)")
            lines.append("")
            let rows = paired(scorer)
            if rows.isEmpty {
                lines.append("The two sides share no unit.")
            } else {
                lines += MarkdownReport.table(
                    header: [
                        "kind", "shared", "paired", "median A", "median B", "median B−A [95% CI]", "mean B−A [95% CI]", "B wins",
                        "A wins", "ties", "B win rate", "only A scored", "only B scored", "unpaired median B−A [95% CI]",
                    ],
                    rows: rows.map { row in
                        [
                            "\(row.kind.plural)", String(row.shared), String(row.paired), ReportText.fixed(row.medianA, 3),
                            ReportText.fixed(row.medianB, 3), ReportText.fixed(row.medianDifference, 3, interval: row.medianDifferenceCI),
                            ReportText.fixed(row.meanDifference, 3, interval: row.meanDifferenceCI), String(row.bWins), String(row.aWins),
                            String(row.ties), ReportText.percent(row.bWinRate), String(row.onlyA), String(row.onlyB),
                            ReportText.fixed(row.unpairedMedianDifference, 3, interval: row.unpairedMedianDifferenceCI),
                        ]
                    }, rightAligned: Set(1...13))
                lines.append("")
                lines.append(
                    "A = \(a), B = \(b). Win rate counts ties as one half. Brackets: 95% percentile-bootstrap intervals "
                        + "(2,000 seeded resamples; paired columns resampled by unit, the unpaired one by side: "
                        + "read it when the runs hold different units).")
                for row in rows {
                    guard let test = row.rankTest else { continue }
                    lines.append(
                        "\(row.kind.plural), all defined scores (unpaired Mann-Whitney U, B vs A): "
                            + "p = \(ReportText.pValue(test.p)), "
                            + "P(B > A) = \(ReportText.fixed(test.effectSize, 3, interval: row.probabilityBGreaterCI)).")
                }
            }
            lines.append("")
        }
        return lines
    }

    /// Features vs neurons of one side.
    static func kindTable(_ side: Side) -> [String] {
        let report = side.report
        let kinds = report.columnKinds
        let summaries = kinds.map { report.summary($0, threshold: 0) }
        var rows: [[String]] = [
            ["units"] + kinds.map { String(report.units($0).count) },
            ["scored (defined)"] + summaries.map { String($0.definedCount) },
            ["undefined score"] + summaries.map { String($0.undefinedCount) },
            ["median Spearman"] + summaries.map { ReportText.fixed($0.median, 3) },
            ["mean Spearman"] + summaries.map { ReportText.fixed($0.mean, 3) },
        ]
        for threshold in report.options.thresholds {
            rows.append(
                ["share > \(ReportText.fixed(threshold, 2))"]
                    + kinds.map { ReportText.percent(report.summary($0, threshold: threshold).shareAbove) })
        }
        var lines = ["## \(side.label): features vs neurons", ""]
        lines += MarkdownReport.table(header: [""] + kinds.map { $0.plural }, rows: rows, rightAligned: Set(1...kinds.count))
        lines.append("")
        if let test = report.rankTest {
            lines.append(
                "Mann-Whitney U (two-sided): U = \(ReportText.fixed(test.u, 1)), z = \(ReportText.fixed(test.z, 2)), "
                    + "p = \(ReportText.pValue(test.p)); "
                    + "P(feature > neuron) = \(ReportText.fixed(test.effectSize, 3, interval: report.rankTestEffectSizeCI)) "
                    + "(95% bootstrap CI).")
        } else {
            lines.append("Mann-Whitney U: needs defined scores of both features and neurons.")
        }
        return lines
    }
}
