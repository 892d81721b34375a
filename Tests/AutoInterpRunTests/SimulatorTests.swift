import AutoInterpLLM
import AutoInterpTestSupport
import Foundation
import Logging
import Testing

@testable import AutoInterp

/// The simulator: strict parsing of JSON and logprob answers, the expected-value table, batching and the one retry.
struct SimulatorTests {
    typealias TL = ChatCompletionResponse.TokenLogprob
    typealias Top = ChatCompletionResponse.TopLogprob

    /// A logprob answer for one excerpt of tokens, the value position of token i carrying `tops[i]`.
    static func logprobAnswer(_ tokens: [String], _ tops: [[(String, Double)]]) -> [TL] {
        var pieces: [TL] = [TL(token: "<excerpt 1>", logprob: 0), TL(token: "\n", logprob: 0)]
        for (i, token) in tokens.enumerated() {
            pieces.append(TL(token: token, logprob: 0))
            pieces.append(TL(token: "\t", logprob: 0))
            let top = tops[i].map { Top(token: $0.0, logprob: log($0.1)) }
            pieces.append(TL(token: top.first?.token ?? "0", logprob: top.first?.logprob ?? 0, topLogprobs: top))
            pieces.append(TL(token: "\n", logprob: 0))
        }
        pieces.append(TL(token: "</excerpt>", logprob: 0))
        return pieces
    }

    // MARK: - Logprob expected values (REFERENCE.md)

    @Test(arguments: [
        ([("0", 0.5), ("1", 0.25), ("10", 0.125), ("unknown", 0.125)], 1.714286),
        ([("0", 0.9), ("5", 0.05)], 0.263158),
        ([("0", 0.7), ("2", 0.2), ("7", 0.1)], 1.1),
        ([("01", 0.6), ("3", 0.4)], 3.0),
    ])
    func expectedValueTable(top: [(String, Double)], expected: Double) throws {
        let outcomes = SimulationParser.parseLogprobs(Self.logprobAnswer(["cat"], [top]), records: [["cat"]])
        let values = try #require(outcomes.first?.values)
        #expect(abs(values[0] - expected) < 1e-6)
    }

    @Test func noExactDigitIsNoPrediction() {
        let answer = Self.logprobAnswer(["the", "cat"], [[("0", 0.9)], [("unknown", 0.5), (" 1", 0.3), ("\n", 0.2)]])
        let outcomes = SimulationParser.parseLogprobs(answer, records: [["the", "cat"]])
        guard case .failed(let reason) = outcomes[0] else { Issue.record("expected a failure"); return }
        #expect(reason.contains("token 2") && reason.contains("no digit token"))
    }

    @Test func logprobAnswerReadsEveryRecord() throws {
        var answer = Self.logprobAnswer(["a", "fox"], [[("0", 1)], [("9", 0.5), ("8", 0.5)]])
        // A second excerpt, and chatter outside the blocks, which is ignored.
        answer.insert(TL(token: "Answer:\n", logprob: 0), at: 0)
        answer += [TL(token: "\n<excerpt 2>\n", logprob: 0), TL(token: "red", logprob: 0), TL(token: "\t", logprob: 0),
                   TL(token: "3", logprob: 0, topLogprobs: [Top(token: "3", logprob: 0)]), TL(token: "\n</excerpt>", logprob: 0)]
        let outcomes = SimulationParser.parseLogprobs(answer, records: [["a", "fox"], ["red"]])
        #expect(outcomes == [.predicted([0, 8.5]), .predicted([3])])
    }

    @Test(arguments: [
        ("missing logprobs", "carried no logprobs"),
        ("wrong length", "wrong length"),
        ("misaligned", "misaligned"),
        ("no tab", "no tab"),
        ("merged value", "not a separate answer token"),
        ("missing excerpt", "missing"),
    ])
    func logprobParseFailures(kind: String, fragment: String) {
        let tokens = ["the", "cat"]
        var answer: [TL]? = Self.logprobAnswer(tokens, [[("0", 1)], [("9", 1)]])
        var records = [tokens]
        switch kind {
        case "missing logprobs": answer = nil
        case "wrong length": records = [["the", "cat", "sat"]]
        case "misaligned": records = [["the", "dog"]]
        case "no tab": answer = [TL(token: "<excerpt 1>\nthe 0\ncat 9\n</excerpt>", logprob: 0)]
        case "merged value":
            answer = [TL(token: "<excerpt 1>\nthe", logprob: 0), TL(token: "\t0", logprob: 0), TL(token: "\ncat", logprob: 0), TL(token: "\t9", logprob: 0), TL(token: "\n</excerpt>", logprob: 0)]
        default: records = [tokens, tokens]
        }
        let outcomes = SimulationParser.parseLogprobs(answer, records: records)
        guard case .failed(let reason) = outcomes.last else { Issue.record("expected a failure for \(kind)"); return }
        #expect(reason.contains(fragment), "\(reason)")
    }

    // MARK: - JSON answers

    @Test func jsonAnswerParses() {
        let content = "```json\n{\"1\": [[\"the\", 0], [\" cat\", 9.5]], \"2\": [[\"\\\\n\", 2]]}\n```"
        #expect(SimulationParser.parseJSON(content, records: [["the", "cat"], ["\n"]]) == [.predicted([0, 9.5]), .predicted([2])])
        // The answer format the few-shot example and the test endpoint use parses back.
        let shaped = SimulatorAnswerFormat.json(tokens: [["a", "\t"]], values: [[1, 7]])
        #expect(SimulationParser.parseJSON(shaped, records: [["a", "\t"]]) == [.predicted([1, 7])])
    }

    @Test(arguments: [
        ("", "empty text"),
        ("{\"1\": [[\"the\", 0], [\"cat\"", "not valid JSON"),
        ("[[\"the\", 0], [\"cat\", 9]]", "not an object"),
        ("{\"1\": [[\"the\", 0], [\"cat\", 9]], \"7\": []}", "unexpected key"),
        ("{\"1\": [[\"the\", 0]]}", "wrong length"),
        ("{\"1\": [[\"the\", 0], [\"dog\", 9]]}", "misaligned"),
        ("{\"1\": [[\"the\", 0], [\"cat\", 11]]}", "outside 0-10"),
        ("{\"1\": [[\"the\", 0], [\"cat\", \"9\"]]}", "not a number"),
        ("{\"1\": [[\"the\", 0], [\"cat\", true]]}", "not a number"),
        ("{\"1\": [0, 9]}", "pair"),
        ("{\"2\": [[\"the\", 0], [\"cat\", 9]]}", "unexpected key"),
        ("{}", "missing"),
    ])
    func jsonParseFailures(content: String, fragment: String) {
        let outcomes = SimulationParser.parseJSON(content, records: [["the", "cat"]])
        guard case .failed(let reason) = outcomes.first else { Issue.record("expected a failure for \(content)"); return }
        #expect(reason.contains(fragment), "\(reason)")
    }

    // MARK: - Against the test endpoint

    static func client(_ endpoint: TestEndpoint) throws -> LLMClient {
        var logger = Logger(label: "test.simulator")
        logger.logLevel = .critical
        return try LLMClient(config: LLMEndpointConfig(baseURL: endpoint.baseURL, model: "m", apiKeyEnv: "AUTOINTERP_TEST_NO_KEY"), store: InMemoryResponseStore(), logger: logger)
    }

    static let records: [[String]] = (0..<7).map { i in ["the", SyntheticDataset.animals[i % 8], "runs", "in", "the", "park"] }

    @Test(arguments: [ScriptedLLM.SimulatorBehaviour.wrongLength, .badJSON, .misaligned])
    func unparseableRepliesAreRetriedOnceThenFailed(behaviour: ScriptedLLM.SimulatorBehaviour) async throws {
        for mode in [SimulatorMode.json, .logprobs, .sparse] {
            let endpoint = try TestEndpoint(TestEndpoint.Configuration(handler: ScriptedLLM(simulator: behaviour).handler))
            defer { endpoint.stop() }
            let prompts = try PromptSet(prompts: ScriptedRun.promptsFolder, rubric: ScriptedRun.rubricFile)
            let simulator = LLMSimulator(
                client: try Self.client(endpoint), template: prompts.simulator(for: mode), mode: mode, recordsPerCall: 3)
            let outcomes = try await simulator.simulate(explanation: "animal words", records: Self.records)
            #expect(outcomes.count == 7)
            // 3 batches (3 + 3 + 1), each asked twice.
            #expect(endpoint.requestCount == 6, "\(mode)")
            #expect(endpoint.seenRequests.allSatisfy { $0.request?.messages.count == 2 || $0.request?.messages.count == 4 })
            let failed = outcomes.filter { if case .failed(let reason) = $0 { return reason.hasSuffix("(after one retry)") } else { return false } }
            // Wrong length breaks the first record of each batch; bad and misaligned answers break every record.
            // A sparse answer is read as a whole: a pair naming a missing token or a value over 10 fails the batch.
            #expect(failed.count == (behaviour == .wrongLength && mode != .sparse ? 3 : 7), "\(mode) \(behaviour)")
            #expect(outcomes.allSatisfy { $0 != .predicted(Array(repeating: 0, count: 6)) })
        }
    }

    /// A batch larger than `largestUnsplitBatch` that fails its call and its retry is asked again in two
    /// halves; a batch at or under it is not split.
    @Test func aBatchThatStillFailsIsAskedAgainInHalves() async throws {
        let records = (0..<10).map { i in ["the", SyntheticDataset.animals[i % 8], "runs", "in", "the", "park"] }
        let prompts = try PromptSet(prompts: ScriptedRun.promptsFolder, rubric: ScriptedRun.rubricFile)
        // Answers of up to 5 records align: 10 records fail twice, then two halves of 5 parse.
        let endpoint = try TestEndpoint(TestEndpoint.Configuration(handler: ScriptedLLM(simulator: .misalignedOver(5)).handler))
        defer { endpoint.stop() }
        let simulator = LLMSimulator(client: try Self.client(endpoint), template: prompts.simulatorJSON, mode: .json, recordsPerCall: 10)
        let outcomes = try await simulator.simulate(explanation: "animal words", records: records)
        #expect(endpoint.requestCount == 4)
        #expect(outcomes.count == 10 && outcomes.allSatisfy { $0 == .predicted([0, 9, 0, 0, 0, 0]) })
        #expect(endpoint.seenRequests.suffix(2).allSatisfy { 
            let user = $0.request?.messages.last?.content ?? ""
            return $0.request?.messages.count == 2 && user.contains(RecordFormat.openTag(5)) && !user.contains(RecordFormat.openTag(6))
        })

        // Answers of up to 2 records align: the halves of 5 fail too and are not split again.
        let strict = try TestEndpoint(TestEndpoint.Configuration(handler: ScriptedLLM(simulator: .misalignedOver(2)).handler))
        defer { strict.stop() }
        let again = LLMSimulator(client: try Self.client(strict), template: prompts.simulatorJSON, mode: .json, recordsPerCall: 10)
        let failed = try await again.simulate(explanation: "animal words", records: records)
        #expect(strict.requestCount == 6)
        #expect(failed.allSatisfy { if case .failed(let reason) = $0 { reason.hasSuffix("(after one retry) (asked again in a batch of 5)") } else { false } })

        // At 5 records a call there is nothing to split: 2 batches, each asked twice.
        let small = try TestEndpoint(TestEndpoint.Configuration(handler: ScriptedLLM(simulator: .misalignedOver(2)).handler))
        defer { small.stop() }
        let five = LLMSimulator(client: try Self.client(small), template: prompts.simulatorJSON, mode: .json, recordsPerCall: 5)
        #expect(try await five.simulate(explanation: "animal words", records: records).allSatisfy { $0.values == nil })
        #expect(small.requestCount == 4)
    }

    @Test func aBadFirstAnswerIsCuredByTheRetry() async throws {
        let endpoint = try TestEndpoint(TestEndpoint.Configuration(handler: ScriptedLLM(simulator: .badJSONOnce).handler))
        defer { endpoint.stop() }
        let prompts = try PromptSet(prompts: ScriptedRun.promptsFolder, rubric: ScriptedRun.rubricFile)
        let simulator = LLMSimulator(client: try Self.client(endpoint), template: prompts.simulatorJSON, mode: .json)
        let outcomes = try await simulator.simulate(explanation: "animal words", records: Array(Self.records.prefix(5)))
        #expect(endpoint.requestCount == 2)
        #expect(outcomes.allSatisfy { $0 == .predicted([0, 9, 0, 0, 0, 0]) })
        let retry = try #require(endpoint.seenRequests.last?.request)
        #expect(retry.messages[2].role == "assistant" && retry.messages[3].content.contains("could not be used"))
    }

    @Test func batchesFollowRecordsPerCall() async throws {
        let endpoint = try TestEndpoint(TestEndpoint.Configuration(handler: ScriptedLLM().handler))
        defer { endpoint.stop() }
        let prompts = try PromptSet(prompts: ScriptedRun.promptsFolder, rubric: ScriptedRun.rubricFile)
        let client = try Self.client(endpoint)
        let simulator = LLMSimulator(client: client, template: prompts.simulatorLogprobs, mode: .logprobs, recordsPerCall: 5)
        let outcomes = try await simulator.simulate(explanation: "animal words", records: Self.records)
        #expect(endpoint.requestCount == 2)
        #expect(outcomes.count == 7)
        for outcome in outcomes {
            let values = try #require(outcome.values)
            // The scripted top logprobs: "9" .85, "8" .1, "0" .05 on animals; "0" .9, "1" .07, "9" .03 elsewhere.
            #expect(abs(values[1] - 8.45) < 1e-9)
            #expect(abs(values[0] - 0.34) < 1e-9)
        }
        let request = try #require(endpoint.seenRequests.first?.request)
        #expect(request.logprobs == true && request.topLogprobs == 20 && request.temperature == 0)
    }

    @Test func autoModeFollowsTheEndpoint() async throws {
        for logprobs in [true, false] {
            let endpoint = try TestEndpoint(TestEndpoint.Configuration(handler: ScriptedLLM(logprobs: logprobs).handler))
            defer { endpoint.stop() }
            let client = try Self.client(endpoint)
            let decision = try await SimulatorModeProbe.resolve(.auto, client: client, model: "m")
            #expect(decision.mode == (logprobs ? .logprobs : .json))
            // Cached: asking again makes no request.
            let count = endpoint.requestCount
            _ = try await SimulatorModeProbe.resolve(.auto, client: client, model: "m")
            #expect(endpoint.requestCount == count)
            #expect(try await SimulatorModeProbe.resolve(.json, client: client, model: "m").mode == .json)
        }
    }

    @Test func sparseAnswersNameOnlyTheTokensThatFire() throws {
        let records = [["the", "cat", "runs"], ["a", "dog"]]
        let text = SparseAnswer.records(records)
        #expect(text == "<excerpt 1>\n1\tthe\n2\tcat\n3\truns\n</excerpt>\n\n<excerpt 2>\n4\ta\n5\tdog\n</excerpt>")
        #expect(SparseAnswer.parse(#"{"fires": [[2, 9], [5, 10], [2, 3]]}"#, records: records) == [.predicted([0, 9, 0]), .predicted([0, 10])])
        #expect(SparseAnswer.parse("```json\n{\"fires\": []}\n```", records: records) == [.predicted([0, 0, 0]), .predicted([0, 0])])
        #expect(SparseAnswer.parse("[[1, 4.5]]", records: records) == [.predicted([4.5, 0, 0]), .predicted([0, 0])])
        for (answer, fragment) in [
            (#"{"fires": [[6, 9]]}"#, "numbered 1-5"), (#"{"fires": [[0, 9]]}"#, "numbered 1-5"), (#"{"fires": [[2, 11]]}"#, "outside 0-10"),
            (#"{"fires": [[2]]}"#, "not [number, activation]"), (#"{"fire": []}"#, "no \"fires\""), ("no", "not valid JSON"), ("", "empty"),
            (#"{"fires": [[1.5, 3]]}"#, "numbered 1-5"),
        ] {
            let outcomes = SparseAnswer.parse(answer, records: records)
            #expect(outcomes.count == 2)
            for outcome in outcomes {
                guard case .failed(let reason) = outcome else {
                    Issue.record("\(answer) parsed")
                    continue
                }
                #expect(reason.contains(fragment), "\(answer): \(reason)")
            }
        }
        // The answer budget grows with the tokens shown, and the schema bounds the numbers.
        #expect(SparseAnswer.maxTokens(tokens: 300) > SparseAnswer.maxTokens(tokens: 30))
        let schema = SparseAnswer.schema(tokens: 300)
        #expect(schema.violation(in: Data(#"{"fires": [[2, 9], [300, 1]]}"#.utf8)) == nil)
        #expect(schema.violation(in: Data(#"{"fires": [[2]]}"#.utf8)) != nil)
        #expect(schema.violation(in: Data(#"{"fires": [[301, 1]]}"#.utf8)) != nil)
    }

    @Test func sparseRequestsShareTheirPrefix() throws {
        let prompts = try PromptSet(prompts: ScriptedRun.promptsFolder, rubric: ScriptedRun.rubricFile)
        let endpoint = try TestEndpoint(TestEndpoint.Configuration(handler: ScriptedLLM().handler))
        defer { endpoint.stop() }
        let simulator = LLMSimulator(client: try Self.client(endpoint), template: prompts.simulatorSparse, mode: .sparse)
        let a = try simulator.request(explanation: "animal words", records: [["the", "cat"]])
        let b = try simulator.request(explanation: "animal words", records: [["a", "dog", "runs"]])
        // The system text, the worked example and the explanation come before the records.
        #expect(a.messages[0] == b.messages[0])
        let userA = a.messages[1].content, userB = b.messages[1].content
        let shared = zip(userA, userB).prefix { $0 == $1 }.count
        let explanationEnd = try #require(userA.range(of: "Explanation of the unit: animal words", options: .backwards)).upperBound
        #expect(shared >= userA.distance(from: userA.startIndex, to: explanationEnd))
        #expect(a.maxTokens == SparseAnswer.maxTokens(tokens: 2) && a.responseFormat?.type == "json_object")
    }
}
