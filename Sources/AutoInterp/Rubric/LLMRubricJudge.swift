import AutoInterpLLM
import Foundation

/// The judge that asks an LLM with the rubric template (``PromptSet/rubric``).
///
/// The judge sees the explanation and one excerpt, the most active token marked `[[like this]]`,
/// and answers a digit 0-3 and a short reason. An answer that does not start with a rating is
/// asked again once, then reported as `.failed`.
public struct LLMRubricJudge: RubricJudge {
    public let client: LLMClient
    public let template: PromptTemplate
    public let model: String
    /// `max_tokens` of a judge call.
    public static let maxTokens = 40

    public init(client: LLMClient, template: PromptTemplate, model: String? = nil) {
        self.client = client
        self.template = template
        self.model = model ?? client.config.model
    }

    /// The request for one example (exposed for tests and token estimates).
    public func request(explanation: String, example: RubricExample) throws -> ChatCompletionRequest {
        let excerpt = TokenText.join(example.tokens, marked: example.markedIndex)
        let messages = try template.render(["explanation": explanation, "excerpt": excerpt])
        return ChatCompletionRequest(model: model, messages: messages, temperature: 0, maxTokens: Self.maxTokens)
    }

    public func rate(explanation: String, example: RubricExample) async throws -> RubricVerdict {
        var request = try request(explanation: explanation, example: example)
        var reason = ""
        for attempt in 0..<2 {
            let answer = try await client.complete(request)
            switch RubricParser.parse(answer.content ?? "") {
            case .rated(let rating, let why): return .rated(rating, reason: why)
            case .failed(let why):
                reason = why
                if attempt == 0 {
                    request.messages += [
                        .assistant(answer.content ?? ""),
                        .user("That answer could not be used (\(why)). Reply with one line: a digit 0, 1, 2 or 3, then \" - \" and a short reason."),
                    ]
                }
            }
        }
        return .failed(reason: "\(reason) (after one retry)")
    }
}

/// Reads a judge's answer: a rating digit 0-3 first (after an optional `Rating:` label), then an optional reason.
public enum RubricParser {
    public static func parse(_ content: String) -> RubricVerdict {
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
