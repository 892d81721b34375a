import ArgumentParser
import AutoInterp
import Foundation

struct CompareCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "compare",
        abstract: "Compare features vs neurons in a run, and two runs or two explainers on shared units, as text tables.",
        discussion: """
            One --run: features vs neurons (add two --explainer to compare explainers within the run). \
            Two --run: each run's features vs neurons, then the second against the first on the units both \
            have (same kind and index): paired differences, win rates, medians. \
            Three or more --run (runs that differ only in their --seed, e.g. three seeds of the demo): seed replicates, \
            per scorer the across-seed SD of each headline and the smallest difference the setup resolves. \
            A --run may be a path RESULTS/NAME (e.g. results/demo-1/runs/demo) instead of a name under --results.
            """
    )

    @Option(name: .customLong("run"), help: "Run name or RESULTS/NAME path (one or two; three or more: seed replicates).")
    var runs: [String] = []

    @Option(help: "Folder holding runs.")
    var results = "results"

    @Option(name: .customLong("explainer"), help: "Explainer to score (one for both sides, one per side, or two with one run).")
    var explainers: [String] = []

    func validate() throws {
        guard (1...SeedReplicatesLimit.runs).contains(runs.count) else {
            throw ValidationError("give one or two --run (or three to \(SeedReplicatesLimit.runs) seed replicates)")
        }
        guard explainers.count <= 2 else { throw ValidationError("give at most two --explainer") }
        guard runs.count <= 2 || explainers.count <= 1 else { throw ValidationError("seed replicates take at most one --explainer") }
    }

    func run() async throws {
        try await reportingErrors {
            let folder = URL(fileURLWithPath: results)
            if runs.count >= 3 {
                var options = ReportOptions()
                options.examplesPerUnit = 0
                options.explainer = explainers.first
                var sides: [RunComparison.Side] = []
                var configs: [RunConfig?] = []
                for run in runs {
                    let (store, info) = try Self.open(run, results: folder)
                    sides.append(RunComparison.Side(label: run, report: try RunReport.load(from: store, run: info, options: options)))
                    configs.append(try? store.config(runID: info.id))
                }
                print(SeedReplicates(sides: sides, configs: configs).render().joined(separator: "\n"), terminator: "")
                return
            }
            var sides: [RunComparison.Side] = []
            var options = ReportOptions()
            options.examplesPerUnit = 0
            let pairs: [(run: String, explainer: String?)] =
                runs.count == 2
                ? [(runs[0], explainers.first), (runs[1], explainers.count == 2 ? explainers[1] : explainers.first)]
                : explainers.count == 2 ? [(runs[0], explainers[0]), (runs[0], explainers[1])] : [(runs[0], explainers.first)]
            for pair in pairs {
                let (store, info) = try Self.open(pair.run, results: folder)
                options.explainer = pair.explainer
                let report = try RunReport.load(from: store, run: info, options: options)
                let label = runs.count == 2 && explainers.count < 2 ? info.name : "\(info.name) [\(report.explainer ?? "no explainer")]"
                sides.append(RunComparison.Side(label: label, report: report))
            }
            print(RunComparison(sides: sides).render(), terminator: "")
            if sides.count == 1, sides[0].report.explainerCounts.count > 1 {
                let names = sides[0].report.explainerCounts.keys.sorted().joined(separator: ", ")
                note("this run has several explainers (\(names)); compare two with --explainer A --explainer B")
            }
        }
    }

    /// A run by name under `results`, or by a `RESULTS/NAME` path.
    static func open(_ run: String, results: URL) throws -> (store: RunStore, run: RunInfo) {
        guard run.contains("/") else { return try RunLocator.open(results: results, name: run) }
        let url = URL(fileURLWithPath: run)
        return try RunLocator.open(results: url.deletingLastPathComponent(), name: url.lastPathComponent)
    }
}

/// The most runs `compare` takes as seed replicates.
enum SeedReplicatesLimit {
    static let runs = 20
}
