import Foundation

/// Seed replicates (`autointerp compare` over three or more runs): runs that differ only in their
/// seed (selection `--seed`, or the demo's `--seed`, which also draws its corpus, SAE and units),
/// and per scorer the across-seed mean and standard deviation of each headline, with the
/// smallest difference the setup resolves.
///
/// Two setups measured with one seed each differ by seed noise alone by more than
/// 1.96 · √2 · SD one time in twenty (a normal approximation), so a difference below that is
/// not resolved; with the mean of k seeds per setup the bound is 1.96 · √2 · SD / √k. The SD is
/// the sample SD over the runs (n − 1), so it needs at least two runs; SAEBench's reliability
/// audit recommends at least three seeds.
public struct SeedReplicates: Sendable, Equatable {
    /// One headline of one scorer across the runs.
    public struct Row: Sendable, Equatable {
        public var scorer: String
        /// `features median`, `neurons median`, `control median`, `features − neurons`.
        public var statistic: String
        /// Per run, in the order of ``SeedReplicates/labels`` (nil where the run has none).
        public var values: [Double?]
        public var mean: Double?
        /// Sample standard deviation over the runs with a value (nil for fewer than two).
        public var sd: Double?
        /// 1.96 · √2 · SD: the smallest difference between two one-seed runs the setup resolves.
        public var resolvable: Double?
        /// The same for the mean of as many seeds per setup as here: `resolvable / √n`.
        public var resolvableWithSeeds: Double?
    }

    public var labels: [String]
    public var seeds: [UInt64?]
    public var rows: [Row]
    /// Config fields in which the runs differ beyond their seed and the units it picks (a warning).
    public var otherDifferences: [String]

    /// The replicates of `sides`, with each run's config (nil when unreadable) for the seed check.
    public init(sides: [RunComparison.Side], configs: [RunConfig?]) {
        labels = sides.map(\.label)
        seeds = configs.map { $0?.selection.seed }
        var rows: [Row] = []
        let tables = sides.map { ScorerTable.all($0.report) }
        var names: [String] = []
        for table in tables.flatMap({ $0 }) where !names.contains(table.scorer.name) { names.append(table.scorer.name) }
        for name in names {
            let perRun = tables.map { $0.first { $0.scorer.name == name } }
            func row(_ statistic: String, _ value: (ScorerTable) -> Double?) -> Row {
                let values = perRun.map { $0.flatMap(value) }
                return Self.row(scorer: name, statistic: statistic, values: values)
            }
            rows.append(row("features median") { $0.columns.first?.median })
            rows.append(row("neurons median") { $0.columns.count > 1 ? $0.columns[1].median : nil })
            rows.append(row("control median") { $0.header.last == "control" ? $0.columns.last?.median : nil })
            rows.append(row("features − neurons") { $0.featuresMinusNeurons })
        }
        self.rows = rows.filter { $0.values.contains { $0 != nil } }
        otherDifferences = Self.differences(configs)
    }

    /// The statistics of one headline's per-run values.
    static func row(scorer: String, statistic: String, values: [Double?]) -> Row {
        let defined = values.compactMap { $0 }.filter { $0.isFinite }
        let mean = defined.isEmpty ? nil : defined.reduce(0, +) / Double(defined.count)
        var sd: Double?
        if let mean, defined.count >= 2 {
            sd = (defined.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(defined.count - 1)).squareRoot()
        }
        let resolvable = sd.map { 1.96 * 2.0.squareRoot() * $0 }
        return Row(
            scorer: scorer, statistic: statistic, values: values, mean: mean, sd: sd, resolvable: resolvable,
            resolvableWithSeeds: resolvable.map { $0 / Double(defined.count).squareRoot() })
    }

    /// The config fields that differ between the runs once the seed and the units it draws are set aside.
    static func differences(_ configs: [RunConfig?]) -> [String] {
        let stripped = configs.compactMap { config -> [String: Any]? in
            guard var config else { return nil }
            config.selection.seed = 0
            config.setUnits([])
            config.featureSpec = ""
            config.neuronSpec = ""
            var object = (try? JSONFields.object(config)) ?? [:]
            // Each demo seed writes its own folder: the paths differ, not the setup.
            for key in ["activations", "vocab", "sae", "latents"] { object[key] = nil }
            return object
        }
        guard let first = stripped.first else { return [] }
        var names: [String] = []
        for other in stripped.dropFirst() {
            for name in JSONFields.differences(first, other) where !names.contains(name) { names.append(name) }
        }
        return names.filter { !$0.hasPrefix("pipeline.prompts") || !$0.hasSuffix(".file") }
    }

    /// The section `compare` prints.
    public func render() -> [String] {
        var lines = ["## Seed replicates: \(labels.count) runs", ""]
        let seedText = zip(labels, seeds).map { "\($0) (seed \($1.map(String.init) ?? "?"))" }.joined(separator: ", ")
        lines.append("Runs: \(seedText).")
        if !otherDifferences.isEmpty {
            lines.append("Warning: the runs differ in more than their seed (\(otherDifferences.joined(separator: ", "))): the SD mixes those changes in.")
        }
        lines.append("")
        let header = ["scorer", "headline"] + labels
            + ["mean", "across-seed SD", "resolves (1 seed each)", "resolves (\(labels.count) seeds each)"]
        let body = rows.map { row in
            [row.scorer, row.statistic] + row.values.map { ReportText.fixed($0, 3) }
                + [ReportText.fixed(row.mean, 3), ReportText.fixed(row.sd, 3), ReportText.fixed(row.resolvable, 3),
                   ReportText.fixed(row.resolvableWithSeeds, 3)]
        }
        lines += MarkdownReport.table(header: header, rows: body, rightAligned: Set(2..<header.count))
        lines.append("")
        lines.append(
            "SD: sample standard deviation over the runs. Resolves: 1.96 · √2 · SD, the smallest difference between two setups "
                + "measured with one seed each that seed noise alone exceeds only one time in twenty; with the mean of "
                + "\(labels.count) seeds per setup, that divided by √\(labels.count).")
        lines.append("")
        return lines
    }
}
