import AutoInterpTestSupport
import AutoInterpLLM
import Foundation
import Testing

@testable import AutoInterp

/// `--controls all|N|none`: the control pass scores a seeded sample of at most N explained units
/// per kind, reported with its n; the setting is part of the run's identity; shards leave the
/// sampled controls to the run after `merge`.
struct ControlSampleTests {
    @Test func parsingAcceptsAllNoneAndPositiveCountsOnly() throws {
        #expect(try ControlSample(parsing: "all") == .all)
        #expect(try ControlSample(parsing: " None ") == ControlSample.none)
        #expect(try ControlSample(parsing: "50") == .perKind(50))
        #expect(ControlSample.default == .perKind(ControlSample.defaultPerKind))
        for bad in ["0", "-3", "some", "", "1.5"] {
            let error = #expect(throws: AutoInterpError.self) { try ControlSample(parsing: bad) }
            #expect(error?.option == .controls && error?.problem.contains("all, none or a positive number") == true, "\(bad)")
        }
        // Stored as the text typed, read back the same.
        let json = try JSONEncoder().encode([ControlSample.all, .perKind(7), .none])
        #expect(String(decoding: json, as: UTF8.self) == #"["all","7","none"]"#)
        #expect(try JSONDecoder().decode([ControlSample].self, from: json) == [.all, .perKind(7), .none])
    }

    @Test func theSampleIsSeededBoundedPerKindAndKeepsTheDonorsOfAll() {
        let units = (0..<9).map { UnitRef(.feature, $0 * 3) } + (0..<5).map { UnitRef(.neuron, $0) }
        let all = ControlAssignment.donors(for: units, seed: 42)
        let sampled = ControlAssignment.donors(for: units, seed: 42, sample: .perKind(3))
        #expect(sampled.donors.count == 6)
        #expect(sampled.sampled == [.feature: 3, .neuron: 3] && sampled.explained == [.feature: 9, .neuron: 5])
        // A sampled unit keeps the donor it has with every unit controlled: a setting change reuses stored controls.
        for (unit, donor) in sampled.donors { #expect(all.donors[unit] == donor) }
        #expect(ControlAssignment.donors(for: units.reversed(), seed: 42, sample: .perKind(3)) == sampled)
        // Other seeds draw other samples.
        let samples = Set((0..<8).map { Set(ControlAssignment.donors(for: units, seed: UInt64($0), sample: .perKind(3)).donors.keys) })
        #expect(samples.count > 1)
        // A unit explained later joins the sample only in place of one unit: the others stay.
        let more = ControlAssignment.donors(for: units + [UnitRef(.feature, 100)], seed: 42, sample: .perKind(3))
        let before = Set(sampled.donors.keys.filter { $0.kind == .feature }), after = Set(more.donors.keys.filter { $0.kind == .feature })
        #expect(before.intersection(after).count >= 2)
        // All when fewer; none gives nothing.
        #expect(ControlAssignment.donors(for: units, seed: 42, sample: .perKind(50)) == all)
        let none = ControlAssignment.donors(for: units, seed: 42, sample: .none)
        #expect(none.donors.isEmpty && none.skipped.isEmpty && none.sampled.isEmpty)
    }

    @Test func aRunScoresTheSampleReportsItsNAndTreatsAnotherSettingAsAConfigChange() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let (dataset, sae) = try BaselinePipelineTests.dataset(dir)
        var request = try BaselinePipelineTests.request(dir, dataset: dataset, sae: sae, features: "0-5", neurons: "0-3")
        request.controls = .perKind(2)
        let result = try await RunCoordinator(logger: BaselinePipelineTests.quietLogger()).run(request)
        let summary = result.summary
        #expect(summary.outcome == .complete, "\(summary.text)")
        let controls = try #require(summary.controls)
        #expect(controls.controls == 4 && controls.scored == 4 && controls.sample == "2")
        #expect(controls.sampledByKind == ["feature": 2, "neuron": 2] && controls.explainedByKind == ["feature": 6, "neuron": 4])
        #expect(Setting.plain(summary.text).contains("control sample (`controls` 2, a seeded sample of at most 2 explained units per kind): features 2 of 6, neurons 2 of 4"))
        #expect(summary.scorer("simulation")?.control?.defined == 4)
        // Each kind's controls come from its sample; the headline counts every unit.
        let stored = try result.store.controlExplanations(runID: result.run.id)
        #expect(stored.count == 4 && summary.scored == 10)
        let json = try String(contentsOf: dir.path("results/local/summary.json"), encoding: .utf8)
        #expect(json.contains(#""sample" : "2""#) && json.contains(#""sampledByKind""#))
        let report = try RunReport.load(from: result.store, run: result.run)
        #expect(report.controlSample == .perKind(2))
        #expect(MarkdownReport(report).render().contains("Controls: 4 of 10 explained units; control sample 2: a seeded sample of at most 2"))
        #expect(try RunStore(readingAt: dir.path("results/local/autointerp.sqlite")).config(runID: result.run.id).pipeline?.controls == .perKind(2))

        // Another setting is a config change: refused, named, unless a new run is asked for.
        request.controls = .all
        let error = await #expect(throws: AutoInterpError.self) {
            _ = try await RunCoordinator(logger: BaselinePipelineTests.quietLogger()).run(request)
        }
        #expect(error?.message.contains("different config (controls") == true, "\(String(describing: error))")
        request.setup.forceNew = true
        let everything = try await RunCoordinator(logger: BaselinePipelineTests.quietLogger()).run(request)
        #expect(everything.summary.controls?.controls == 10, "\(everything.summary.text)")

        // none: no control pass, said in the summary; the report has no control column.
        request.setup.name = "bare"
        request.controls = .none
        let bare = try await RunCoordinator(logger: BaselinePipelineTests.quietLogger()).run(request)
        #expect(bare.summary.controls == nil && bare.summary.outcome == .complete)
        #expect(try bare.store.controlExplanations(runID: bare.run.id).isEmpty)
        #expect(bare.summary.text.contains("no control pass (controls none)"))
        #expect(try !RunReport.load(from: bare.store, run: bare.run).hasControls)
    }

    @Test func aRunStoredBeforeTheSettingResumesWithAnyAndKeepsItsControls() {
        var old = PipelineConfig(endpoint: "e", model: "m", prompts: [:], controls: nil)
        let new = PipelineConfig(endpoint: "e", model: "m", prompts: [:])
        #expect(new.differences(from: old).isEmpty)
        old.controls = .all
        #expect(new.differences(from: old) == ["controls"])
        #expect(!(String(data: (try? JSONEncoder().encode(PipelineConfig(endpoint: "e", model: "m", prompts: [:], controls: nil))) ?? Data(),
            encoding: .utf8) ?? "").contains("controls"))
    }

    /// The "different config" message names the stored and the asked value of a changed number,
    /// so a run made at an older default resumes with the stored one; a run stored before
    /// examples per classification call were recorded asked 5.
    @Test func aChangedSettingIsShownWithItsStoredValue() {
        let old = PipelineConfig(endpoint: "e", model: "m", recordsPerCall: 5, prompts: [:], classifyPerCall: nil)
        let new = PipelineConfig(endpoint: "e", model: "m", recordsPerCall: 10, prompts: [:], classifyPerCall: 20)
        #expect(new.describedDifferences(from: old) == ["records per call (stored 5, asked 10)"])
        #expect(old.examplesPerClassifyCall == 5 && new.examplesPerClassifyCall == 20)
        var judged = new
        judged.judgeModel = "judge"
        #expect(judged.describedDifferences(from: new) == ["judge model (stored m, asked judge)"])
    }

    @Test func shardsSkipTheControlsAndTheRunAfterTheMergeScoresTheSample() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let (dataset, sae) = try BaselinePipelineTests.dataset(dir)
        var request = try BaselinePipelineTests.request(dir, dataset: dataset, sae: sae, features: "0-5", neurons: "0-3")
        request.controls = .perKind(3)
        for k in 0..<2 {
            var shard = request
            shard.setup.shard = try RunShard(index: k, count: 2)
            let result = try await RunCoordinator(logger: BaselinePipelineTests.quietLogger()).run(shard)
            #expect(result.summary.controls == nil && result.summary.text.contains("no control pass here"))
        }
        _ = try ShardMerge(logger: BaselinePipelineTests.quietLogger()).merge(run: "local", resultsFolder: dir.path("results"))
        let after = try await RunCoordinator(logger: BaselinePipelineTests.quietLogger()).run(request)
        #expect(after.summary.outcome == .complete, "\(after.summary.text)")
        #expect(after.summary.controls?.controls == 6 && after.summary.controls?.sampledByKind == ["feature": 3, "neuron": 3])
        // The same sample as an unsharded run of the same config draws.
        var unsharded = request
        unsharded.setup.name = "whole"
        let whole = try await RunCoordinator(logger: BaselinePipelineTests.quietLogger()).run(unsharded)
        let units = { (result: RunResult) in
            Set(try result.store.controlProgress(runID: result.run.id).map(\.unit.unit))
        }
        #expect(try units(after) == units(whole))
    }
}
