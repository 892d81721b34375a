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
            have (same kind and index): paired differences, win rates, medians.
            """
    )

    @Option(name: .customLong("run"), help: "Run name (give one or two).")
    var runs: [String] = []

    @Option(help: "Folder holding runs.")
    var results = "results"

    @Option(name: .customLong("explainer"), help: "Explainer to score (one for both sides, one per side, or two with one run).")
    var explainers: [String] = []

    func validate() throws {
        guard (1...2).contains(runs.count) else { throw ValidationError("give one or two --run") }
        guard explainers.count <= 2 else { throw ValidationError("give at most two --explainer") }
    }

    func run() async throws {
        try await reportingErrors {
            let folder = URL(fileURLWithPath: results)
            var sides: [RunComparison.Side] = []
            var options = ReportOptions()
            options.examplesPerUnit = 0
            let pairs: [(run: String, explainer: String?)] =
                runs.count == 2
                ? [(runs[0], explainers.first), (runs[1], explainers.count == 2 ? explainers[1] : explainers.first)]
                : explainers.count == 2 ? [(runs[0], explainers[0]), (runs[0], explainers[1])] : [(runs[0], explainers.first)]
            for pair in pairs {
                let (store, info) = try RunLocator.open(results: folder, name: pair.run)
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
}
