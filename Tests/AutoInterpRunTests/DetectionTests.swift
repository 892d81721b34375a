import AutoInterpLLM
import AutoInterpTestSupport
import Foundation
import Logging
import Testing

@testable import AutoInterp

/// The detection and fuzzing stages end to end: on the scripted endpoint (a correct explanation
/// scores high, an inverted scorer low), bad answers stored as failures and retried, resume
/// after kill -9, the LLM-free baseline, and stored metrics equal to a recomputation.
extension PipelineSuites {
@Suite(.serialized) struct DetectionTests {
    static func quietLogger() -> Logger {
        var logger = Logger(label: "test.detection")
        logger.logLevel = .critical
        return logger
    }

    static let classifying: Set<StageName> = [.explain, .detection, .fuzzing]

    /// Whether a request seen by the endpoint is a classification call (and which).
    static func scorer(_ seen: ChatRequestSeen) -> StoredClassification.Scorer? {
        guard let user = seen.request?.messages.first(where: { $0.role == "user" })?.content, user.contains("{\"answers\"") else { return nil }
        return user.contains("<<highlighted>>") ? .fuzzing : .detection
    }

    /// Every stored classification metric of the run equals the one recomputed from its rows.
    static func expectStoredMetricsEqualRecomputation(_ store: RunStore, runID: Int64) throws {
        var checked = 0
        for explanation in try store.explanations(runID: runID) {
            let stored = try store.scores(explanationID: explanation.id)
            for scorer in StoredClassification.Scorer.allCases {
                let rows = try store.classifications(explanationID: explanation.id, scorer: scorer)
                let recomputed = ClassificationMetrics.scores(scorer, from: rows)
                for score in recomputed {
                    let match = stored.first { $0.metric == score.metric && $0.subset == .all }
                    #expect(match == score, "\(score.metric.rawValue) of explanation \(explanation.id)")
                    checked += 1
                }
            }
        }
        #expect(checked > 0)
    }

    @Test func correctExplanationScoresHighAndAnInvertedScorerLow() async throws {
        var balanced: [ScriptedLLM.ClassifierBehaviour: Double] = [:]
        for behaviour in [ScriptedLLM.ClassifierBehaviour.sensible, .inverted] {
            let dir = try TemporaryDirectory()
            defer { dir.remove() }
            // Feature 0 is the planted animal concept: exactly 0 off animal words (raw neurons carry
            // Gaussian noise on every token, so they have almost no silent context).
            let (dataset, sae) = try ScriptedRun.writeDataset(in: dir, contexts: 200)
            let endpoint = try TestEndpoint(TestEndpoint.Configuration(handler: ScriptedLLM(classifier: behaviour).handler))
            defer { endpoint.stop() }
            var request = try ScriptedRun.request(dir: dir, dataset: dataset, sae: sae, features: "0", neurons: "none", endpoint: endpoint.baseURL)
            request.stages = Self.classifying
            let result = try await RunCoordinator(logger: Self.quietLogger()).run(request)
            #expect(result.summary.isComplete, "\(result.summary.text)")
            let store = result.store
            let progress = try #require(try store.progress(runID: result.run.id).first)
            let explanation = try #require(progress.explanation)
            #expect(explanation.text.contains("animal words"))
            let examples = try store.classificationExamples(unitID: progress.unit.id)
            #expect(examples.count == progress.classifyExamples && examples.count >= 20)
            #expect(examples.contains { $0.record.subset == .silent } && examples.contains { $0.record.subset == .activating })
            for scorer in StoredClassification.Scorer.allCases {
                let rows = try store.classifications(explanationID: explanation.id, scorer: scorer)
                #expect(rows.count == examples.count && rows.allSatisfy { $0.isOK && $0.attempts == 1 })
                // Confidences from the logprobs the endpoint gives.
                #expect(rows.allSatisfy { $0.probability != nil })
                #expect(Set(rows.map(\.label)) == [0, 1])
                #expect(rows.allSatisfy { (scorer == .fuzzing) == ($0.highlighted != nil) })
                for metric in StoredScore.Metric.classification(scorer) { #expect(progress.hasScore(metric, .all)) }
            }
            let scores = try store.scores(explanationID: explanation.id)
            func value(_ metric: StoredScore.Metric) -> Double? { scores.first { $0.metric == metric }?.value }
            if behaviour == .sensible {
                for metric in [StoredScore.Metric.detectionBalancedAccuracy, .detectionAUPRC, .detectionF1, .fuzzingBalancedAccuracy, .fuzzingAUPRC] {
                    #expect((value(metric) ?? 0) >= 0.9, "\(metric.rawValue): \(String(describing: value(metric)))")
                }
            }
            balanced[behaviour] = value(.detectionBalancedAccuracy)
            try Self.expectStoredMetricsEqualRecomputation(store, runID: result.run.id)

            // The requests: a batch of at most 10 examples (the default), a schema asking for exactly that many answers, logprobs.
            let perCall = LLMClassifier.defaultBatchSize
            let calls = endpoint.seenRequests.filter { Self.scorer($0) != nil }
            #expect(calls.count == 2 * ((examples.count + perCall - 1) / perCall))
            for call in calls {
                let user = call.request?.messages.first { $0.role == "user" }?.content ?? ""
                let count = user.split(separator: "\n").count { $0.hasPrefix("Example ") }
                #expect((1...perCall).contains(count))
                #expect(call.request?.responseFormat?.type == "json_schema" && call.request?.logprobs == true)
                #expect(call.bodyText.contains("\"minItems\":\(count)") || call.bodyText.contains("\"minItems\" : \(count)"))
            }
            // Calls per stage in the summary.
            let stages = Dictionary(uniqueKeysWithValues: result.summary.stages.map { ($0.stage, $0.calls) })
            #expect((stages["detection"] ?? 0) >= calls.count / 2 && (stages["fuzzing"] ?? 0) == calls.count / 2, "\(stages)")
            // Done: a rerun asks nothing.
            let before = endpoint.requestCount
            _ = try await RunCoordinator(logger: Self.quietLogger()).run(request)
            #expect(endpoint.requestCount == before)
        }
        #expect((balanced[.inverted] ?? 1) <= 0.1, "\(balanced)")
    }

    /// Three planted features (animal, number, colour words): each one's own explanation detects
    /// and fuzzes near perfectly on the scripted endpoint, while its control (another feature's
    /// explanation, scored on the same examples) sits near chance.
    @Test func controlsOfCorrectExplanationsScoreNearChance() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let (dataset, sae) = try ScriptedRun.writeDataset(in: dir, contexts: 200)
        let endpoint = try TestEndpoint(TestEndpoint.Configuration(handler: ScriptedLLM().handler))
        defer { endpoint.stop() }
        var request = try ScriptedRun.request(dir: dir, dataset: dataset, sae: sae, features: "0-2", neurons: "none", endpoint: endpoint.baseURL)
        request.stages = Self.classifying
        let result = try await RunCoordinator(logger: Self.quietLogger()).run(request)
        #expect(result.summary.isComplete, "\(result.summary.text)")
        let store = result.store
        let controls = try store.controlExplanations(runID: result.run.id)
        #expect(controls.count == 3)
        for control in controls {
            let own = try #require(try store.progress(unitID: control.unitID)?.explanation)
            #expect(own.text != control.text)
            func value(_ explanation: StoredExplanation, _ metric: StoredScore.Metric) throws -> Double {
                try #require(try store.scores(explanationID: explanation.id).first { $0.metric == metric && $0.subset == .all }?.value)
            }
            for metric in [StoredScore.Metric.detectionBalancedAccuracy, .fuzzingBalancedAccuracy] {
                let unit = try value(own, metric), floor = try value(control, metric)
                #expect(unit >= 0.9, "\(metric.rawValue) of unit \(control.unitID): \(unit)")
                #expect(abs(floor - 0.5) <= 0.2, "\(metric.rawValue) of the control of unit \(control.unitID) (\(control.text)): \(floor)")
            }
        }
        try Self.expectStoredMetricsEqualRecomputation(store, runID: result.run.id)
    }

    @Test(arguments: [ScriptedLLM.ClassifierBehaviour.garbage, .wrongCount])
    func badAnswersAreFailedRowsAskedAgainAtMostThreeTimes(_ behaviour: ScriptedLLM.ClassifierBehaviour) async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let (dataset, _) = try ScriptedRun.writeDataset(in: dir, contexts: 120)
        let endpoint = try TestEndpoint(TestEndpoint.Configuration(handler: ScriptedLLM(classifier: behaviour).handler))
        defer { endpoint.stop() }
        var request = try ScriptedRun.request(dir: dir, dataset: dataset, neurons: "0", endpoint: endpoint.baseURL)
        request.stages = [.explain, .detection]
        var asked: [Int] = []
        for run in 1...4 {
            let before = endpoint.seenRequests.count
            let summary = try await RunCoordinator(logger: Self.quietLogger()).run(request).summary
            asked.append(endpoint.seenRequests.dropFirst(before).count { Self.scorer($0) == .detection })
            #expect(!summary.isComplete && (summary.failures["detection"] ?? 0) > 0, "run \(run): \(summary.text)")
            #expect(summary.notes.first?.kind == "detection")
        }
        #expect(asked[0] > 0 && asked[1] == asked[0] && asked[2] == asked[0] && asked[3] == 0, "\(asked)")
        let store = try RunStore(url: request.setup.databaseURL)
        let run = try #require(try store.run(named: "run"))
        let explanation = try #require(try store.explanations(runID: run.id).first)
        let rows = try store.classifications(explanationID: explanation.id, scorer: .detection)
        let expected = behaviour == .garbage ? "not valid JSON" : "answers for"
        #expect(!rows.isEmpty && rows.allSatisfy { row in
            guard case .failed(let reason) = row.outcome else { return false }
            return reason.contains(expected) && reason.hasSuffix("(after one retry)") && row.attempts == DetectionStage.maxAttempts
                && row.probability == nil
        })
        // No answer: every metric undefined, with the reason; never a guessed score.
        let scores = try store.scores(explanationID: explanation.id).filter { $0.metric.rawValue.hasPrefix("detection_") }
        #expect(scores.count == 5 && scores.allSatisfy { $0.value == nil && $0.undefinedReason?.contains("only 0 answered") == true })
        // The unusable answers were not cached: nothing with "answers" replays.
        let progress = try #require(try store.progress(runID: run.id).first)
        #expect(DetectionStage(classifier: PatternClassifier(patterns: PatternSet(entries: []))).isDone(progress))
        #expect(DetectionStage(classifier: PatternClassifier(patterns: PatternSet(entries: []))).gap(progress)?.contains("failed 3 times") == true)
    }

    /// An unreadable answer is asked again once in the same run, with the reason shown.
    @Test func unreadableAnswerIsAskedAgainOnceWithTheReason() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let (dataset, sae) = try ScriptedRun.writeDataset(in: dir, contexts: 120)
        let endpoint = try TestEndpoint(TestEndpoint.Configuration(handler: ScriptedLLM(classifier: .garbageOnce).handler))
        defer { endpoint.stop() }
        var request = try ScriptedRun.request(dir: dir, dataset: dataset, sae: sae, features: "0", neurons: "none", endpoint: endpoint.baseURL)
        request.stages = [.explain, .detection]
        let summary = try await RunCoordinator(logger: Self.quietLogger()).run(request).summary
        #expect(summary.isComplete, "\(summary.text)")
        let calls = endpoint.seenRequests.filter { Self.scorer($0) == .detection }
        let retries = calls.filter { ($0.request?.messages.count ?? 0) > 2 }
        #expect(!retries.isEmpty && retries.count * 2 == calls.count)
        #expect(retries.allSatisfy { $0.request?.messages.last?.content.contains("That answer could not be used (the scorer's answer is not valid JSON") == true })
        let store = try RunStore(url: request.setup.databaseURL)
        let run = try #require(try store.run(named: "run"))
        let explanation = try #require(try store.explanations(runID: run.id).first)
        #expect(try store.classifications(explanationID: explanation.id, scorer: .detection).allSatisfy { $0.isOK && $0.attempts == 1 })
    }

    @Test func killedRunResumesWithoutRedoingStoredAnswers() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let (dataset, sae) = try ScriptedRun.writeDataset(in: dir, contexts: 120)
        let endpoint = try TestEndpoint(TestEndpoint.Configuration(latency: .milliseconds(30), handler: ScriptedLLM().handler))
        defer { endpoint.stop() }
        let args = [
            "run", "--activations", dataset.path, "--sae", sae.path, "--features", "all", "--neurons", "0-3", "--name", "r",
            "--results", dir.path("results").path, "--endpoint", endpoint.baseURL, "--model", "m", "--api-key-env", "AUTOINTERP_TEST_NO_KEY",
            "--prompts", ScriptedRun.promptsFolder.path, "--max-in-flight", "4", "--stages", "explain,detection,fuzzing", "--quiet",
        ]
        let child = try ScriptedProcess(args)
        let wasRunning = try await offCooperativePool {
            let deadline = Date().addingTimeInterval(60)
            while endpoint.seenRequests.count(where: { Self.scorer($0) != nil }) < 40, child.isRunning, Date() < deadline { usleep(2000) }
            let running = child.isRunning
            child.kill9()
            child.wait()
            return running
        }
        #expect(wasRunning, "the run finished before it could be killed")
        let seenBeforeKill = endpoint.requestCount
        let url = dir.path("results/r/autointerp.sqlite")
        struct Row: Equatable { var id: Int64; var createdAt: String; var attempts: Int }
        func rows(_ store: RunStore) throws -> [String: Row] {
            var out: [String: Row] = [:]
            for row in try store.database.query("SELECT * FROM classifications") {
                let key = "\(row.int64("explanation_id") ?? 0)/\(row.string("scorer") ?? "")/\(row.int64("example_id") ?? 0)"
                out[key] = Row(id: row.int64("id") ?? 0, createdAt: row.string("created_at") ?? "", attempts: row.int("attempts") ?? 0)
            }
            return out
        }
        let atKill: [String: Row]
        let cachedAtKill: Set<String>
        do {
            let store = try RunStore(url: url)
            atKill = try rows(store)
            cachedAtKill = Set(try store.database.query("SELECT request_hash FROM llm_cache").compactMap { $0.string("request_hash") })
        }
        #expect(!atKill.isEmpty, "nothing was classified before the kill")

        let resumed = try await offCooperativePool { try CLIRunner.run(args, timeout: 120) }
        #expect(resumed.status == 0, "\(resumed.stderr)")
        #expect(resumed.stdout.contains("run finished: every unit has its results"), "\(resumed.stdout)")
        let store = try RunStore(url: url)
        let after = try rows(store)
        // Rows stored before the kill are kept as they were (not asked again), none is duplicated.
        for (key, row) in atKill { #expect(after[key] == row, "\(key)") }
        #expect(after.values.allSatisfy { $0.attempts == 1 })
        let count = { (sql: String) in try store.database.scalar(sql).flatMap(Int.init(sqliteValue:)) ?? -1 }
        // Both scorers for the unit's explanation and for its control.
        #expect(try count("SELECT COUNT(*) FROM classifications") == 2 * 2 * count("SELECT COUNT(*) FROM examples WHERE role = 'classify'"))
        // No request answered before the kill is sent again.
        func hash(_ seen: ChatRequestSeen) -> String {
            LLMRequestHash.compute(endpoint: endpoint.baseURL, model: seen.request?.model ?? "m", canonicalBody: seen.body)
        }
        let resent = endpoint.seenRequests.dropFirst(seenBeforeKill).filter { cachedAtKill.contains(hash($0)) }
        #expect(resent.isEmpty, "\(resent.count) cached requests were sent again")
        let run = try #require(try store.run(named: "r"))
        #expect(run.status == .done)
        try Self.expectStoredMetricsEqualRecomputation(store, runID: run.id)
    }

    @Test func localBaselineFillsBothScorersWithoutAnLLM() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let (dataset, sae) = try BaselinePipelineTests.dataset(dir)
        let request = try BaselinePipelineTests.request(dir, dataset: dataset, sae: sae, features: "all", neurons: "0")
        let summary = try await RunCoordinator(logger: Self.quietLogger()).run(request).summary
        #expect(summary.isComplete && summary.calls == 0, "\(summary.text)")
        let store = try RunStore(url: request.setup.databaseURL)
        let run = try #require(try store.run(named: "local"))
        var best = 0.0
        for progress in try store.progress(runID: run.id) where !progress.isDead {
            let explanation = try #require(progress.explanation)
            for scorer in StoredClassification.Scorer.allCases {
                let rows = try store.classifications(explanationID: explanation.id, scorer: scorer)
                #expect(rows.count == progress.classifyExamples && rows.allSatisfy { $0.isOK && $0.probability != nil })
                for metric in StoredScore.Metric.classification(scorer) { #expect(progress.hasScore(metric, .all)) }
            }
            if case let value?? = progress.score(.detectionBalancedAccuracy, .all) { best = max(best, value) }
            // AUPRC is defined for the baseline wherever the other metrics are.
            if case _?? = progress.score(.detectionBalancedAccuracy, .all) {
                #expect(progress.score(.detectionAUPRC, .all).flatMap { $0 } != nil)
            }
        }
        #expect(best >= 0.9)
        try Self.expectStoredMetricsEqualRecomputation(store, runID: run.id)
    }

    @Test func fuzzingHighlightsFollowDelphi() throws {
        func example(_ id: Int64, _ activations: [Float]) -> StoredExample {
            StoredExample(
                id: id, recordIndex: Int(id),
                record: ExampleRecord(
                    role: .classify, subset: activations.contains { $0 > 0 } ? .activating : .silent, context: Int(id),
                    tokenIDs: activations.map { _ in 0 }, tokens: activations.indices.map { "t\($0)" }, activations: activations))
        }
        let examples = (0..<8).map { i in example(Int64(i), [0, 1, 0.2, 0, 0.5, 0, 0, Float(i % 3)]) }
            + (8..<12).map { i in example(Int64(i), [0, 0, 0, 0, 0, 0]) }
        let items = FuzzingPlan.items(examples, seed: 4)
        #expect(items.map(\.exampleID) == examples.map(\.id))
        #expect(items == FuzzingPlan.items(examples, seed: 4))
        // Firing tokens per activating example: 3 or 4 (mean 3.625) → 4 random highlights on silent ones.
        for (item, example) in zip(items, examples) {
            let truth = FuzzingPlan.activatingPositions(example.record.activations)
            let highlighted = try #require(item.highlighted)
            if truth.isEmpty {
                #expect(item.label == 0 && highlighted.count == 4 && Set(highlighted).count == 4)
            } else if item.label == 1 {
                #expect(highlighted == truth)
            } else {
                #expect(highlighted.count == truth.count && Set(highlighted).isDisjoint(with: truth))
            }
        }
        // A seeded half of the activating examples is falsified.
        #expect(items.prefix(8).count { $0.label == 0 } == 4)
        // Activating tokens are those at or above 0.3 × the example's max.
        #expect(FuzzingPlan.activatingPositions([0, 1, 0.2, 0.3, 0.5]) == [1, 3, 4])
        #expect(FuzzingPlan.activatingPositions([0, 0]).isEmpty)
        #expect(try StageCatalog.builtIn.parse("detection, fuzzing") == [StageName.detection, .fuzzing])
    }
}
}
