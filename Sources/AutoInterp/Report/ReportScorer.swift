import Foundation

/// One scorer as the reports compare it: a headline metric per unit (e.g. simulation Spearman,
/// detection balanced accuracy), its direction and chance level, the thresholds of its "share
/// above" rows, and further metrics shown by their medians. Declared by the scorer's stage
/// (``StageDescriptor/scorers``).
public struct ReportScorer: Sendable, Equatable, Codable {
    /// Short name (`simulation`, `detection`, `fuzzing`), used in column heads and `summary.json`.
    public var name: String
    /// Section title, e.g. `Simulation: Spearman (subset all)`.
    public var title: String
    public var metric: StoredScore.Metric
    public var subset: StoredScore.Subset
    public var thresholds: [Double]
    /// Further metrics of the same scorer shown as medians (label, metric), e.g. F1 and AUPRC.
    public var extras: [Extra]
    /// Whether a higher value means a better explanation (true for every built-in scorer).
    public var higherIsBetter: Bool
    /// The value an explanation unrelated to the unit scores in expectation (0 for a
    /// correlation, 0.5 for balanced accuracy), nil when there is none.
    public var chance: Double?
    /// The subset this section is compared against, e.g. `all` (random negatives) for the
    /// detection and fuzzing sections on hard negatives: their columns, tables and summary add
    /// the median per-unit drop (baseline − this subset's value). Nil for the others.
    public var baseline: StoredScore.Subset?

    public struct Extra: Sendable, Equatable, Codable {
        public var label: String
        public var metric: StoredScore.Metric

        public init(label: String, metric: StoredScore.Metric) {
            self.label = label
            self.metric = metric
        }
    }

    public init(
        name: String, title: String, metric: StoredScore.Metric, subset: StoredScore.Subset = .all, thresholds: [Double],
        extras: [Extra] = [], higherIsBetter: Bool = true, chance: Double? = nil, baseline: StoredScore.Subset? = nil
    ) {
        self.baseline = baseline
        self.name = name
        self.title = title
        self.metric = metric
        self.subset = subset
        self.thresholds = thresholds
        self.extras = extras
        self.higherIsBetter = higherIsBetter
        self.chance = chance
    }
}

/// Where a scorer's values are read: an explanation's stored scores (a report's explanation, a
/// unit's progress view). `nil` = not stored; `.some(nil)` = stored as undefined.
public protocol ScoreSource {
    func value(_ metric: StoredScore.Metric, _ subset: StoredScore.Subset) -> Double??
}

extension ExplanationReport: ScoreSource {
    public func value(_ metric: StoredScore.Metric, _ subset: StoredScore.Subset) -> Double?? {
        guard let score = score(metric, subset) else { return nil }
        return .some(score.value)
    }
}

extension UnitProgress: ScoreSource {
    public func value(_ metric: StoredScore.Metric, _ subset: StoredScore.Subset) -> Double?? { score(metric, subset) }
}

/// Quartiles and friends of a list of scores with undefined ones counted apart: the one
/// statistics value behind the summary, `summary.json`, both reports and `compare`.
public struct ScorerColumn: Sendable, Equatable, Codable {
    /// Units with a stored score (defined or not).
    public var stored: Int
    public var defined: Int
    public var median: Double?
    /// First and third quartiles (linear interpolation between order statistics).
    public var q1: Double?
    public var q3: Double?
    public var mean: Double?
    /// Share of defined scores strictly above each of the scorer's thresholds.
    public var shareAbove: [Double?]
    /// Medians of the scorer's extras.
    public var extraMedians: [Double?]
    /// Units whose score and whose control's score are both defined, and the share of them
    /// scoring strictly above their own control (ties count one half); nil for the control column.
    public var floorPairs: Int?
    public var aboveFloor: Double?
    /// 95 % percentile-bootstrap intervals (seeded with ``Bootstrap/reportSeed``, 2,000
    /// resamples over units, so a run gives the same intervals every time): of the median, the
    /// mean, each share above a threshold, and the share above own control (resampled by pair).
    /// Nil where the statistic is. Encoded as `[low, high]`.
    public var medianCI: ConfidenceInterval?
    public var meanCI: ConfidenceInterval?
    public var shareAboveCI: [ConfidenceInterval?]
    public var aboveFloorCI: ConfidenceInterval?
    /// With a scorer's ``ReportScorer/baseline``: units whose value on both subsets is defined,
    /// and the median of (baseline − value) over them with its 95 % bootstrap interval (e.g. how
    /// much detection's balanced accuracy falls from random to hard negatives). Nil otherwise.
    public var baselinePairs: Int?
    public var baselineDrop: Double?
    public var baselineDropCI: ConfidenceInterval?

    /// The statistics of `values` (nil = undefined) against `thresholds`, with intervals from `bootstrap`.
    public init(
        values: [Double?], thresholds: [Double], extras: [[Double?]] = [], floor: [(Double, Double)]? = nil,
        bootstrap: Bootstrap = Bootstrap()
    ) {
        let defined = values.compactMap { $0 }.filter { !$0.isNaN }.sorted()
        stored = values.count
        self.defined = defined.count
        median = Self.quantile(defined, 0.5)
        q1 = Self.quantile(defined, 0.25)
        q3 = Self.quantile(defined, 0.75)
        mean = defined.isEmpty ? nil : defined.reduce(0, +) / Double(defined.count)
        shareAbove = thresholds.map { t in defined.isEmpty ? nil : Double(defined.count { $0 > t }) / Double(defined.count) }
        extraMedians = extras.map { Self.quantile($0.compactMap { $0 }.filter { !$0.isNaN }.sorted(), 0.5) }
        if let floor {
            floorPairs = floor.count
            let wins = floor.reduce(0.0) { $0 + ($1.0 > $1.1 ? 1 : $1.0 == $1.1 ? 0.5 : 0) }
            aboveFloor = floor.isEmpty ? nil : wins / Double(floor.count)
            let outcomes = floor.map { $0.0 > $0.1 ? 1.0 : $0.0 == $0.1 ? 0.5 : 0 }
            aboveFloorCI = bootstrap.sampleIntervals(sorted: outcomes.sorted(), thresholds: [])[1]
        }
        // One pass of resamples for the median, the mean and every share.
        let intervals = bootstrap.sampleIntervals(sorted: defined, thresholds: thresholds)
        medianCI = intervals[0]
        meanCI = intervals[1]
        shareAboveCI = Array(intervals.dropFirst(2))
    }

    /// The column of `scorer` over `units`: each unit's own explanation (or, with `control`, its
    /// control's), with its control beside it for the "above own control" share.
    public init(_ scorer: ReportScorer, units: [(own: (any ScoreSource)?, control: (any ScoreSource)?)], control: Bool) {
        var values: [Double?] = []
        var extras = [[Double?]](repeating: [], count: scorer.extras.count)
        var floor: [(Double, Double)] = []
        for unit in units {
            let source = control ? unit.control : unit.own
            guard let value = source?.value(scorer.metric, scorer.subset) else { continue }
            values.append(value)
            for (i, extra) in scorer.extras.enumerated() { extras[i].append(source?.value(extra.metric, scorer.subset) ?? nil) }
            if !control, let own = value, let floorValue = unit.control?.value(scorer.metric, scorer.subset) ?? nil {
                floor.append((own, floorValue))
            }
        }
        self.init(values: values, thresholds: scorer.thresholds, extras: extras, floor: control ? nil : floor)
        if let baseline = scorer.baseline {
            let drops = units.compactMap { unit -> Double? in
                guard let source = control ? unit.control : unit.own, let value = source.value(scorer.metric, scorer.subset) ?? nil,
                    let base = source.value(scorer.metric, baseline) ?? nil, !value.isNaN, !base.isNaN
                else { return nil }
                return base - value
            }.sorted()
            baselinePairs = drops.count
            baselineDrop = Self.quantile(drops, 0.5)
            baselineDropCI = drops.isEmpty ? nil : Bootstrap().sampleIntervals(sorted: drops, thresholds: [])[0]
        }
    }

    /// The `p` quantile of sorted values, linear between order statistics (R's type 7); nil when empty.
    public static func quantile(_ sorted: [Double], _ p: Double) -> Double? {
        guard !sorted.isEmpty else { return nil }
        let position = p * Double(sorted.count - 1)
        let low = Int(position.rounded(.down)), high = Int(position.rounded(.up))
        return sorted[low] + (sorted[high] - sorted[low]) * (position - Double(low))
    }
}

extension RunReport {
    /// The catalogue's scorers with at least one stored score in this run (the units' or their controls').
    public var scorers: [ReportScorer] {
        options.scorers.filter { scorer in
            units.contains { $0.explanation?.score(scorer.metric, scorer.subset) != nil || $0.control?.score(scorer.metric, scorer.subset) != nil }
        }
    }

    /// The defined (non-NaN) headline values of `scorer` over the units of `kind`.
    public func definedScores(_ scorer: ReportScorer, kind: UnitKind) -> [Double] {
        units.filter { $0.unit.kind == kind }.compactMap { $0.explanation?.score(scorer.metric, scorer.subset)?.value ?? nil }
            .filter { !$0.isNaN }
    }

    /// Whether any unit has a control explanation.
    public var hasControls: Bool { units.contains { $0.control != nil } }

    /// One column of a scorer's table: the units of `kind`, or with `control` the controls of
    /// every unit (both kinds: the random-explanation floor).
    public func scorerColumn(_ scorer: ReportScorer, kind: UnitKind?, control: Bool) -> ScorerColumn {
        let chosen = units.filter { kind == nil || $0.unit.kind == kind }
        return ScorerColumn(scorer, units: chosen.map { ($0.explanation, $0.control) }, control: control)
    }

    /// The rubric's top activation bins: the upper half of bins 1…n, n the highest bin with ratings in the run.
    public var rubricTopBins: ClosedRange<Int>? {
        let highest = units.map { unit in (0...unit.rubric.maxBin).last { unit.rubric.total(bin: $0) > 0 } ?? 0 }.max() ?? 0
        guard highest >= 1 else { return nil }
        return (highest / 2 + 1)...highest
    }

    /// A unit's mean rubric rating over ``rubricTopBins``; nil when it has no rating there.
    public func rubricTopMean(_ unit: UnitReport) -> Double? {
        guard let bins = rubricTopBins else { return nil }
        var sum = 0, count = 0
        for bin in bins where bin <= unit.rubric.maxBin {
            for rating in RubricTable.ratings {
                let n = unit.rubric.counts[bin][rating]
                sum += rating * n
                count += n
            }
        }
        return count > 0 ? Double(sum) / Double(count) : nil
    }
}
