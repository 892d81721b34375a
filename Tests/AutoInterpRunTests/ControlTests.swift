import AutoInterpLLM
import AutoInterpTestSupport
import Foundation
import FoundationXML
import Testing

@testable import AutoInterp

/// The random-explanation floor: each unit scored again with another unit's explanation of the
/// same kind (`explainer = 'control'`), kept out of every headline, resumable, and reported per scorer.
struct ControlTests {
    // MARK: - Derangement

    @Test func derangementIsDeterministicAndNeverFixesAUnit() {
        for count in 2...40 {
            for seed: UInt64 in [0, 1, 7, 12345] {
                let p = ControlAssignment.derangement(count: count, seed: seed, stream: 3)
                #expect(p.sorted() == Array(0..<count), "not a permutation: \(p)")
                #expect(p.indices.allSatisfy { p[$0] != $0 }, "fixed point in \(p)")
                #expect(p == ControlAssignment.derangement(count: count, seed: seed, stream: 3))
            }
        }
        #expect(ControlAssignment.derangement(count: 1, seed: 0, stream: 0).isEmpty)
        #expect(ControlAssignment.derangement(count: 0, seed: 0, stream: 0).isEmpty)
        // The seed matters: ten units under six seeds give more than one assignment.
        let distinct = Set((0..<6).map { ControlAssignment.derangement(count: 10, seed: UInt64($0), stream: 3) })
        #expect(distinct.count > 1)
    }

    @Test func donorsAreOfTheSameKindAndNeverTheUnitItself() {
        let units = (0..<9).map { UnitRef(.feature, $0 * 3) } + (0..<5).map { UnitRef(.neuron, $0) }
        let assignment = ControlAssignment.donors(for: units.shuffled(), seed: 42)
        #expect(assignment.donors.count == units.count && assignment.skipped.isEmpty)
        for (unit, donor) in assignment.donors {
            #expect(donor != unit && donor.kind == unit.kind, "\(unit) <- \(donor)")
        }
        // Each donor lends once (a permutation within each kind), in any input order.
        #expect(Set(assignment.donors.values).count == units.count)
        #expect(ControlAssignment.donors(for: units, seed: 42) == assignment)

        // A kind with a single explained unit gets no control, with the reason.
        let lonely = ControlAssignment.donors(for: [UnitRef(.feature, 1), UnitRef(.feature, 2), UnitRef(.neuron, 5)], seed: 0)
        #expect(lonely.donors == [UnitRef(.feature, 1): UnitRef(.feature, 2), UnitRef(.feature, 2): UnitRef(.feature, 1)])
        #expect(lonely.skipped[.neuron]?.contains("only one neuron (neuron 5)") == true)
        #expect(lonely.skipped[.feature] == nil)
    }

    // MARK: - Local baseline end to end

    @Test func localRunScoresControlsNearZeroAndKeepsThemOutOfTheHeadline() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let (dataset, sae) = try BaselinePipelineTests.dataset(dir)
        let request = try BaselinePipelineTests.request(dir, dataset: dataset, sae: sae)
        let result = try await RunCoordinator(logger: BaselinePipelineTests.quietLogger()).run(request)
        let summary = result.summary
        #expect(summary.outcome == .complete, "\(summary.text)")
        let store = result.store, run = result.run

        // One control per explained unit, from another unit of the same kind, with the donor's model and text.
        let headline = try store.progress(runID: run.id).filter { $0.explanation != nil }
        let controls = try store.controlExplanations(runID: run.id)
        #expect(headline.count == 11 && controls.count == headline.count)
        for control in controls {
            #expect(control.explainer == "control")
            let donorID = try #require(control.controlOf)
            let donor = try #require(try store.explanation(id: donorID))
            #expect(donor.unitID != control.unitID && !donor.isControl)
            #expect(donor.text == control.text && donor.model == control.model)
            let unit = try #require(try store.unit(id: control.unitID)), donorUnit = try #require(try store.unit(id: donor.unitID))
            #expect(unit.unit.kind == donorUnit.unit.kind)
            // Scored like the unit: every held-out record simulated (with the donor's patterns, never failing), the six correlation scores and the ten detection and fuzzing metrics.
            let simulations = try store.simulations(explanationID: control.id)
            let heldOut = try store.heldOutRecords(unitID: control.unitID)
            #expect(simulations.count == heldOut.count)
            #expect(simulations.allSatisfy { $0.isOK })
            #expect(try store.scores(explanationID: control.id).count == 16)
            #expect(try store.rubricRatings(explanationID: control.id).isEmpty)
        }

        // Headline views never show a control.
        #expect(headline.allSatisfy { $0.explanation?.isControl == false })
        #expect(try store.explanations(runID: run.id).allSatisfy { !$0.isControl })
        #expect(summary.scored == 11 && summary.units == 11)
        let report = try RunReport.load(from: store, run: run)
        #expect(report.explainer == "local-n2g" && report.explainerCounts.keys.sorted() == ["local-n2g"])
        #expect(report.units.allSatisfy { $0.explanation?.explainer == "local-n2g" && $0.control?.explainer == "control" })
        let rows = try ExplanationExport.rows(store: store, run: run)
        #expect(rows.count == 11 && rows.allSatisfy { $0.explainer == "local-n2g" })

        // The floor: controls near 0, clearly below the units.
        let control = try #require(summary.controls)
        #expect(control.controls == 11 && control.scored == 11 && control.failed == 0 && control.notes.isEmpty)
        let unitsColumn = report.scorerColumn(ScoreStage.simulation, kind: .feature, control: false)
        let floor = report.scorerColumn(ScoreStage.simulation, kind: nil, control: true)
        let unitMedian = try #require(unitsColumn.median), floorMedian = try #require(floor.median)
        #expect(abs(floorMedian) < 0.25, "control median \(floorMedian)")
        #expect(unitMedian - floorMedian > 0.5, "features \(unitMedian) vs control \(floorMedian)")
        #expect((unitsColumn.aboveFloor ?? 0) >= 0.8)
        #expect(summary.text.contains("controls (another unit's explanation, the random floor): 11 stored, 11 scored, 0 failed"))
        let markdown = MarkdownReport(report).render()
        #expect(markdown.contains("## Scorers: features vs neurons vs the random floor"))
        #expect(markdown.contains("| above own control"))

        // Running again redoes nothing: no new explanation, simulation or score.
        let count = { (sql: String) in try store.database.scalar(sql).flatMap(Int.init(sqliteValue:)) ?? -1 }
        let before = try [count("SELECT COUNT(*) FROM explanations"), count("SELECT MAX(id) FROM simulations"), count("SELECT MAX(id) FROM scores")]
        let again = try await RunCoordinator(logger: BaselinePipelineTests.quietLogger()).run(request)
        #expect(again.summary.outcome == .complete && again.summary.controls?.scored == 11)
        #expect(try [count("SELECT COUNT(*) FROM explanations"), count("SELECT MAX(id) FROM simulations"), count("SELECT MAX(id) FROM scores")] == before)
        #expect(try store.controlExplanations(runID: run.id) == controls)
    }

    @Test func explainOnlyStoresNoControlAndALaterScoringRunAddsThem() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let (dataset, sae) = try BaselinePipelineTests.dataset(dir)
        var request = try BaselinePipelineTests.request(dir, dataset: dataset, sae: sae, features: "0,4", neurons: "2")
        request.stages = [.explain]
        let first = try await RunCoordinator(logger: BaselinePipelineTests.quietLogger()).run(request)
        #expect(first.summary.controls == nil)
        #expect(try first.store.controlExplanations(runID: first.run.id).isEmpty)

        request.stages = [.explain, .simulate, .score]
        let second = try await RunCoordinator(logger: BaselinePipelineTests.quietLogger()).run(request)
        let controls = try #require(second.summary.controls)
        // Two features lend to each other; the single neuron has nobody to borrow from.
        #expect(controls.controls == 2 && controls.scored == 2)
        #expect(controls.skipped.count == 1 && controls.skipped[0].contains("only one neuron"))
        #expect(second.summary.text.contains("no control: only one neuron (neuron 2)"))
        #expect(second.summary.outcome == .complete, "\(second.summary.text)")
        let stored = try second.store.controlExplanations(runID: second.run.id)
        let f0 = try #require(try second.store.unitID(runID: second.run.id, unit: UnitRef(.feature, 0)))
        let f4 = try #require(try second.store.unitID(runID: second.run.id, unit: UnitRef(.feature, 4)))
        let own = { (unitID: Int64) in try second.store.explanations(unitID: unitID).first?.id }
        #expect(Set(stored.map(\.unitID)) == [f0, f4])
        #expect(stored.first { $0.unitID == f0 }?.controlOf == (try own(f4)))
        #expect(stored.first { $0.unitID == f4 }?.controlOf == (try own(f0)))
    }

    // MARK: - Store

    @Test func storeRefusesAControlFromTheUnitItselfOrFromAControl() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let (store, run, ids) = try Self.handStore(dir)
        let own = try store.addExplanation(unitID: ids[0], explainer: "x", model: "m", text: "a")
        let other = try store.addExplanation(unitID: ids[1], explainer: "x", model: "m", text: "b")
        #expect(throws: AutoInterpError.self) { try store.addControlExplanations([(ids[0], own)]) }
        let control = try store.addControlExplanations([(ids[0], other)])[0]
        #expect(control.controlOf == other.id && control.explainer == "control" && control.text == "b")
        #expect(throws: AutoInterpError.self) { try store.addControlExplanations([(ids[1], control)]) }
        // The headline progress shows the unit's own explanation; the control view shows the control.
        #expect(try store.progress(unitID: ids[0])?.explanation?.id == own.id)
        #expect(try store.progress(unitID: ids[0], explanationID: control.id)?.explanation == control)
        #expect(try store.controlProgress(runID: run.id).map(\.explanation?.id) == [control.id])
        #expect(try store.explanations(unitID: ids[0]).map(\.id) == [own.id])
        #expect(try store.database.userVersion() == RunStore.schemaVersion)
    }

    // MARK: - Reports with hand-made scores

    /// A run of three features and three neurons with no examples (the reports do not need them).
    static func handStore(_ dir: TemporaryDirectory, name: String = "a", store existing: RunStore? = nil) throws
        -> (store: RunStore, run: RunInfo, unitIDs: [Int64])
    {
        let store = try existing ?? RunStore(url: dir.path("hand.sqlite"))
        let run = try store.createRun(name: name, configJSON: "{}")
        var ids: [Int64] = []
        for unit in [UnitRef(.feature, 0), UnitRef(.feature, 1), UnitRef(.feature, 2), UnitRef(.neuron, 0), UnitRef(.neuron, 1), UnitRef(.neuron, 2)] {
            let statistics = UnitStatistics(
                unit: unit, maxActivation: 1, density: 0.1, tokenCount: 100, histogram: ActivationHistogram(max: 1, counts: [10], zeroCount: 90))
            ids.append(try store.saveUnit(runID: run.id, statistics: statistics, examples: []))
        }
        return (store, run, ids)
    }

    /// Scores by unit (f0, f1, f2, n0, n1, n2); nil entries are undefined, missing metrics not stored.
    static func scores(_ values: [StoredScore.Metric: [Double?]], unit: Int) -> [StoredScore] {
        values.compactMap { metric, perUnit in
            guard unit < perUnit.count else { return nil }
            return perUnit[unit].map { StoredScore(metric: metric, subset: .all, value: $0, n: 10) }
                ?? StoredScore(metric: metric, subset: .all, undefinedBecause: "predicted values are constant", n: 10)
        }
    }

    /// The hand-made run: headline and control scores, and rubric ratings in the top bins.
    static func fillHandRun(store: RunStore, ids: [Int64], detectionShift: Double = 0) throws {
        let headline: [StoredScore.Metric: [Double?]] = [
            .spearman: [0.9, 0.5, 0.7, 0.2, 0.2, nil],
            StoredScore.Metric.detectionBalancedAccuracy: [0.8 + detectionShift, 0.6 + detectionShift, 0.9 + detectionShift, 0.55, 0.7, 0.65],
            StoredScore.Metric.detectionF1: [0.7, 0.5, 0.8, 0.4, 0.6, 0.5],
            StoredScore.Metric.detectionAUPRC: [0.9, 0.6, 0.95, 0.5, 0.7, 0.6],
        ]
        let fuzzing: [Double?] = [0.75, 0.75, nil, 0.5]
        let control: [StoredScore.Metric: [Double?]] = [
            .spearman: [0.1, 0.6, -0.1, 0.0, 0.2, 0.05],
            StoredScore.Metric.detectionBalancedAccuracy: [0.5, 0.5, 0.5, 0.5, 0.5, 0.5],
        ]
        var own: [StoredExplanation] = []
        for (i, id) in ids.enumerated() {
            let explanation = try store.addExplanation(unitID: id, explainer: "llm", model: "m", text: "unit \(i)")
            own.append(explanation)
            var scores = Self.scores(headline, unit: i)
            if i < fuzzing.count, let value = fuzzing[i] {
                scores.append(StoredScore(metric: StoredScore.Metric.fuzzingBalancedAccuracy, subset: .all, value: value, n: 10))
            }
            try store.saveScores(explanationID: explanation.id, scores)
        }
        // Rubric: top-bin (10) ratings f0 3, f1 2, f2 3, n0 1; the none bin and bin 2 must not count.
        let rubric: [(unit: Int, bin: Int, rating: Int)] = [(0, 10, 3), (0, 0, 0), (1, 10, 2), (1, 2, 0), (2, 9, 3), (3, 10, 1)]
        for (n, entry) in rubric.enumerated() {
            try store.saveRubricRatings(
                explanationID: own[entry.unit].id, [StoredRubricRating(recordIndex: n, bin: entry.bin, activation: 1, rating: entry.rating)])
        }
        // Controls: unit i takes unit (i+1) mod 3 of its kind.
        let pairs = ids.indices.map { i in (unitID: ids[i], donor: own[i / 3 * 3 + (i % 3 + 1) % 3]) }
        let controls = try store.addControlExplanations(pairs)
        for (i, explanation) in controls.enumerated() { try store.saveScores(explanationID: explanation.id, Self.scores(control, unit: i)) }
    }

    @Test func scorerTablesShowHandCheckedMediansQuartilesAndFloors() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let (store, run, ids) = try Self.handStore(dir)
        try Self.fillHandRun(store: store, ids: ids)
        let report = try RunReport.load(from: store, run: run)
        #expect(report.scorers == [ScoreStage.simulation, DetectionStage.scorer, FuzzingStage.scorer])
        #expect(report.explainer == "llm")

        // Simulation: features 0.5, 0.7, 0.9; neurons 0.2, 0.2 and one undefined; controls pooled.
        let simulation = ScorerTable(report, scorer: ScoreStage.simulation)
        #expect(simulation.header == ["", "features", "neurons", "control"])
        let (features, neurons, floor) = (simulation.columns[0], simulation.columns[1], simulation.columns[2])
        #expect(features.median == 0.7 && features.defined == 3)
        #expect(abs(features.q1! - 0.6) < 1e-12 && abs(features.q3! - 0.8) < 1e-12)
        #expect(features.shareAbove == [1, 2.0 / 3])
        // Above own control: 0.9 > 0.1, 0.5 < 0.6, 0.7 > -0.1.
        #expect(features.floorPairs == 3 && abs(features.aboveFloor! - 2.0 / 3) < 1e-12)
        // Neurons: 0.2 > 0.0, 0.2 = 0.2 (a half), the undefined one unpaired.
        #expect(neurons.stored == 3 && neurons.defined == 2 && neurons.median == 0.2)
        #expect(neurons.floorPairs == 2 && neurons.aboveFloor == 0.75)
        // Controls sorted: -0.1, 0, 0.05, 0.1, 0.2, 0.6.
        #expect(abs(floor.median! - 0.075) < 1e-12 && abs(floor.q1! - 0.0125) < 1e-12 && abs(floor.q3! - 0.175) < 1e-12)
        #expect(floor.floorPairs == nil && abs(floor.shareAbove[0]! - 1.0 / 6) < 1e-12)
        // With their 95% intervals: outcomes (1, 0, 1) resample to a mean of 0 with probability 1/27 > 2.5%,
        // to 1 with 8/27, so the interval spans [0, 1]; (1, ½) to ½ with 1/4 and 1 with 1/4: [½, 1].
        #expect(simulation.rows.contains(["above own control", "66.7% [0, 100] (n 3)", "75.0% [50, 100] (n 2)", "–"]))
        #expect(features.aboveFloorCI == ConfidenceInterval(low: 0, high: 1))
        #expect(neurons.aboveFloorCI == ConfidenceInterval(low: 0.5, high: 1))
        // A median of three values (0.5, 0.7, 0.9) resamples to its lowest or highest value with 7/27 each.
        #expect(features.medianCI == ConfidenceInterval(low: 0.5, high: 0.9))
        #expect(simulation.rows.contains { $0.first == "median" && $0[1] == "0.700 [0.50, 0.90]" })
        // Features − neurons: 0.7 − 0.2, with an interval that holds it.
        #expect(abs(simulation.featuresMinusNeurons! - 0.5) < 1e-12 && simulation.featuresMinusNeuronsCI!.contains(0.5))
        #expect(simulation.rows.contains { $0.first == "median features − neurons" && $0[1].hasPrefix("0.500 [") })
        #expect(simulation.rows.contains(["undefined", "0", "1", "0"]))

        // Detection: features 0.6, 0.8, 0.9 (F1 0.5, 0.7, 0.8); every control 0.5.
        let detection = ScorerTable(report, scorer: DetectionStage.scorer)
        #expect(detection.columns[0].median == 0.8 && detection.columns[0].extraMedians == [0.7, 0.9])
        #expect(detection.columns[0].shareAbove.map { $0.map { ($0 * 1000).rounded() / 1000 } } == [0.667, 0.667, 0.333])
        #expect(detection.columns[2].median == 0.5 && detection.columns[0].aboveFloor == 1)
        #expect(detection.rows.contains(["median F1", "0.700", "0.500", "–"]))
        // Fuzzing: no control scores, so the control column is empty.
        let fuzzing = ScorerTable(report, scorer: FuzzingStage.scorer)
        #expect(fuzzing.columns[0].median == 0.75 && fuzzing.columns[1].median == 0.5 && fuzzing.columns[2].stored == 0)

        // The agreement matrix, by hand (Spearman with ties):
        // simulation vs detection over f0 f1 f2 n0 n1: ranks (5, 3, 4, 1.5, 1.5) vs (4, 2, 5, 1, 3): 7 / √95.
        // simulation vs fuzzing over f0 f1 n0: (3, 2, 1) vs (2.5, 2.5, 1): 1.5 / √3; detection vs fuzzing the same.
        // simulation vs rubric (top bins 6–10) over f0 f1 f2 n0: (4, 2, 3, 1) vs (3.5, 2, 3.5, 1): 4.5 / √22.5.
        let agreement = ScorerAgreement(report)
        #expect(agreement.axes.map(\.name) == ["simulation", "detection", "fuzzing", "rubric"])
        #expect(report.rubricTopBins == 6...10)
        let cases: [(Int, Int, Double, Int)] = [
            (0, 1, 7 / 95.0.squareRoot(), 5), (0, 2, 1.5 / 3.0.squareRoot(), 3), (1, 2, 1.5 / 3.0.squareRoot(), 3),
            (0, 3, 4.5 / 22.5.squareRoot(), 4),
        ]
        for (i, j, rho, n) in cases {
            let cell = agreement.cell(i, j)
            #expect(cell.n == n && abs(cell.rho! - rho) < 1e-9, "\(agreement.axes[i].name) vs \(agreement.axes[j].name): \(cell)")
            #expect(agreement.cell(j, i) == cell)
        }
        // Fuzzing and rubric share f0 f1 n0: (2.5, 2.5, 1) vs (3, 2, 1).
        #expect(abs(agreement.cell(2, 3).rho! - 1.5 / 3.0.squareRoot()) < 1e-9)
        let (_, rows) = agreement.rows()
        #expect(rows[0].prefix(2) == ["simulation", "1"])
        for (column, prefix) in [(2, "0.72 ["), (3, "0.87 ["), (4, "0.95 [")] { #expect(rows[0][column].hasPrefix(prefix), "\(rows[0])") }
        #expect(rows[0][2].hasSuffix("] (n 5)") && rows[0][3].hasSuffix("] (n 3)") && rows[0][4].hasSuffix("] (n 4)"))
        // Each correlation's interval (units resampled as pairs) holds it and stays within [-1, 1].
        for (i, j, _, _) in cases {
            let cell = agreement.cell(i, j)
            let ci = try #require(cell.rhoCI)
            #expect(ci.contains(cell.rho!) && ci.low >= -1 && ci.high <= 1, "\(cell)")
        }

        // Both reports show the sections.
        let markdown = MarkdownReport(report).render()
        for title in ["### Simulation: Spearman (subset all)", "### Detection: balanced accuracy", "### Fuzzing: balanced accuracy", "## Agreement between scorers"] {
            #expect(markdown.contains(title), "\(title)")
        }
        #expect(markdown.contains("| detection control"))
        let html = HTMLReport(report).render()
        #expect(html.contains("id=\"scorer-detection\"") && html.contains("id=\"scorer-agreement\""))
        _ = try XMLDocument(xmlString: html, options: [])
    }

    @Test func sectionsAppearOnlyWithTheirScores() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let (store, run, ids) = try Self.handStore(dir)
        for (i, id) in ids.enumerated() {
            let explanation = try store.addExplanation(unitID: id, explainer: "llm", model: "m", text: "unit \(i)")
            try store.saveScores(explanationID: explanation.id, [StoredScore(metric: .spearman, subset: .all, value: Double(i) / 10, n: 5)])
        }
        let report = try RunReport.load(from: store, run: run)
        #expect(report.scorers == [ScoreStage.simulation] && !report.hasControls && ScorerAgreement(report).isEmpty)
        let markdown = MarkdownReport(report).render()
        #expect(!markdown.contains("## Scorers") && !markdown.contains("## Agreement") && !markdown.contains("| control"))
        #expect(!HTMLReport(report).render().contains("id=\"scorers\""))
        #expect(!RunComparison(sides: [.init(label: "a", report: report)]).render().contains("vs control"))
    }

    @Test func compareShowsEachScorerWithItsFloorAndPairsBothRuns() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let (store, runA, idsA) = try Self.handStore(dir, name: "a")
        try Self.fillHandRun(store: store, ids: idsA)
        let (_, runB, idsB) = try Self.handStore(dir, name: "b", store: store)
        // Run b: detection 0.1 higher on the features, the neurons unchanged.
        try Self.fillHandRun(store: store, ids: idsB, detectionShift: 0.1)
        let a = try RunReport.load(from: store, run: runA), b = try RunReport.load(from: store, run: runB)
        let comparison = RunComparison(sides: [.init(label: "a", report: a), .init(label: "b", report: b)])
        let text = comparison.render()
        for title in [
            "## a: Detection: balanced accuracy, features vs neurons vs control", "## b: Fuzzing: balanced accuracy, features vs neurons vs control",
            "## b vs a, on shared units", "## b vs a (Detection: balanced accuracy), on shared units",
            "## b vs a (Fuzzing: balanced accuracy), on shared units",
        ] {
            #expect(text.contains(title), "\(title)")
        }
        // The one-row-per-scorer floor table (what the demo prints): medians with their intervals and
        // counts, and features − neurons. Three values 0.6, 0.8, 0.9 resample to a median of 0.6 or 0.9
        // with 7/27 each; six controls of 0.5 have a zero-width interval.
        let sideA = text.components(separatedBy: "## b:")[0]
        let detectionRow = try #require(sideA.split(separator: "\n").first { $0.hasPrefix("| Detection: balanced accuracy") })
        for cell in ["0.800 [0.60, 0.90] (3)", "0.650 [", "0.500 [0.50, 0.50] (6)", "| 0.150 ["] {
            #expect(detectionRow.contains(cell), "\(detectionRow)")
        }
        let fuzzingRow = try #require(sideA.split(separator: "\n").first { $0.hasPrefix("| Fuzzing: balanced accuracy") })
        #expect(
            fuzzingRow.contains("0.750 [") && fuzzingRow.contains("0.500 [0.50, 0.50] (1)") && fuzzingRow.contains("chance 0.5"),
            "\(fuzzingRow)")
        #expect(sideA.contains("## a: every scorer, features vs neurons vs control"))
        let detection = comparison.paired(DetectionStage.scorer)
        let features = try #require(detection.first { $0.kind == .feature })
        #expect(features.paired == 3 && features.bWins == 3 && features.medianA == 0.8)
        #expect(abs(features.medianB! - 0.9) < 1e-12 && abs(features.medianDifference! - 0.1) < 1e-12)
        // Every paired difference is 0.1: the paired intervals have zero width there.
        #expect(abs(features.medianDifferenceCI!.low - 0.1) < 1e-12 && abs(features.medianDifferenceCI!.high - 0.1) < 1e-12)
        #expect(abs(features.meanDifferenceCI!.low - 0.1) < 1e-12 && abs(features.meanDifferenceCI!.high - 0.1) < 1e-12)
        // Unpaired, the same shift shows as a difference of medians with a wider interval that holds it.
        let unpaired = try #require(features.unpairedMedianDifferenceCI)
        #expect(abs(features.unpairedMedianDifference! - 0.1) < 1e-12 && unpaired.contains(0.1) && unpaired.high - unpaired.low > 0.1)
        #expect(text.contains("0.100 [0.10, 0.10]"))

        // Runs of different units: nothing to pair, so only the unpaired difference of medians
        // (B − A, the sides resampled independently) is shown, with an interval that holds it.
        let disjoint = b.units(.feature).map { unit in
            var moved = unit
            moved.statistics.unit.index += 100
            return moved
        }
        let detectionScore: (UnitReport) -> Double? = { $0.explanation?.score(DetectionStage.scorer.metric, .all)?.value }
        let apart = try #require(RunComparison.pair(a: a.units(.feature), b: disjoint, kind: .feature, value: detectionScore))
        #expect(apart.shared == 0 && apart.paired == 0 && apart.medianDifference == nil && apart.medianDifferenceCI == nil)
        #expect(abs(apart.unpairedMedianDifference! - 0.1) < 1e-12 && apart.unpairedMedianDifferenceCI!.contains(0.1))
        let effect = try #require(apart.rankTest?.effectSize)
        #expect(apart.probabilityBGreaterCI?.contains(effect) == true)
        let neurons = try #require(detection.first { $0.kind == .neuron })
        #expect(neurons.ties == 3 && neurons.bWins == 0)
        // Simulation is unchanged between the runs: all ties; the undefined neuron is paired on neither side.
        let simulation = comparison.paired
        #expect(simulation.first { $0.kind == .neuron }?.paired == 2)
        #expect(simulation.allSatisfy { $0.bWins == 0 && $0.aWins == 0 })
    }
}
