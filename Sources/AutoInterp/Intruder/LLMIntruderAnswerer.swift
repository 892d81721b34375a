public import AutoInterpLLM
import Foundation

/// The intruder scorer that asks an LLM, one prompt per call (the prompts of a unit concurrently).
///
/// The model sees five numbered contexts and answers `{"intruder": N}` (a JSON schema with N in
/// 1...5 where the endpoint honours one, else the object asked for in words). An unusable answer
/// (not JSON, no single number, out of range, cut off) is asked again once with the reason shown;
/// still unusable, the prompt is a failure with the reason, never a wrong answer. Unusable answers
/// are dropped from the response cache, so the next run asks again.
public struct LLMIntruderAnswerer: IntruderAnswerer {
    public let client: LLMClient
    public let template: PromptTemplate
    public let model: String
    public let structuredOutput: StructuredOutputLevel

    public init(client: LLMClient, template: PromptTemplate, model: String? = nil, structuredOutput: StructuredOutputLevel = .jsonObject) {
        self.client = client
        self.template = template
        self.model = model ?? client.config.model
        self.structuredOutput = structuredOutput
    }

    /// The request for one prompt (exposed for tests and token estimates).
    public func request(_ prompt: IntruderPrompt) throws -> ChatCompletionRequest {
        let count = prompt.contexts.count
        let examples = (1...max(1, count)).map { "Example \($0): \(prompt.text($0))" }.joined(separator: "\n")
        let messages = try template.render(["examples": examples, "count": String(count)])
        return ChatCompletionRequest(
            model: model, messages: messages, temperature: 0, maxTokens: IntruderAnswer.maxTokens,
            responseFormat: structuredOutput.responseFormat(name: "intruder_answer", schema: IntruderAnswer.schema(count: count)))
    }

    public func answer(_ prompts: [IntruderPrompt], for work: UnitWork) async throws -> [IntruderOutcome] {
        try await BatchedCalls.map(prompts, size: 1) { batch in
            try await batch.asyncMap { prompt in
                let count = prompt.contexts.count
                let result = try await ListAnswerCall.ask(
                    client, try request(prompt), instruction: "Answer with only {\"intruder\": N}, N the number (1 to \(count)) of the intruder."
                ) { IntruderAnswer.parse($0, count: count) }
                switch result {
                case .success(let (position, _)): return .answered(position)
                case .failure(let failure): return .failed(reason: failure.reason)
                }
            }
        }
    }
}

extension Array where Element: Sendable {
    /// `transform` of each element in order, one after another.
    fileprivate func asyncMap<T>(_ transform: (Element) async throws -> T) async throws -> [T] {
        var result: [T] = []
        for element in self { result.append(try await transform(element)) }
        return result
    }
}

/// Reads an intruder answer: `{"intruder": N}` (N a number or a numeric string), or, without a
/// JSON object, a text naming exactly one number; N must be one of the `count` positions.
public enum IntruderAnswer {
    /// The answer's JSON schema for `count` contexts.
    public static func schema(count: Int) -> JSONSchemaValue {
        .object(properties: ["intruder": .integer(minimum: 1, maximum: max(1, count))], required: ["intruder"])
    }

    /// `max_tokens`: the JSON frame and one number, with room for white space.
    public static let maxTokens = 32

    /// The position named by `content`, or why it cannot be read.
    public static func parse(_ content: String, count: Int) -> Result<Int, StageFailure> {
        let text = content.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !text.isEmpty else { return .failure(StageFailure("the answer is empty")) }
        func checked(_ n: Int) -> Result<Int, StageFailure> {
            (1...max(1, count)).contains(n)
                ? .success(n) : .failure(StageFailure("the intruder named, \(n), is not one of the examples 1 to \(count)"))
        }
        if let open = text.firstIndex(of: "{"), let close = text.lastIndex(of: "}"), open < close {
            let json = String(text[open...close])
            guard case .object(let object)? = try? JSONDecoder().decode(JSONValue.self, from: Data(json.utf8)) else {
                return .failure(StageFailure("the answer is not a JSON object: \(SimulationParser.preview(text))"))
            }
            guard let value = object["intruder"] else {
                return .failure(StageFailure("the answer has no \"intruder\" key: \(SimulationParser.preview(text))"))
            }
            if let n = value.integer { return checked(n) }
            if case .string(let string) = value, let n = Int(string.trimmingCharacters(in: .whitespaces)) { return checked(n) }
            return .failure(StageFailure("the \"intruder\" of the answer is \(value.typeName), not a whole number: \(SimulationParser.preview(text))"))
        }
        // No JSON object: the text must name exactly one number.
        let numbers = Set(text.split { !$0.isASCII || !$0.isNumber }.compactMap { Int($0.prefix(6)) })
        guard numbers.count == 1, let n = numbers.first else {
            let what = numbers.isEmpty ? "names no number" : "names several numbers"
            return .failure(StageFailure("the answer \(what): \(SimulationParser.preview(text))"))
        }
        return checked(n)
    }
}
