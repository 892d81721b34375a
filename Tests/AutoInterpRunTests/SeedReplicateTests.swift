import AutoInterpLLM
import AutoInterpTestSupport
import Foundation
import Testing

@testable import AutoInterp

/// Issue 22, item 2: `compare` over runs that differ only in their seed reports per scorer the
/// across-seed SD of each headline and the smallest difference the setup resolves.
extension PipelineSuites {
@Suite(.serialized) struct SeedReplicateTests {
    @Test func threeScriptedSeedsGiveTheHandComputedSDAndResolution() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let (dataset, sae) = try ScriptedRun.writeDataset(in: dir, contexts: 60)
        let endpoint = try TestEndpoint(TestEndpoint.Configuration(handler: ScriptedLLM().handler))
        defer { endpoint.stop() }
        var sides: [RunComparison.Side] = []
        var configs: [RunConfig?] = []
        for seed: UInt64 in [0, 1, 2] {
            var selection = ScriptedRun.smallSelection
            selection.seed = seed
            var request = try ScriptedRun.request(
                name: "seed-\(seed)", dir: dir, dataset: dataset, sae: sae, features: "0-2", neurons: "0-3", endpoint: endpoint.baseURL,
                selection: selection)
            request.stages = [.explain, .simulate, .score]
            request.controls = .perKind(2)
            let result = try await RunCoordinator(logger: DetectionTests.quietLogger()).run(request)
            #expect(result.summary.isComplete, "\(result.summary.text)")
            sides.append(RunComparison.Side(label: "seed-\(seed)", report: try RunReport.load(from: result.store, run: result.run)))
            configs.append(try result.store.config(runID: result.run.id))
        }
        let replicates = SeedReplicates(sides: sides, configs: configs)
        #expect(replicates.otherDifferences.isEmpty, "\(replicates.otherDifferences)")
        #expect(replicates.seeds == [0, 1, 2])
        // The neurons' median Spearman of each run, by hand: mean, sample SD, 1.96 · √2 · SD, and / √3.
        let medians = sides.map { ScorerColumn.quantile($0.report.definedScores(ScoreStage.simulation, kind: .neuron).sorted(), 0.5) }
        let values = try medians.map { try #require($0) }
        let mean = values.reduce(0, +) / 3
        let sd = (values.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / 2).squareRoot()
        let row = try #require(replicates.rows.first { $0.scorer == "simulation" && $0.statistic == "neurons median" })
        #expect(row.values == medians)
        #expect(abs((row.mean ?? .nan) - mean) < 1e-12 && abs((row.sd ?? .nan) - sd) < 1e-12)
        #expect(abs((row.resolvable ?? .nan) - 1.96 * 2.0.squareRoot() * sd) < 1e-12)
        #expect(abs((row.resolvableWithSeeds ?? .nan) - 1.96 * 2.0.squareRoot() * sd / 3.0.squareRoot()) < 1e-12)
        #expect(replicates.rows.contains { $0.statistic == "control median" && $0.sd != nil })
        #expect(replicates.rows.contains { $0.statistic == "features − neurons" })
        let text = replicates.render().joined(separator: "\n")
        #expect(text.contains("## Seed replicates: 3 runs") && text.contains("across-seed SD") && text.contains("seed-2 (seed 2)"))
        #expect(!text.contains("Warning"))

        // A run that differs in more than its seed is named in a warning.
        var other = try #require(configs[2])
        other.pipeline?.model = "another-model"
        let mixed = SeedReplicates(sides: sides, configs: [configs[0], configs[1], other])
        #expect(mixed.otherDifferences == ["pipeline.model"] && mixed.render().joined().contains("Warning: the runs differ"))

        // A single value has no SD.
        #expect(SeedReplicates.row(scorer: "s", statistic: "x", values: [0.5, nil, nil]).sd == nil)
    }
}
}
