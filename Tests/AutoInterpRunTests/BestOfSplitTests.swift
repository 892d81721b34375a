import AutoInterpLLM
import AutoInterpTestSupport
import Foundation
import Logging
import Synchronization
import Testing

@testable import AutoInterp

/// Best-of-K on a validation/test split (`--explainer-samples K`): the split is seeded and
/// stable; on the scripted endpoint, with two planted samples of which the one better on the
/// validation half is worse on the test half, the validation winner is kept, every reported
/// figure is its test-half one, the other sample stays a candidate with its validation scores,
/// and the first sample's test figure gives the gain.
struct BestOfSplitTests {
    @Test func theSplitIsSeededStableAndHalves() {
        for n in [0, 1, 2, 7, 15] {
            let unit = UnitRef(.feature, 3)
            let mask = HeldOutSplit.validationMask(count: n, unit: unit)
            #expect(mask.count == n && mask.count { $0 } == n / 2 && n - mask.count { $0 } == HeldOutSplit.testCount(n))
            #expect(mask == HeldOutSplit.validationMask(count: n, unit: unit))
        }
        // Another unit splits differently (seeded by the unit).
        #expect(
            HeldOutSplit.validationMask(count: 15, unit: UnitRef(.feature, 3))
                != HeldOutSplit.validationMask(count: 15, unit: UnitRef(.neuron, 3)))
    }
}

extension PipelineSuites {
    @Suite(.serialized) struct BestOfSplitRunTests {
        /// The scripted simulator's prediction for an explanation: 9 on the words it names, else 0.
        static func simulated(_ explanation: String, _ records: [HeldOutRecord]) -> [StoredSimulation] {
            let words = ScriptedLLM.words(for: explanation) ?? []
            return records.map { record in
                StoredSimulation(
                    subset: record.subset, recordIndex: record.recordIndex, tokens: record.example.tokens,
                    trueActivations: record.example.activations,
                    outcome: .predicted(record.example.tokens.map { words.contains($0) ? 9 : 0 }))
            }
        }

        /// The records of a sparse simulator prompt, as token lists.
        static func records(_ text: String) -> [[String]] {
            var records: [[String]] = []
            var current: [String]?
            for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
                if RecordFormat.openTagNumber(line) != nil {
                    current = []
                } else if line.trimmingCharacters(in: .whitespaces) == RecordFormat.closeTag {
                    if let current { records.append(current) }
                    current = nil
                } else if current != nil {
                    current?.append(line.split(separator: "\t", maxSplits: 1, omittingEmptySubsequences: false).last.map(String.init) ?? "")
                }
            }
            return records
        }

        static func spearman(_ explanation: String, _ records: [HeldOutRecord]) -> Double? {
            SimulationScoring.scores(from: simulated(explanation, records)).first { $0.metric == .spearman && $0.subset == .all }?.value
        }

        @Test func theValidationWinnerIsKeptAndReportedOnTheTestHalf() async throws {
            let dir = try TemporaryDirectory()
            defer { dir.remove() }
            let (dataset, sae) = try ScriptedRun.writeDataset(in: dir, contexts: 80)
            let texts = Mutex<[String]>([])
            let script = ScriptedLLM()
            let endpoint = try TestEndpoint(
                TestEndpoint.Configuration(handler: { seen in
                    guard let request = seen.request else { return TestReply(content: "") }
                    let user = request.messages.first { $0.role == "user" }?.content ?? ""
                    guard ScriptedLLM.responders.first(where: { $0.matches(request, user) })?.stage == StageName.explain.rawValue else {
                        return script.reply(seen)
                    }
                    // The planted samples: sample k (seed nil for 0, else k; with `n`, choice i of a
                    // call seeded s is sample s + i) answers texts[k].
                    let first = request.seed ?? 0
                    let answers = (first..<first + max(1, request.n ?? 1)).map { sample in
                        let text = texts.withLock { $0.isEmpty ? "function words" : $0[min(sample, $0.count - 1)] }
                        return request.responseFormat?.type == "json_schema"
                            ? "{\"explanation\": \(SimulatorAnswerFormat.quoted(text))}" : "Explanation: \(text)."
                    }
                    var reply = TestReply(content: answers[0])
                    reply.choices = answers
                    return reply
                }))
            defer { endpoint.stop() }
            var request = try ScriptedRun.request(
                dir: dir, dataset: dataset, sae: sae, features: "0", neurons: "none", endpoint: endpoint.baseURL)
            request.explainerSamples = 2
            request.stages = [.explain, .simulate, .score]

            // Select first, then plant: T better than V on the test half, V better on the validation half.
            let prepared = try RunSetup(logger: DetectionTests.quietLogger()).prepare(request.setup)
            let unit = try #require(try prepared.store.units(runID: prepared.run.id).first)
            let records = try prepared.store.heldOutRecords(unitID: unit.id)
            let (validation, test) = HeldOutSplit.split(records, unit: unit.unit)
            #expect(validation.count == records.count / 2 && test.count == records.count - records.count / 2)
            let candidates = ScriptedLLM.classes.map(\.name) + SyntheticDataset.vocabulary.map { "only the word \"\($0)\"" }
            let scored = candidates.compactMap { text -> (text: String, validation: Double, test: Double)? in
                guard let v = Self.spearman(text, validation), let t = Self.spearman(text, test) else { return nil }
                return (text, v, t)
            }
            typealias Scored = (text: String, validation: Double, test: Double)
            var pair: (planted: Scored, chosen: Scored)?
            for t in scored where pair == nil {
                for v in scored where v.validation > t.validation + 0.05 && t.test > v.test + 0.05 {
                    pair = (t, v)
                    break
                }
            }
            let (planted, chosen) = try #require(pair, "no planted pair in this dataset")
            texts.withLock { $0 = [planted.text, chosen.text] }

            let result = try await RunCoordinator(logger: DetectionTests.quietLogger()).run(request)
            #expect(result.summary.isComplete, "\(result.summary.text)")
            let store = result.store
            let progress = try #require(try store.progress(runID: result.run.id).first)
            let winner = try #require(progress.explanation)
            // The validation winner is the unit's explanation, although the other is better on the test half.
            #expect(winner.text == chosen.text)
            #expect(try store.explanations(runID: result.run.id).count == 1)
            // Its simulations are exactly the test half, and every reported figure is the test one.
            let simulations = try store.simulations(explanationID: winner.id)
            #expect(Set(simulations.map { "\($0.subset.rawValue)/\($0.recordIndex)" }) == Set(test.map(\.key)))
            let scores = try store.scores(explanationID: winner.id)
            func value(_ metric: StoredScore.Metric, _ subset: StoredScore.Subset, in scores: [StoredScore]) -> Double? {
                scores.first { $0.metric == metric && $0.subset == subset }?.value
            }
            #expect(value(.spearman, .all, in: scores).map { abs($0 - chosen.test) < 1e-9 } == true, "\(scores)")
            #expect(value(.spearman, .validation, in: scores).map { abs($0 - chosen.validation) < 1e-9 } == true)
            #expect(value(.spearman, .firstSample, in: scores).map { abs($0 - planted.test) < 1e-9 } == true)
            #expect(result.summary.scorer("simulation")?.byKind["feature"]?.median.map { abs($0 - chosen.test) < 1e-9 } == true)
            // The other sample stays, out of every headline, with its validation scores (and, as the first sample, its test ones).
            let others = try store.candidateExplanations(unitID: unit.id)
            #expect(others.map(\.text) == [planted.text] && others.map(\.candidateSample) == [0])
            let otherScores = try store.scores(explanationID: try #require(others.first).id)
            #expect(value(.spearman, .validation, in: otherScores).map { abs($0 - planted.validation) < 1e-9 } == true)
            #expect(value(.spearman, .all, in: otherScores).map { abs($0 - planted.test) < 1e-9 } == true)
            #expect(try store.auditExplanations(runID: result.run.id).isEmpty)
            // While choosing, the simulator saw only validation records: every simulation request
            // before the winner's first test-half one holds validation records only.
            let validationTokens = Set(validation.map(\.example.tokens))
            let testTokens = Set(test.map(\.example.tokens))
            let simulationRecords = endpoint.seenRequests.compactMap { seen -> [[String]]? in
                guard let user = seen.request?.messages.first(where: { $0.role == "user" })?.content,
                    user.contains("Explanation of the unit: ")
                else {
                    return nil
                }
                // The sparse prompt numbers each token: `<n>\t<token>` lines inside each record's tags.
                return Self.records(ScriptedLLM.withoutExamples(user))
            }
            let firstTest = try #require(
                simulationRecords.firstIndex { $0.contains { testTokens.contains($0) && !validationTokens.contains($0) } })
            #expect(simulationRecords[..<firstTest].joined().allSatisfy { validationTokens.contains($0) })
            #expect(Set(simulationRecords[..<firstTest].joined()) == validationTokens)  // both samples, every validation record
            // The report: the first-sample section with the gain of best-of-K over it (negative here, as planted).
            let report = try RunReport.load(from: store, run: result.run)
            let row = try #require(
                ScorerTable(report, scorer: ExplainStage.firstSampleScorer).rows.first {
                    $0.first == "median all − first_sample per unit"
                })
            #expect(row[1].hasPrefix(ReportText.fixed(chosen.test - planted.test, 3)), "\(row)")
            // Done: a rerun asks nothing.
            let before = endpoint.requestCount
            _ = try await RunCoordinator(logger: DetectionTests.quietLogger()).run(request)
            #expect(endpoint.requestCount == before)
        }

        @Test func oneSampleKeepsEveryHeldOutRecordAndNoExtraRow() async throws {
            let dir = try TemporaryDirectory()
            defer { dir.remove() }
            let (dataset, sae) = try ScriptedRun.writeDataset(in: dir, contexts: 60)
            let endpoint = try TestEndpoint(TestEndpoint.Configuration(handler: ScriptedLLM().handler))
            defer { endpoint.stop() }
            var request = try ScriptedRun.request(dir: dir, dataset: dataset, sae: sae, features: "0", neurons: "none", endpoint: endpoint.baseURL)
            request.stages = [.explain, .simulate, .score]
            #expect(request.explainerSamples == 1)
            let result = try await RunCoordinator(logger: DetectionTests.quietLogger()).run(request)
            let store = result.store
            let progress = try #require(try store.progress(runID: result.run.id).first)
            let explanation = try #require(progress.explanation)
            // Every held-out record simulated, today's six scores only, no candidate, no first-sample section.
            #expect(try store.simulations(explanationID: explanation.id).count == store.heldOutRecords(unitID: progress.unit.id).count)
            #expect(Set(try store.scores(explanationID: explanation.id).map(\.subset)) == [.all, .top, .random])
            #expect(try store.candidateExplanations(unitID: progress.unit.id).isEmpty)
            #expect(!(try RunReport.load(from: store, run: result.run).scorers.map(\.name).contains("simulation_first_sample")))
        }
    }
}
