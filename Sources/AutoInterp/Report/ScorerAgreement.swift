import Foundation

/// How far the scorers agree about which units are well explained: Spearman correlations
/// between the per-unit scores of every two scorers (simulation Spearman, detection and fuzzing
/// balanced accuracy, the rubric's mean rating on the top activation bins), over the units of
/// both kinds where both are defined.
public struct ScorerAgreement: Sendable, Equatable {
    /// One axis: a scorer's value per unit (by `units.id`).
    public struct Axis: Sendable, Equatable {
        public var name: String
        public var values: [Int64: Double]
    }

    /// A pair's correlation (nil when undefined: fewer than 2 units, or a constant side) and its unit count.
    public struct Cell: Sendable, Equatable {
        public var rho: Double?
        public var n: Int
        /// 95 % percentile-bootstrap interval of rho (units resampled as pairs, seeded with
        /// ``Bootstrap/reportSeed``; resamples with a constant side left out); nil with rho.
        public var rhoCI: ConfidenceInterval? = nil
    }

    public var axes: [Axis]

    /// The axes with at least one defined value in `report` (the units' own explanations only).
    public init(_ report: RunReport) {
        var axes: [Axis] = []
        for scorer in report.options.scorers {
            var values: [Int64: Double] = [:]
            for unit in report.units {
                if let value = unit.explanation?.score(scorer.metric, scorer.subset)?.value, !value.isNaN { values[unit.unitID] = value }
            }
            if !values.isEmpty { axes.append(Axis(name: scorer.name, values: values)) }
        }
        var rubric: [Int64: Double] = [:]
        for unit in report.units { if let mean = report.rubricTopMean(unit) { rubric[unit.unitID] = mean } }
        if !rubric.isEmpty { axes.append(Axis(name: "rubric", values: rubric)) }
        self.axes = axes
    }

    public init(axes: [Axis]) { self.axes = axes }

    /// The Spearman correlation of axes `i` and `j` over the units both define.
    public func cell(_ i: Int, _ j: Int) -> Cell {
        let a = axes[i].values, b = axes[j].values
        let shared = a.keys.filter { b[$0] != nil }.sorted()
        let pairs = shared.compactMap { id in a[id].flatMap { x in b[id].map { (x, $0) } } }
        let rho = Correlation.spearman(pairs.map(\.0), pairs.map(\.1)).value
        let rhoCI = rho == nil ? nil : Bootstrap().spearmanInterval(pairs: pairs)
        return Cell(rho: rho, n: shared.count, rhoCI: rhoCI)
    }

    /// Whether there is anything to correlate (two axes or more).
    public var isEmpty: Bool { axes.count < 2 }

    /// The matrix as table rows: a head row of axis names, then one row per axis with
    /// `rho [95% CI] (n N)` off the diagonal and `1` on it.
    public func rows() -> (header: [String], rows: [[String]]) {
        let header = [""] + axes.map(\.name)
        // Each pair once (the matrix is symmetric; a cell's interval costs 2,000 resamples).
        var cells: [Int: Cell] = [:]
        for i in axes.indices { for j in axes.indices where i < j { cells[i * axes.count + j] = cell(i, j) } }
        let rows = axes.indices.map { i in
            [axes[i].name] + axes.indices.map { j in
                if i == j { return "1" }
                guard let cell = cells[min(i, j) * axes.count + max(i, j)] else { return "–" }
                return "\(ReportText.fixed(cell.rho, 2, interval: cell.rhoCI, intervalDigits: 2)) (n \(cell.n))"
            }
        }
        return (header, rows)
    }
}
