public import AutoInterpLLM
import Foundation

/// The classification scorer that asks an LLM (detection or fuzzing, by its template), a few
/// examples a call.
///
/// The scorer sees the explanation once and up to ``batchSize`` numbered examples, and answers
/// `{"answers": [...]}` with one 0/1 per example (a JSON schema where the endpoint honours one).
/// Where the endpoint gives logprobs, p(1) of each answer is read from its digit token's top
/// logprobs. An unusable answer (not JSON, wrong count, cut off) is asked again once with the
/// reason shown; still unusable, it fails every example of its batch with the reason. Unusable
/// answers are dropped from the response cache, so the next run asks again.
public struct LLMClassifier: UnitClassifier {
    public let client: LLMClient
    public let template: PromptTemplate
    public let model: String
    /// Examples per call.
    public let batchSize: Int
    public let structuredOutput: StructuredOutputLevel
    public let logprobs: LogprobSupport
    /// The default examples per call: 20 (delphi asks 5). Measured on the scripted endpoint
    /// (`ClassifyPerCallTests`, 5 units): at 10 the same answers with 19 instead of 36 detection
    /// calls and 38 % fewer detection tokens (35 % for fuzzing), the instructions being sent half
    /// as often; on the real server (README, "Calls and tokens per unit") 20 a call parsed every
    /// answer and brought the whole evaluation under 12k tokens a unit.
    public static let defaultBatchSize = 20

    public init(
        client: LLMClient, template: PromptTemplate, model: String? = nil, batchSize: Int = LLMClassifier.defaultBatchSize,
        structuredOutput: StructuredOutputLevel = .jsonObject, logprobs: LogprobSupport = LogprobSupport(fixed: 0)
    ) {
        self.client = client
        self.template = template
        self.model = model ?? client.config.model
        self.batchSize = max(1, batchSize)
        self.structuredOutput = structuredOutput
        self.logprobs = logprobs
    }

    /// The request for one batch (exposed for tests and token estimates).
    public func request(explanation: String, items: [ClassificationItem], topLogprobs: Int = 0) throws -> ChatCompletionRequest {
        let examples = items.enumerated().map { i, item in "Example \(i + 1): \(item.text)" }.joined(separator: "\n")
        let messages = try template.render(["explanation": explanation, "examples": examples, "count": String(items.count)])
        return ChatCompletionRequest(
            model: model, messages: messages, temperature: 0, maxTokens: ClassificationAnswer.maxTokens(count: items.count),
            logprobs: topLogprobs > 0 ? true : nil, topLogprobs: topLogprobs > 0 ? topLogprobs : nil,
            responseFormat: structuredOutput.responseFormat(name: "classification_answers", schema: ClassificationAnswer.schema(count: items.count)))
    }

    public func classify(explanation: String, items: [ClassificationItem]) async throws -> [StoredClassification.Outcome] {
        guard !items.isEmpty else { return [] }
        let top = await logprobs.topLogprobs()
        return try await BatchedCalls.map(items, size: batchSize) { batch in
            try await classifyBatch(explanation: explanation, items: batch, topLogprobs: top)
        }
    }

    /// One call (and at most one retry, showing the bad answer and the reason) for one batch.
    private func classifyBatch(explanation: String, items: [ClassificationItem], topLogprobs: Int) async throws -> [StoredClassification.Outcome] {
        let result = try await ListAnswerCall.ask(
            client, try request(explanation: explanation, items: items, topLogprobs: topLogprobs),
            instruction: "Answer with only {\"answers\": [...]}: exactly \(items.count) digits 0 or 1, one per example, in order."
        ) { ClassificationAnswer.parse($0, count: items.count) }
        switch result {
        case .success(let (answers, completion)):
            let probabilities = topLogprobs > 0 ? ClassificationAnswer.probabilities(completion.response.tokenLogprobs, count: items.count) : nil
            return answers.enumerated().map { i, answer in .answered(predicted: answer, probability: probabilities?[i]) }
        case .failure(let failure):
            return items.map { _ in .failed(reason: failure.reason) }
        }
    }
}
