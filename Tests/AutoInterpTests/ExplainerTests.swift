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

    @Test func explainerAsksAndCleans() async throws {
        let endpoint = try TestEndpoint(TestEndpoint.Configuration(handler: ScriptedLLM().handler))
        defer { endpoint.stop() }
        var logger = Logger(label: "test.explainer")
        logger.logLevel = .critical
        let client = try LLMClient(
            config: LLMEndpointConfig(baseURL: endpoint.baseURL, model: "m", apiKeyEnv: "AUTOINTERP_TEST_NO_KEY"), store: InMemoryResponseStore(), logger: logger)
        let prompts = try PromptSet(prompts: ScriptedRun.promptsFolder, rubric: ScriptedRun.rubricFile)
        let explainer = LLMExplainer(client: client, template: prompts.explainer)
        let examples = [
            ExampleRecord(role: .explain, subset: .top, context: 0, tokenIDs: [0, 1, 2], tokens: ["the", "owl", "sees"], activations: [0, 3, 0.2]),
            ExampleRecord(role: .explain, subset: .top, context: 1, tokenIDs: [0, 1], tokens: ["red", "fox"], activations: [0, 2.5]),
        ]
        let result = try await explainer.explain(unit: UnitRef(.neuron, 0), examples: examples)
        #expect(result.text == "animal words")
        #expect(result.promptHash == prompts.explainer.sha256 && result.requestHash?.count == 64)
        let seen = try #require(endpoint.seenRequests.first?.request)
        #expect(seen.messages.count == 2 && seen.temperature == 0 && seen.seed == nil)
        #expect(seen.messages[1].content.contains("<excerpt 2>\nred\t0\nfox\t8\n</excerpt>"))
        #expect(seen.messages[1].content.contains("<example>") && !seen.messages[1].content.contains("{{"))
        // A second sample is a distinct request (seed 1, temperature 1).
        _ = try await explainer.explain(unit: UnitRef(.neuron, 0), examples: examples, sample: 1)
        #expect(endpoint.seenRequests.last?.request?.seed == 1 && endpoint.seenRequests.last?.request?.temperature == 1)
    }
}
