import Foundation

/// One scorer as the reports compare it: a headline metric per unit (e.g. simulation Spearman,
/// detection balanced accuracy), the thresholds of its "share above" rows, and further metrics
/// shown by their medians.
public struct ReportScorer: Sendable, Equatable {
    /// Short name (`simulation`, `detection`, `fuzzing`), used in column heads.
    public var name: String
    /// Section title, e.g. `Simulation: Spearman (subset all)`.
    public var title: String
    public var metric: StoredScore.Metric
    public var subset: StoredScore.Subset
    public var thresholds: [Double]
    /// Further metrics of the same scorer shown as medians (label, metric), e.g. F1 and AUPRC.
    public var extras: [Extra]

    public struct Extra: Sendable, Equatable {
        public var label: String
        public var metric: StoredScore.Metric
    }

    public static let simulation = ReportScorer(
        name: "simulation", title: "Simulation: Spearman (subset all)", metric: .spearman, subset: .all,
        thresholds: [0.3, 0.5], extras: [Extra(label: "median Pearson", metric: .pearson)])
    public static let detection = ReportScorer(
        name: "detection", title: "Detection: balanced accuracy", metric: StoredScore.Metric.detectionBalancedAccuracy, subset: .all,
        thresholds: [0.6, 0.7, 0.8],
        extras: [Extra(label: "median F1", metric: StoredScore.Metric.detectionF1), Extra(label: "median AUPRC", metric: StoredScore.Metric.detectionAUPRC)])
    public static let fuzzing = ReportScorer(
        name: "fuzzing", title: "Fuzzing: balanced accuracy", metric: StoredScore.Metric.fuzzingBalancedAccuracy, subset: .all,
        thresholds: [0.6, 0.7, 0.8],
        extras: [Extra(label: "median F1", metric: StoredScore.Metric.fuzzingF1), Extra(label: "median AUPRC", metric: StoredScore.Metric.fuzzingAUPRC)])

    /// Every scorer the reports know, in report order.
    public static let all: [ReportScorer] = [.simulation, .detection, .fuzzing]
}

/// Quartiles and friends of a list of scores with undefined ones counted apart.
public struct ScorerColumn: Sendable, Equatable {
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

    /// The statistics of `values` (nil = undefined) against `thresholds`.
    public init(values: [Double?], thresholds: [Double], extras: [[Double?]] = [], floor: [(Double, Double)]? = nil) {
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
    /// The value of `metric`/`subset` in an explanation: nil when not stored, `.some(nil)` when undefined.
    static func value(_ explanation: ExplanationReport?, _ metric: StoredScore.Metric, _ subset: StoredScore.Subset) -> Double?? {
        guard let score = explanation?.score(metric, subset) else { return nil }
        return .some(score.value)
    }

    /// The scorers with at least one stored score in this run (the units' or their controls').
    public var scorers: [ReportScorer] {
        ReportScorer.all.filter { scorer in
            units.contains { $0.explanation?.score(scorer.metric, scorer.subset) != nil || $0.control?.score(scorer.metric, scorer.subset) != nil }
        }
    }

    /// Whether any unit has a control explanation.
    public var hasControls: Bool { units.contains { $0.control != nil } }

    /// One column of a scorer's table: the units of `kind`, or with `control` the controls of
    /// every unit (both kinds: the random-explanation floor).
    public func scorerColumn(_ scorer: ReportScorer, kind: UnitKind?, control: Bool) -> ScorerColumn {
        let chosen = units.filter { kind == nil || $0.unit.kind == kind }
        let explanation: (UnitReport) -> ExplanationReport? = { control ? $0.control : $0.explanation }
        var values: [Double?] = []
        var extras = [[Double?]](repeating: [], count: scorer.extras.count)
        var floor: [(Double, Double)] = []
        for unit in chosen {
            guard let value = Self.value(explanation(unit), scorer.metric, scorer.subset) else { continue }
            values.append(value)
            for (i, extra) in scorer.extras.enumerated() { extras[i].append(Self.value(explanation(unit), extra.metric, scorer.subset) ?? nil) }
            if !control, let own = value, let floorValue = Self.value(unit.control, scorer.metric, scorer.subset) ?? nil {
                floor.append((own, floorValue))
            }
        }
        return ScorerColumn(values: values, thresholds: scorer.thresholds, extras: extras, floor: control ? nil : floor)
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
