import AutoInterpTestSupport
import Foundation
import Testing

@testable import AutoInterp

/// `--neuron-sign` end to end with the local baseline explainer: a neuron's negative side is its
/// own unit (`neuron N (−)`), with its own examples, explanation and scores, labelled in every
/// report; a positive run's identity is as before signed neurons, and a v14 database resumes.
extension PipelineSuites {
    @Suite(.serialized) struct SignedNeuronRunTests {
        static func request(_ dir: TemporaryDirectory, dataset: URL, neurons: String = "0-2", sign: NeuronSign) throws -> RunRequest {
            var setup = RunSetup.Request(
                name: "signed", resultsFolder: dir.path("results"), activations: dataset, features: .indices([]),
                neurons: try UnitSpec(parsing: neurons), selection: ScriptedRun.smallSelection)
            setup.neuronSign = sign
            return RunRequest(setup: setup, endpoint: nil, explainer: .local)
        }

        @Test func bothSidesAreTheirOwnUnitsWithTheirOwnExamplesAndExplanations() async throws {
            let dir = try TemporaryDirectory()
            defer { dir.remove() }
            let dataset = try SignedDataset.write(in: dir)
            let request = try Self.request(dir, dataset: dataset, sign: .both)
            let result = try await RunCoordinator(logger: BaselinePipelineTests.quietLogger()).run(request)
            let summary = result.summary
            // `both` doubles the neuron units.
            #expect(summary.units == 6 && summary.stoppedEarly == nil, "\(summary.text)")
            // Neuron 1 never fires positive: its positive side is dead, its negative side is not.
            #expect(summary.notes.map(\.unit) == ["neuron 1"], "\(summary.text)")
            #expect(summary.text.contains("  neurons (−): 3 units"), "\(summary.text)")
            let units = try result.store.units(runID: result.run.id)
            #expect(units.map(\.unit) == [0, 1, 2].map { UnitRef(.neuron, $0) } + [0, 1, 2].map { UnitRef(.negativeNeuron, $0) })

            func unit(_ ref: UnitRef) throws -> StoredUnit { try #require(units.first { $0.unit == ref }) }
            func explanation(_ ref: UnitRef) throws -> String {
                try #require(try result.store.explanations(unitID: try unit(ref).id).first).text
            }
            func topTokens(_ ref: UnitRef) throws -> Set<String> {
                let records = try result.store.examples(unitID: try unit(ref).id, role: .explain, subset: .top)
                return Set(records.map { record in record.tokens[record.activations.firstIndex(of: record.maxActivation)!] })
            }
            // The positive side of neuron 0 is about cats, its negative side about rivers; neuron 1 fires only negative.
            #expect(try topTokens(UnitRef(.neuron, 0)) == ["cat"])
            #expect(try topTokens(UnitRef(.negativeNeuron, 0)) == ["river"])
            #expect(try topTokens(UnitRef(.negativeNeuron, 1)) == ["cat"])
            let positiveText = try explanation(UnitRef(.neuron, 0)), negativeText = try explanation(UnitRef(.negativeNeuron, 0))
            #expect(positiveText.contains("cat") && !positiveText.contains("river"), "\(positiveText)")
            #expect(negativeText.contains("river") && !negativeText.contains("cat"), "\(negativeText)")
            #expect(try explanation(UnitRef(.negativeNeuron, 1)).contains("cat"))
            // The stored activations are the negated column: the negative side's max is +4 where the neuron is −4.
            #expect(try unit(UnitRef(.negativeNeuron, 0)).statistics.maxActivation == 4)
            #expect(try unit(UnitRef(.neuron, 1)).statistics.maxActivation <= 0)
            // Both planted sides are scored, each on its own examples.
            for ref in [UnitRef(.neuron, 0), UnitRef(.negativeNeuron, 0)] {
                let stored = try #require(try result.store.explanations(unitID: try unit(ref).id).first)
                let scores = try result.store.scores(explanationID: stored.id)
                let score = try #require(scores.first { $0.metric == .spearman && $0.subset == .all })
                #expect((score.value ?? 0) > 0.5, "\(ref): \(score)")
            }

            // Labelled in every report, the summary, summary.json and the export; the positive neurons' column keeps its name.
            let report = try RunReport.load(from: result.store, run: result.run)
            #expect(report.columnKinds == [.feature, .neuron, .negativeNeuron])
            let markdown = MarkdownReport(report).render()
            #expect(markdown.contains("| neurons (−)") && markdown.contains("neuron 0 (−)"))
            let html = HTMLReport(report).render()
            #expect(html.contains("<th>neurons (−)</th>") && html.contains("<option value=\"neuron_negative\">"))
            let simulation = try #require(summary.scorers.first { $0.scorer.name == "simulation" })
            #expect(simulation.byKind["neuron_negative"]?.stored == 3 && simulation.byKind["neuron"]?.stored == 2)
            let json = String(decoding: try JSONEncoder().encode(summary), as: UTF8.self)
            #expect(json.contains("\"neuron_negative\""))
            let config = try result.store.config(runID: result.run.id)
            #expect(config.neuronSign == .both && config.neurons == [0, 1, 2] && config.negativeNeurons == [0, 1, 2])
            // `compare` of the run with itself has the negative side's row.
            let comparison = RunComparison(sides: [.init(label: "A", report: report), .init(label: "B", report: report)])
            #expect(comparison.render().contains("neurons (−)"))
        }

        @Test func negativeOnlyStudiesTheNegatedColumnsAndIsItsOwnConfig() async throws {
            let dir = try TemporaryDirectory()
            defer { dir.remove() }
            let dataset = try SignedDataset.write(in: dir)
            let request = try Self.request(dir, dataset: dataset, neurons: "0", sign: .negative)
            let prepared = try RunSetup(logger: BaselinePipelineTests.quietLogger()).prepare(request.setup)
            #expect(try prepared.store.units(runID: prepared.run.id).map(\.unit) == [UnitRef(.negativeNeuron, 0)])
            let config = try prepared.store.config(runID: prepared.run.id)
            #expect(config.neurons.isEmpty && config.negativeNeurons == [0] && config.units == [UnitRef(.negativeNeuron, 0)])
            // Another side is another run: refused without --force-new, naming what changed.
            let positive = try Self.request(dir, dataset: dataset, neurons: "0", sign: .positive)
            let error = try #require(throws: AutoInterpError.self) {
                try RunSetup(logger: BaselinePipelineTests.quietLogger()).prepare(positive.setup)
            }
            #expect(error.message.contains("different config") && error.message.contains("neuron"), "\(error.message)")
            // A sign without neurons (features only) is refused in one line.
            let none = try Self.request(dir, dataset: dataset, neurons: "none", sign: .negative)
            let refused = try #require(throws: AutoInterpError.self) {
                try RunSetup(logger: BaselinePipelineTests.quietLogger()).prepare(none.setup)
            }
            #expect(refused.option == .neuronSign && refused.message.contains("features are non-negative"))
            #expect(!refused.message.contains("\n"))
        }

        @Test func aPositiveRunKeepsItsIdentityAndAV14DatabaseResumesUnchanged() async throws {
            let dir = try TemporaryDirectory()
            defer { dir.remove() }
            let dataset = try SignedDataset.write(in: dir)
            let request = try Self.request(dir, dataset: dataset, sign: .positive)
            let firstRun: RunInfo, explanations: [String?], scores: Int?, firstSummary: RunSummary
            do {
                let first = try await RunCoordinator(logger: BaselinePipelineTests.quietLogger()).run(request)
                // The identity of a positive run has no sign field: a run made before signed neurons compares equal.
                #expect(!first.run.configJSON.contains("neuronSign") && !first.run.configJSON.contains("negativeNeurons"))
                #expect(try first.store.units(runID: first.run.id).allSatisfy { $0.unit.kind == .neuron })
                let report = try RunReport.load(from: first.store, run: first.run)
                #expect(report.columnKinds == [.feature, .neuron] && !MarkdownReport(report).render().contains("(−)"))
                firstRun = first.run
                firstSummary = first.summary
                explanations = try first.store.database.query("SELECT text FROM explanations ORDER BY id").map { $0.string("text") }
                scores = try first.store.database.query("SELECT COUNT(*) AS n FROM scores").first?.int("n")
            }
            #expect(!explanations.isEmpty)
            // Make the file a v14 database, as a build before signed neurons left it: units with v1's kind
            // constraint, and no v15 table (best-of-K's candidate failures, empty here).
            do {
                let db = try SQLiteDatabase(path: request.setup.databaseURL.path)
                let view = try #require(try db.query("SELECT sql FROM sqlite_master WHERE name = 'rubric_histogram'").first?.string("sql"))
                try db.execute(
                    """
                    PRAGMA foreign_keys = OFF;
                    DROP VIEW rubric_histogram;
                    CREATE TABLE units_v14 (
                        id             INTEGER PRIMARY KEY,
                        run_id         INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
                        kind           TEXT NOT NULL CHECK (kind IN ('feature', 'neuron')),
                        idx            INTEGER NOT NULL CHECK (idx >= 0),
                        max_activation REAL, density REAL, token_count INTEGER, histogram_json TEXT
                    );
                    INSERT INTO units_v14 SELECT * FROM units;
                    DROP TABLE units;
                    ALTER TABLE units_v14 RENAME TO units;
                    CREATE UNIQUE INDEX units_by_run ON units(run_id, kind, idx);
                    \(view);
                    DROP TABLE explanation_candidate_failures;
                    PRAGMA foreign_keys = ON;
                    PRAGMA user_version = 14;
                    """)
                #expect(try db.userVersion() == 14)
                let sql = try db.query("SELECT sql FROM sqlite_master WHERE name = 'units'").first?.string("sql")
                #expect(sql?.contains("neuron_negative") == false)
            }
            let again = try await RunCoordinator(logger: BaselinePipelineTests.quietLogger()).run(request)
            #expect(try again.store.database.userVersion() == RunStore.schemaVersion)
            #expect(again.run.id == firstRun.id && again.run.configJSON == firstRun.configJSON)
            #expect(try again.store.units(runID: again.run.id).map(\.unit) == (0..<3).map { UnitRef(.neuron, $0) })
            // Nothing was redone: the same explanations and scores.
            #expect(try again.store.database.query("SELECT text FROM explanations ORDER BY id").map { $0.string("text") } == explanations)
            #expect(try again.store.database.query("SELECT COUNT(*) AS n FROM scores").first?.int("n") == scores)
            #expect(again.summary.units == firstSummary.units && again.summary.stoppedEarly == nil)
        }
    }
}
