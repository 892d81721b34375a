package import AutoInterpLLM
import Foundation

/// The judge that asks an LLM with the rubric template (``PromptSet/rubric``), several examples a call.
///
/// The judge sees the explanation once and up to ``batchSize`` numbered excerpts, each with its
/// most active token marked `[[like this]]`, and answers `{"ratings": [...]}` with one digit 0-3
/// per excerpt. An answer that cannot be read is asked again once with the reason shown; examples
/// still without a rating are `.failed` with the reason (never a guessed rating).
package struct LLMRubricJudge: RubricJudge {
    package let client: LLMClient
    package let template: PromptTemplate
    package let model: String
    /// Examples rated per call.
    package let batchSize: Int
    /// How answers are constrained (a JSON schema where honoured, else JSON mode, else text).
    package let structuredOutput: StructuredOutputLevel
    /// The default examples per call.
    package static let defaultBatchSize = 10

    package init(
        client: LLMClient, template: PromptTemplate, model: String? = nil, batchSize: Int = LLMRubricJudge.defaultBatchSize,
        structuredOutput: StructuredOutputLevel = .jsonObject
    ) {
        self.client = client
        self.template = template
        self.model = model ?? client.config.model
        self.batchSize = max(1, batchSize)
        self.structuredOutput = structuredOutput
    }

    /// The answer's schema for `count` excerpts: `{"ratings": [0-3, …]}` with exactly `count` items.
    package static func schema(count: Int) -> JSONSchemaValue {
        .object(properties: ["ratings": .array(items: .integer(minimum: 0, maximum: 3), minItems: count, maxItems: count)])
    }

    /// `max_tokens` of a call rating `count` examples: the JSON frame and about 2 tokens a
    /// rating, with room for the white space a grammar allows between them.
    package static func maxTokens(count: Int) -> Int { 24 + 5 * count }

    /// The request for one batch (exposed for tests and token estimates).
    package func request(explanation: String, examples: [RubricExample]) throws -> ChatCompletionRequest {
        let excerpts = examples.enumerated().map { i, example in
            "Excerpt \(i + 1): " + TokenText.join(example.tokens, marked: example.markedIndex).replacingOccurrences(of: "\n", with: " ")
        }.joined(separator: "\n")
        let messages = try template.render(["explanation": explanation, "excerpts": excerpts, "count": String(examples.count)])
        return ChatCompletionRequest(
            model: model, messages: messages, temperature: 0, maxTokens: Self.maxTokens(count: examples.count),
            responseFormat: structuredOutput.responseFormat(name: "rubric_ratings", schema: Self.schema(count: examples.count)))
    }

    package func rate(explanation: String, example: RubricExample) async throws -> RubricVerdict {
        try await rate(explanation: explanation, examples: [example]).first ?? .failed(reason: "the judge returned nothing")
    }

    package func rate(explanation: String, examples: [RubricExample]) async throws -> [RubricVerdict] {
        try await BatchedCalls.map(examples, size: batchSize) { batch in try await rateBatch(explanation: explanation, examples: batch) }
    }

    /// One call (and at most one retry) for one batch.
    private func rateBatch(explanation: String, examples: [RubricExample]) async throws -> [RubricVerdict] {
        let result = try await ListAnswerCall.ask(
            client, try request(explanation: explanation, examples: examples),
            instruction: "Answer with only {\"ratings\": [...]}: exactly \(examples.count) digits 0-3, one per excerpt, in order."
        ) { RubricParser.parseBatch($0, count: examples.count) }
        switch result {
        case .success(let (ratings, _)): return ratings.map { .rated($0, reason: nil) }
        case .failure(let failure): return examples.map { _ in .failed(reason: failure.reason) }
        }
    }
}

/// Reads a judge's answers: a batch `{"ratings": [...]}`, or one line with a rating digit 0-3 first
/// (after an optional `Rating:` label) and an optional reason.
package enum RubricParser {
    /// The ratings of a batch answer for `count` excerpts, or why it cannot be read.
    package static func parseBatch(_ content: String, count: Int) -> Result<[Int], StageFailure> {
        ListAnswer.parse(content, key: "ratings", count: count, words: .init(speaker: "judge", items: "ratings", questions: "excerpts")) {
            position, item in
            var number: Double?
            switch item {
            case .number(let x): number = x
            case .string(let text): number = Double(text.trimmingCharacters(in: .whitespaces))
            default: break
            }
            guard let x = number, x == x.rounded(), (0...3).contains(x) else {
                return .failure(StageFailure("rating \(position) of the judge's answer is not a digit 0-3"))
            }
            return .success(Int(x))
        }
    }

    package static func parse(_ content: String) -> RubricVerdict {
        var text = content.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !text.isEmpty else { return .failed(reason: "the judge answered with empty text") }
        if text.lowercased().hasPrefix("rating") {
            text = String(text.dropFirst("rating".count)).trimmingCharacters(in: .whitespaces)
            if text.hasPrefix(":") { text = String(text.dropFirst()).trimmingCharacters(in: .whitespaces) }
        }
        text = text.trimmingCharacters(in: CharacterSet(charactersIn: "*\"' "))
        guard let first = text.first, let rating = first.wholeNumberValue, first.isASCII, (0...3).contains(rating) else {
            return .failed(reason: "the judge's answer does not start with a rating 0-3: \(SimulationParser.preview(content))")
        }
        let rest = text.dropFirst()
        if let next = rest.first, next.isNumber || next == "." && rest.dropFirst().first?.isNumber == true {
            return .failed(reason: "the judge's rating is not a single digit 0-3: \(SimulationParser.preview(content))")
        }
        let reason = rest.trimmingCharacters(in: CharacterSet(charactersIn: " -–—:/*\n\t"))
            .split(separator: "\n").first.map(String.init)
        return .rated(rating, reason: reason?.isEmpty == false ? String(reason!.prefix(200)) : nil)
    }
}
