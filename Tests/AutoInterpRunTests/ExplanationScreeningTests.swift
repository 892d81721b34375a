import AutoInterpLLM
import AutoInterpTestSupport
import Foundation
import Synchronization
import Testing

@testable import AutoInterp

/// Answers that are not descriptions, refused with their reason; ordinary explanations kept.
@Suite struct ExplanationContentTests {
    /// (hostile answer, a fragment of the reason it is refused with).
    static let hostile: [(answer: String, reason: String)] = [
        ("<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>", "HTML page"),
        ("502 Bad Gateway", "HTML page"),
        ("As an AI language model, I cannot describe this neuron.", "refused"),
        ("I'm sorry, but I can't help with that.", "refused"),
        ("null", "placeholder (null)"),
        ("undefined", "placeholder (undefined)"),
        ("None", "placeholder (none)"),
        (#"{"label": "time"}"#, "JSON object"),
        (#"["time", "date"]"#, "JSON array"),
        ("see https://example.com/neuron/12", "URL"),
        (#"=HYPERLINK("http://evil.example","click 3")"#, "spreadsheet formula"),
        ("=1+1", "spreadsheet formula"),
        ("[echo] model=echo-model host=10.0.0.2 time=12:00 messages=4 max_tokens=60 temperature=0.7", "server banner"),
        ("status=ok model=m tokens=60", "key=value dump"),
        ("12345", "no words"),
    ]

    @Test func eachKindIsRefusedWithItsReason() {
        for (answer, reason) in Self.hostile {
            let text = ExplanationCleaner.clean(answer)
            let problem = ExplanationCheck.problem(text: text, raw: answer, prompt: ["Explain the unit."], examples: [])
            #expect(problem?.contains(reason) == true, "\(answer): \(problem ?? "kept")")
            #expect(ExplanationCheck.storedProblem(text ?? answer) != nil, "\(answer) stored by an older run is not caught")
        }
    }

    @Test func ordinaryExplanationsAreKept() {
        let fine = [
            "animal words", "the token 'of' after verbs", "years like 1999 and 2021", "snake_case identifiers in code",
            "the equals sign in assignments", "closing brackets", "words related to time", "sorrow and grief",
            "none-negative numbers in tables", "HTML-like angle brackets in math (a < b)", "Python keywords such as def and class",
            "closing HTML tags such as </p> and </div>", "[SEP] tokens at the end of sentences", "x=1 style assignments",
        ]
        for text in fine {
            #expect(ExplanationCheck.problem(text: text, raw: "Explanation: \(text)", prompt: ["Explain."], examples: []) == nil, "\(text)")
            #expect(ExplanationCheck.storedProblem(text) == nil, "\(text)")
        }
    }

    @Test func controlCharactersAndNULAreStrippedFromAnswers() {
        let cleaned = ExplanationCleaner.clean("Explanation: animal\u{0} \u{1B}[31mwords\u{1B}[0m\u{7}")
        #expect(cleaned == "animal words")
        #expect(ExplanationCheck.storedProblem("animal\u{0}words") != nil)
        #expect(ControlCharacters.oneLine("a\u{1B}]0;title\u{7}b\nc\u{9B}d") == "ab cd")
    }

    @Test func theStoreRefusesANULInAnExplanation() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let store = try RunStore(url: dir.path("r.sqlite"))
        let run = try store.createRun(name: "r", configJSON: "{}")
        let statistics = UnitStatistics(
            unit: UnitRef(.neuron, 0), maxActivation: 1, density: 0.5, tokenCount: 4,
            histogram: ActivationHistogram(max: 1, counts: [2], zeroCount: 2))
        let unitID = try store.saveUnit(runID: run.id, statistics: statistics, examples: [])
        let error = #expect(throws: AutoInterpError.self) {
            try store.addExplanation(unitID: unitID, explainer: "llm", model: "m", text: "animal\u{0} words")
        }
        #expect(error?.message.contains("holds a NUL byte") == true)
        #expect(try store.explanations(unitID: unitID).isEmpty)
    }

    @Test func errorLinesFromAConfigYAMLCarryNoTerminalEscapes() {
        let error = #expect(throws: AutoInterpError.self) {
            _ = try YAMLSubset(text: "\u{1B}[2J\u{1B}]0;pwned\u{7}not a key value line\r", path: "sae/config.yaml")
        }
        let message = error?.message ?? ""
        #expect(message.hasPrefix("sae/config.yaml: line 1:"), "\(message)")
        #expect(message.contains("not a key value line"))
        #expect(!message.unicodeScalars.contains { $0.value < 0x20 || (0x7F...0x9F).contains($0.value) }, "\(message.debugDescription)")
    }

    @Test func tallyRefusesRepeatsAndStopsARunOfIdenticalAnswers() {
        let mixed = ExplanationTally()
        mixed.seedIfNeeded { ([], 6) }
        #expect(mixed.register("Animal words") == .keep)
        for _ in 0..<3 { #expect(mixed.register("words related to  TIME.") == .keep) }
        #expect(mixed.register("words related to time") == .suspect(others: 3))
        #expect(mixed.register("colour words") == .keep)
        let same = ExplanationTally()
        same.seedIfNeeded { (["time words", "Time words"], 6) }
        #expect(same.register("time words") == .keep)
        #expect(same.register("time words") == .suspect(others: 3))
        #expect(same.register("time words") == .stop(answers: 5))
        #expect(ExplanationTally.limit(units: 9) == 4)
        #expect(ExplanationTally.limit(units: 10_000) == 5000)
    }
}

extension PipelineSuites {
/// Hostile explainer answers on the local test endpoint: refused with the reason, kept in
/// `explanation_failures`, counted in the summary and the report, and asked again on the next run.
@Suite(.serialized) struct ExplanationScreeningTests {
    /// What the scripted endpoint's explainer answers.
    final class Script: Sendable {
        /// While set, every explainer answer is this.
        let hostile = Mutex<String?>(nil)
        /// While set, every explainer answer but the scripted "animal words" is this.
        let sameForAll = Mutex<String?>(nil)
        /// While set, explainer call n answers element (n / 2) % count (each unit is asked twice).
        let rotation = Mutex<[String]?>(nil)
        let explainCalls = Mutex(0)
    }

    /// The local test endpoint answering like ``ScriptedLLM``, but for the explainer as `script` says.
    struct Endpoint {
        let script = Script()
        let server: TestEndpoint

        init() throws {
            let scripted = ScriptedLLM()
            let script = script
            server = try TestEndpoint(TestEndpoint.Configuration(handler: { seen in
                let reply = scripted.reply(seen)
                guard reply.content.hasPrefix("Explanation:") || reply.content.hasPrefix("{\"explanation\"") else { return reply }
                let call = script.explainCalls.withLock { calls in
                    defer { calls += 1 }
                    return calls
                }
                if let rotation = script.rotation.withLock({ $0 }) { return TestReply(content: rotation[(call / 2) % rotation.count]) }
                if let hostile = script.hostile.withLock({ $0 }) { return TestReply(content: hostile) }
                if let same = script.sameForAll.withLock({ $0 }), !reply.content.contains("animal words") {
                    return TestReply(content: "Explanation: \(same)")
                }
                return reply
            }))
        }
    }

    static func request(_ dir: TemporaryDirectory, _ dataset: URL, _ endpoint: Endpoint, name: String, neurons: String = "0")
        throws -> RunRequest
    {
        var request = try ScriptedRun.request(name: name, dir: dir, dataset: dataset, neurons: neurons, endpoint: endpoint.server.baseURL)
        request.stages = [.explain]
        request.unitsInFlight = 1
        return request
    }

    @Test func eachHostileKindIsRefusedKeptAndAskedAgainOnRerun() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let (dataset, _) = try ScriptedRun.writeDataset(in: dir, contexts: 40)
        let endpoint = try Endpoint()
        defer { endpoint.server.stop() }
        // One answer of each kind (HTML, refusal, placeholder, JSON, URL, formula, banner), one unit
        // each: every unit is asked twice (the retry), so the kinds go round in pairs of calls.
        let kinds = [0, 2, 4, 7, 9, 10, 12].map { ExplanationContentTests.hostile[$0] }
        endpoint.script.rotation.withLock { $0 = kinds.map(\.answer) }
        let request = try Self.request(dir, dataset, endpoint, name: "h", neurons: "0-6")
        let first = try await RunCoordinator(logger: PipelineSuites.PipelineTests.quietLogger()).run(request)
        #expect(first.summary.failures["explanation"] == kinds.count)
        #expect(first.summary.refusedExplanations?.answers == kinds.count)
        #expect(first.summary.text.contains("explanations refused: \(kinds.count) answers for \(kinds.count) units"))
        let units = try first.store.units(runID: first.run.id)
        var kept: [String: String] = [:]
        for unit in units {
            let refused = try #require(try first.store.explanationFailure(unitID: unit.id))
            kept[refused.answer ?? ""] = refused.reason
            #expect(try first.store.explanations(unitID: unit.id).isEmpty)
        }
        for (answer, reason) in kinds {
            #expect(kept[answer]?.contains(reason) == true, "\(answer): \(kept[answer] ?? "not kept")")
        }
        // The report counts them too.
        #expect(try RunReport.load(from: first.store, run: first.run).refusedExplanations == kinds.count)

        // A healthy endpoint on the next run: every unit asked again; what is stored passes the checks.
        endpoint.script.rotation.withLock { $0 = nil }
        let asked = endpoint.script.explainCalls.withLock { $0 }
        let second = try await RunCoordinator(logger: PipelineSuites.PipelineTests.quietLogger()).run(request)
        #expect(endpoint.script.explainCalls.withLock { $0 } >= asked + kinds.count)
        let stored = try second.store.explanations(runID: second.run.id)
        #expect(stored.count >= 4 && stored.allSatisfy { ExplanationCheck.storedProblem($0.text) == nil })
        #expect(try second.store.explanations(unitID: units[0].id).map(\.text) == ["animal words"])
    }

    @Test func refusedThreeTimesIsNotAskedAgain() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let (dataset, _) = try ScriptedRun.writeDataset(in: dir, contexts: 40)
        let endpoint = try Endpoint()
        defer { endpoint.server.stop() }
        endpoint.script.hostile.withLock { $0 = "null" }
        let request = try Self.request(dir, dataset, endpoint, name: "r")
        for _ in 0..<ExplainStage.maxAttempts {
            _ = try await RunCoordinator(logger: PipelineSuites.PipelineTests.quietLogger()).run(request)
        }
        #expect(endpoint.script.explainCalls.withLock { $0 } == 2 * ExplainStage.maxAttempts)  // each refusal is asked twice
        let last = try await RunCoordinator(logger: PipelineSuites.PipelineTests.quietLogger()).run(request)
        #expect(endpoint.script.explainCalls.withLock { $0 } == 2 * ExplainStage.maxAttempts)
        #expect(last.summary.notes.first?.reason.contains("refused 3 times, not asked again") == true)
        #expect(last.summary.outcome == .unitsIncomplete)
    }

    @Test func garbageStoredByAnOlderRunIsAskedAgainNotScored() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let (dataset, _) = try ScriptedRun.writeDataset(in: dir, contexts: 40)
        let endpoint = try Endpoint()
        defer { endpoint.server.stop() }
        var request = try Self.request(dir, dataset, endpoint, name: "old")
        request.stages = [.explain, .simulate, .score]
        let first = try await RunCoordinator(logger: PipelineSuites.PipelineTests.quietLogger()).run(request)
        let unit = try #require(try first.store.units(runID: first.run.id).first)
        let old = try #require(try first.store.explanations(unitID: unit.id).first)
        #expect(try !first.store.scores(explanationID: old.id).isEmpty)
        // What an older version stored from a hostile endpoint.
        try first.store.database.run("UPDATE explanations SET text = 'null' WHERE id = ?", [old.id])

        let asked = endpoint.script.explainCalls.withLock { $0 }
        let second = try await RunCoordinator(logger: PipelineSuites.PipelineTests.quietLogger()).run(request)
        #expect(endpoint.script.explainCalls.withLock { $0 } == asked + 1)
        let now = try second.store.explanations(unitID: unit.id)
        #expect(now.map(\.text) == ["animal words"])
        #expect(try !second.store.scores(explanationID: now[0].id).isEmpty)
        let simulations = try second.store.simulations(explanationID: now[0].id)
        #expect(!simulations.isEmpty && simulations.allSatisfy(\.isOK))
        let refused = try #require(try second.store.explanationFailure(unitID: unit.id))
        #expect(refused.answer == "null")
        #expect(refused.reason.contains("stored by an earlier run"))
        #expect(second.summary.outcome == .complete)
    }

    @Test func identicalAnswersAreSuspectAndARunOfThemStops() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let (dataset, _) = try ScriptedRun.writeDataset(in: dir, contexts: 40)
        let endpoint = try Endpoint()
        defer { endpoint.server.stop() }

        // Neuron 0 is "animal words"; the other eight all "words related to time": four (half the
        // run's nine units) are kept, the rest refused as suspect, and asked again on the next run.
        endpoint.script.sameForAll.withLock { $0 = "words related to time" }
        let mixed = try await RunCoordinator(logger: PipelineSuites.PipelineTests.quietLogger())
            .run(Self.request(dir, dataset, endpoint, name: "mixed", neurons: "0-8"))
        let texts = try mixed.store.explanations(runID: mixed.run.id).map(\.text)
        #expect(texts.count { $0 == "words related to time" } == 4)
        #expect(texts.contains("animal words"))
        #expect(mixed.summary.failures["explanation"] == 4)
        #expect(mixed.summary.notes.allSatisfy { $0.reason.contains("suspect: the same explanation as 4 other units") })
        #expect(mixed.summary.stoppedEarly == nil)
        endpoint.script.sameForAll.withLock { $0 = nil }
        let asked = endpoint.script.explainCalls.withLock { $0 }
        _ = try await RunCoordinator(logger: PipelineSuites.PipelineTests.quietLogger())
            .run(Self.request(dir, dataset, endpoint, name: "mixed", neurons: "0-8"))
        #expect(endpoint.script.explainCalls.withLock { $0 } >= asked + 4)

        // Every answer the same: the run stops at the fifth, naming the endpoint.
        endpoint.script.hostile.withLock { $0 = "Explanation: words related to time" }
        let same = try await RunCoordinator(logger: PipelineSuites.PipelineTests.quietLogger())
            .run(Self.request(dir, dataset, endpoint, name: "same", neurons: "0-8"))
        let stopped = try #require(same.summary.stoppedEarly)
        #expect(stopped.contains(endpoint.server.baseURL) && stopped.contains("first 5 explanations of this run are all"))
        #expect(same.summary.outcome == .stopped)
        #expect(try same.store.explanations(runID: same.run.id).count == 4)
    }

    @Test func aRunWhoseStoredExplanationsAreAllAlikeSaysSo() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let (dataset, _) = try ScriptedRun.writeDataset(in: dir, contexts: 40)
        let endpoint = try Endpoint()
        defer { endpoint.server.stop() }
        let request = try Self.request(dir, dataset, endpoint, name: "alike", neurons: "0-1")
        let first = try await RunCoordinator(logger: PipelineSuites.PipelineTests.quietLogger()).run(request)
        #expect(first.summary.alikeExplanations == nil)
        try first.store.database.run("UPDATE explanations SET text = 'words related to time'")
        let second = try await RunCoordinator(logger: PipelineSuites.PipelineTests.quietLogger()).run(request)
        #expect(second.summary.alikeExplanations?.hasPrefix("all 2 explanations of this run are alike") == true)
        #expect(second.summary.text.contains("warning: all 2 explanations"))
    }
}
}
