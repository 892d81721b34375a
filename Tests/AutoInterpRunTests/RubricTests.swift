import AutoInterpLLM
import AutoInterpTestSupport
import Foundation
import Logging
import Testing

@testable import AutoInterp

/// The judge: reading its answers, marking the most active token, retrying a bad answer once.
struct RubricTests {
    @Test(arguments: [
        ("3 - cleanly an animal", RubricVerdict.rated(3, reason: "cleanly an animal")),
        ("Rating: 2 — close by", .rated(2, reason: "close by")),
        ("**1**", .rated(1, reason: nil)),
        ("0", .rated(0, reason: nil)),
    ])
    func answersAreRead(content: String, expected: RubricVerdict) {
        #expect(RubricParser.parse(content) == expected)
    }

    @Test(arguments: ["", "4 - too high", "12", "2.5", "maybe 3", "Hmm, hard to say."])
    func badAnswersFail(content: String) {
        guard case .failed = RubricParser.parse(content) else {
            Issue.record("accepted \(content)")
            return
        }
    }

    /// The judge asking `endpoint` (its answers cached in memory only) with the repository's rubric;
    /// `model` is the judge model sent (nil: the endpoint's, `m`).
    static func judge(asking endpoint: TestEndpoint, model: String? = nil) throws -> LLMRubricJudge {
        var logger = Logger(label: "test.rubric")
        logger.logLevel = .critical
        let client = try LLMClient(
            config: LLMEndpointConfig(baseURL: endpoint.baseURL, model: "m", apiKeyEnv: "AUTOINTERP_TEST_NO_KEY"), store: InMemoryResponseStore(), logger: logger)
        let prompts = try PromptSet(prompts: ScriptedRun.promptsFolder, rubric: ScriptedRun.rubricFile)
        return LLMRubricJudge(client: client, template: prompts.rubric, model: model)
    }

    @Test func judgeSeesTheMostActiveTokenMarked() async throws {
        for behaviour in [ScriptedLLM.JudgeBehaviour.sensible, .garbage] {
            let endpoint = try TestEndpoint(TestEndpoint.Configuration(handler: ScriptedLLM(judge: behaviour).handler))
            defer { endpoint.stop() }
            let judge = try Self.judge(asking: endpoint, model: "judge")
            let example = RubricExample(recordIndex: 0, bin: 7, context: 3, tokens: ["the", "cat", "sees", "a", "dog"], activations: [0, 0.4, 0, 0, 0.9])
            #expect(example.markedIndex == 4 && example.activation == 0.9)
            let verdict = try await judge.rate(explanation: "animal words", example: example)
            let request = try #require(endpoint.seenRequests.first?.request)
            #expect(request.model == "judge" && request.messages[1].content.contains("Excerpt 1: the cat sees a [[dog]]"))
            if behaviour == .sensible {
                #expect(verdict == .rated(3, reason: nil))
                #expect(endpoint.requestCount == 1)
            } else {
                #expect(verdict == .failed(reason: "the judge's answer is not valid JSON: Hmm, hard to say. (after one retry)"))
                #expect(endpoint.requestCount == 2)
            }
        }
    }

    @Test func batchAnswersAreReadWholeOrNotAtAll() {
        #expect(RubricParser.parseBatch(#"{"ratings": [3, 0, "2"]}"#, count: 3) == .success([3, 0, 2]))
        #expect(RubricParser.parseBatch("[1, 1]", count: 2) == .success([1, 1]))
        for (answer, fragment) in [
            (#"{"ratings": [3, 0]}"#, "2 ratings for 3"), (#"{"ratings": [3, 4, 0]}"#, "rating 2"), (#"{"ratings": [3, 1.5, 0]}"#, "rating 2"),
            ("3 - fine", "not valid JSON"), ("", "empty"), (#"{"rating": [1, 2, 3]}"#, "no \"ratings\""),
        ] {
            guard case .failure(let failure) = RubricParser.parseBatch(answer, count: 3) else {
                Issue.record("\(answer) parsed")
                continue
            }
            #expect(failure.reason.contains(fragment), "\(answer): \(failure.reason)")
        }
    }

    @Test func theJudgeRatesTenExamplesACall() async throws {
        let endpoint = try TestEndpoint(TestEndpoint.Configuration(handler: ScriptedLLM().handler))
        defer { endpoint.stop() }
        let judge = try Self.judge(asking: endpoint)
        let examples = (0..<23).map { i in
            RubricExample(recordIndex: i, bin: i % 11, context: i, tokens: ["a\(i)", i % 2 == 0 ? "cat" : "park", "runs"], activations: [0, 1, 0])
        }
        let verdicts = try await judge.rate(explanation: "animal words", examples: examples)
        #expect(endpoint.requestCount == 3)  // 10 + 10 + 3
        #expect(verdicts == examples.map { $0.tokens[1] == "cat" ? .rated(3, reason: nil) : .rated(0, reason: nil) })
        let counts = endpoint.seenRequests.compactMap { $0.request?.messages[1].content.components(separatedBy: "\nExcerpt ").count }
        #expect(counts.sorted() == [4, 11, 11])  // the text before the first excerpt, then one piece per excerpt
    }
}
