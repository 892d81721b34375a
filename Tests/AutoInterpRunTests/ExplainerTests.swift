import AutoInterpLLM
import AutoInterpTestSupport
import Foundation
import Logging
import Testing

@testable import AutoInterp

/// Explanation cleaning and the LLM explainer against the test endpoint.
struct ExplainerTests {
    @Test(arguments: [
        ("Explanation: names of animals.", "names of animals"),
        ("explanation of this neuron: \"colour words\"", "colour words"),
        ("This neuron fires on words after a comma.", "words after a comma"),
        ("The unit responds to place names", "place names"),
        ("Sure! Here it is.\nExplanation: verbs in the present tense.\n", "verbs in the present tense"),
        ("**number words**", "number words"),
        ("  ", nil),
        (".", nil),
    ] as [(String, String?)])
    func cleaning(raw: String, expected: String?) {
        #expect(ExplanationCleaner.clean(raw) == expected)
    }

    @Test func longAnswersAreCapAtAWord() throws {
        let long = "Explanation: " + Array(repeating: "animal", count: 40).joined(separator: " ")
        let text = try #require(ExplanationCleaner.clean(long))
        #expect(text.count <= ExplanationCleaner.maxLength && text.hasSuffix("animal"))
    }

    /// The LLM explainer asking `endpoint` (its answers cached in memory only) with the repository's prompts.
    static func explainer(asking endpoint: TestEndpoint) throws -> (explainer: LLMExplainer, prompts: PromptSet) {
        var logger = Logger(label: "test.explainer")
        logger.logLevel = .critical
        let client = try LLMClient(
            config: LLMEndpointConfig(baseURL: endpoint.baseURL, model: "m", apiKeyEnv: "AUTOINTERP_TEST_NO_KEY"), store: InMemoryResponseStore(), logger: logger)
        let prompts = try PromptSet(prompts: ScriptedRun.promptsFolder, rubric: ScriptedRun.rubricFile)
        return (LLMExplainer(client: client, template: prompts.explainer), prompts)
    }

    @Test func explainerAsksAndCleans() async throws {
        let endpoint = try TestEndpoint(TestEndpoint.Configuration(handler: ScriptedLLM().handler))
        defer { endpoint.stop() }
        let (explainer, prompts) = try Self.explainer(asking: endpoint)
        let examples = [
            ExampleRecord(role: .explain, subset: .top, context: 0, tokenIDs: [0, 1, 2], tokens: ["the", "owl", "sees"], activations: [0, 3, 0.2]),
            ExampleRecord(role: .explain, subset: .top, context: 1, tokenIDs: [0, 1], tokens: ["red", "fox"], activations: [0, 2.5]),
        ]
        let result = try await explainer.explain(unit: UnitRef(.neuron, 0), examples: examples)
        #expect(result.text == "animal words")
        #expect(result.promptHash == prompts.explainer.sha256 && result.requestHash?.count == 64)
        let seen = try #require(endpoint.seenRequests.first?.request)
        #expect(seen.messages.count == 2 && seen.temperature == 0 && seen.seed == nil)
        #expect(seen.messages[1].content.contains("<excerpt 2>\nred <<fox>>\nfox\t8\n</excerpt>"))
        #expect(seen.messages[1].content.contains("<example>") && !seen.messages[1].content.contains("{{"))
        // A second sample is a distinct request (seed 1, temperature 1).
        _ = try await explainer.explain(unit: UnitRef(.neuron, 0), examples: examples, sample: 1)
        #expect(endpoint.seenRequests.last?.request?.seed == 1 && endpoint.seenRequests.last?.request?.temperature == 1)
    }

    /// Explanation examples where few tokens fire, so the prompt repeats them in a sparse section.
    static let sparseExamples = (0..<3).map { i in
        ExampleRecord(
            role: .explain, subset: .top, context: i, tokenIDs: Array(repeating: 0, count: 8),
            tokens: ["the", "owl", "sees", "a", "red", "park", "in", "the"], activations: [0, 3, 0, 0, 0, 0, 0, 0])
    }

    /// Answers that are not explanations are asked again once (hotter), then refused with the reason.
    @Test(arguments: [
        ("Explanation: Now the unit to explain.", "stop", "a line of the prompt"),
        ("Explanation: units of time", "stop", "worked example"),
        ("Each excerpt is a line of text with the tokens", "stop", "a line of the prompt"),
        (#"{"explanation": "Now the unit to explain. Reply with exactly one line"}"#, "stop", "a line of the prompt"),
        ("Explanation: animals and then some more and more and more", "length", "cut off at max_tokens"),
        ("   ", "stop", "empty text"),
        (String(repeating: "words ", count: 80), "stop", "characters or longer"),
        ("Each excerpt is a line of tex. This unit is a continuation", "stop", "a line of the prompt"),
        ("The example is explained in detail. The example is explained in detail.", "stop", "repeats itself"),
    ])
    func echoesAndCutOffAnswersAreRefused(answer: String, finish: String, fragment: String) async throws {
        let endpoint = try TestEndpoint(TestEndpoint.Configuration(handler: { _ in TestReply(content: answer, finishReason: finish) }))
        defer { endpoint.stop() }
        let (explainer, _) = try Self.explainer(asking: endpoint)
        let examples = Self.sparseExamples
        let failure = try await #require(throws: ExplanationFailure.self) { try await explainer.explain(unit: UnitRef(.neuron, 0), examples: examples) }
        #expect(failure.reason.contains(fragment) && failure.reason.hasSuffix("(asked twice)"), "\(failure.reason)")
        #expect(endpoint.requestCount == 2)
        #expect(endpoint.seenRequests.last?.request?.temperature == 0.7)
    }

    @Test func theExplainerPromptHoldsTheEchoedLine() throws {
        // The echo above is a real line of our prompt (a server that echoes its input sends it back).
        let prompts = try PromptSet(prompts: ScriptedRun.promptsFolder, rubric: ScriptedRun.rubricFile)
        let examples = Self.sparseExamples
        let text = try prompts.explainer.render(ExplainerPrompt.values(for: examples)).map(\.content).joined(separator: "\n")
        #expect(text.contains("Each excerpt is a line of text with the tokens where the unit fired"))
        #expect(text.contains("Tokens not listed did not fire."))
        #expect(ExplanationCheck.problem(text: "names of animals", raw: "Explanation: names of animals", prompt: [text], examples: ["units of time"]) == nil)
    }
}
