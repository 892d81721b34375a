package import AutoInterpLLM
import Foundation

/// The explainer that asks an LLM, with the explainer template (``PromptSet/explainer``).
///
/// Sample 0 is asked at temperature 0; further samples at temperature 1 with the sample number as
/// seed, so each sample is a distinct, cacheable request. An answer with no usable explanation
/// (empty, cut off, a copy of the prompt or of the worked example: ``ExplanationCheck``) is asked
/// again once at a higher temperature with the bad answer shown back, then reported as an
/// ``ExplanationFailure``.
package struct LLMExplainer: UnitExplainer {
    package let client: LLMClient
    package let template: PromptTemplate
    package let model: String
    package var name: String { "llm" }
    package var endpoint: String? { client.config.endpointName }
    /// `max_tokens` of an explainer call.
    package static let maxTokens = 60
    /// How the answer is constrained: with a JSON schema, `{"explanation": "…"}` of at most
    /// ``ExplanationCleaner/maxLength`` characters, so a weak model cannot run on; else plain text.
    package let structuredOutput: StructuredOutputLevel

    /// The answer's schema where the endpoint honours one.
    package static let schema = JSONSchemaValue.object(properties: ["explanation": .string(maxLength: ExplanationCleaner.maxLength)])

    /// - Parameter model: the model asked; nil uses the client's.
    package init(client: LLMClient, template: PromptTemplate, model: String? = nil, structuredOutput: StructuredOutputLevel = .none) {
        self.client = client
        self.template = template
        self.model = model ?? client.config.model
        self.structuredOutput = structuredOutput
    }

    /// The request for a unit's examples (exposed for tests and token estimates).
    package func request(examples: [ExampleRecord], sample: Int) throws -> ChatCompletionRequest {
        let messages = try template.render(ExplainerPrompt.values(for: examples))
        return ChatCompletionRequest(
            model: model, messages: messages, temperature: sample == 0 ? 0 : 1, maxTokens: Self.maxTokens,
            seed: sample == 0 ? nil : sample,
            responseFormat: structuredOutput == .jsonSchema ? .jsonSchema(name: "explanation", schema: Self.schema, strict: true) : nil)
    }

    /// The explanation inside a `{"explanation": "…"}` answer, else the answer as it is.
    static func answerText(_ content: String) -> String {
        let text = SimulationParser.stripFence(content)
        guard text.hasPrefix("{"), let object = (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String: Any],
            let explanation = object["explanation"] as? String
        else { return content }
        return explanation
    }

    package func explain(unit: UnitRef, examples: [ExampleRecord], sample: Int) async throws -> ExplanationResult {
        guard !examples.isEmpty else { throw ExplanationFailure("\(unit) has no explanation examples") }
        var request = try request(examples: examples, sample: sample)
        var reason = ""
        var refused = ""
        for attempt in 0..<2 {
            let prompt = request.messages.filter { $0.role != "assistant" }.map(\.content)
            let answer = try await client.complete(request)
            let content = Self.answerText(answer.content ?? "")
            refused = content
            if answer.isCutOff {
                reason = "the answer was cut off at max_tokens (\(Self.maxTokens)): \(SimulationParser.preview(content))"
            } else {
                let text = ExplanationCleaner.clean(content)
                if let problem = ExplanationCheck.problem(text: text, raw: content, prompt: prompt, examples: FewShotText.explanations(in: template.fewShot?.text ?? "")) {
                    reason = problem
                } else if let text {
                    return ExplanationResult(text: text, promptFile: template.file, promptHash: template.sha256, requestHash: answer.requestHash)
                }
            }
            client.discard(answer)
            if attempt == 0 {
                request.messages += [.assistant(content), .user("That answer could not be used (\(reason)). Reply with exactly one line: \"Explanation: \" followed by a short phrase of your own about this unit.")]
                request.temperature = max(request.temperature ?? 0, 0.7)
            }
        }
        throw ExplanationFailure("\(reason) (asked twice)", answer: refused)
    }
}
