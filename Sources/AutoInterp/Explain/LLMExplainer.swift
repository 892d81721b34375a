package import AutoInterpLLM
import Foundation
package import Logging
import Synchronization

/// The explainer that asks an LLM, with the explainer template (``PromptSet/explainer``).
///
/// Sample 0 is asked at temperature 0; further samples at temperature 1 with the sample number as
/// seed, so each sample is a distinct, cacheable request. An answer with no usable explanation
/// (empty, cut off, a copy of the prompt or of the worked example: ``ExplanationCheck``) is asked
/// again once at a higher temperature with the bad answer shown back, then reported as an
/// ``ExplanationFailure``.
///
/// Best-of-K (``explainSamples(unit:examples:count:)``) asks for the K samples in one call with
/// `n` (every sample at temperature 1, seeded by its first sample): each choice is checked like a
/// single answer, and an unusable one is that sample's failure (not asked again: the call is
/// cached whole, so a resumed run asks nothing it answered). An endpoint that gives fewer choices
/// than asked, or refuses `n` with HTTP 400 (llama.cpp's server allows at most its slot count),
/// lowers ``choiceLimit`` for the rest of the run, and the missing samples are asked in calls
/// of that many choices, or one call each as without `n`.
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

    /// How many choices one call gives (`n`), as learnt during the run; shared by every unit.
    package let choiceLimit: ChoiceLimit
    /// Where a lowered ``choiceLimit`` is told.
    package let logger: Logger

    /// - Parameters:
    ///   - model: the model asked; nil uses the client's.
    ///   - choiceLimit: what is known of the endpoint's `n` (a new one: nothing yet; `ChoiceLimit(1)`: no `n`).
    package init(
        client: LLMClient, template: PromptTemplate, model: String? = nil, structuredOutput: StructuredOutputLevel = .none,
        choiceLimit: ChoiceLimit = ChoiceLimit(), logger: Logger = Logger(label: "autointerp.explain")
    ) {
        self.logger = logger
        self.client = client
        self.template = template
        self.model = model ?? client.config.model
        self.structuredOutput = structuredOutput
        self.choiceLimit = choiceLimit
    }

    /// The request for a unit's examples (exposed for tests and token estimates).
    package func request(examples: [ExampleRecord], sample: Int) throws -> ChatCompletionRequest {
        let messages = try template.render(ExplainerPrompt.values(for: examples))
        return ChatCompletionRequest(
            model: model, messages: messages, temperature: sample == 0 ? 0 : 1, maxTokens: Self.maxTokens,
            seed: sample == 0 ? nil : sample,
            responseFormat: structuredOutput == .jsonSchema ? .jsonSchema(name: "explanation", schema: Self.schema, strict: true) : nil)
    }

    /// The request for `samples` in one call: `n` choices at temperature 1, seeded by the first sample.
    package func request(examples: [ExampleRecord], samples: Range<Int>) throws -> ChatCompletionRequest {
        var request = try request(examples: examples, sample: max(1, samples.lowerBound))
        request.temperature = 1
        request.seed = samples.lowerBound
        request.n = samples.count
        return request
    }

    /// The explanation inside a `{"explanation": "…"}` answer, else the answer as it is.
    static func answerText(_ content: String) -> String {
        let text = SimulationParser.stripFence(content)
        guard text.hasPrefix("{"), let object = (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String: Any],
            let explanation = object["explanation"] as? String
        else { return content }
        return explanation
    }

    package func explainSamples(
        unit: UnitRef, examples: [ExampleRecord], count: Int
    ) async throws -> [Result<ExplanationResult, ExplanationFailure>] {
        guard !examples.isEmpty else { throw ExplanationFailure("\(unit) has no explanation examples") }
        var outcomes: [Result<ExplanationResult, ExplanationFailure>] = []
        while outcomes.count < count {
            let first = outcomes.count
            let asked = min(count - first, choiceLimit.current ?? count)
            guard asked > 1 else { break }
            let request = try request(examples: examples, samples: first..<first + asked)
            let answer: LLMCompletion
            do {
                answer = try await client.complete(request)
            } catch let error as LLMError {
                guard let allowed = Self.choicesAllowed(refusal: error) else { throw error }
                choiceLimit.lower(to: min(allowed, asked - 1))
                logger.notice(
                    "the endpoint refused n; asking fewer choices per call",
                    metadata: ["endpoint": "\(error.endpoint)", "asked": "\(asked)", "allowed": "\(choiceLimit.current ?? 1)"])
                continue
            }
            let prompt = request.messages.filter { $0.role != "assistant" }.map(\.content)
            let choices = answer.response.choices.prefix(asked)
            if choices.count < asked {
                choiceLimit.lower(to: max(1, choices.count))
                logger.notice(
                    "the endpoint gave fewer choices than n asked; asking the rest separately",
                    metadata: ["endpoint": "\(client.config.endpointName)", "asked": "\(asked)", "got": "\(choices.count)"])
            }
            outcomes += choices.map {
                check($0.message?.content ?? "", cutOff: $0.finishReason == "length", prompt: prompt, hash: answer.requestHash)
            }
            if choices.isEmpty { break }
        }
        return outcomes + (try await explainEach(unit: unit, examples: examples, samples: outcomes.count..<count))
    }

    /// How many choices an endpoint allows when `error` is its refusal of `n` (HTTP 400 naming the
    /// field: llama.cpp's `Field 'n': Value must be between 1 <= value <= 2`, OpenAI's
    /// `Invalid 'n': … <= 128`): the bound it names, else 1. Nil for any other error.
    static func choicesAllowed(refusal error: LLMError) -> Int? {
        guard error.statusCode == 400 else { return nil }
        let text = error.message
        let namesN = ["'n'", "\"n\"", "`n`"].contains { text.contains($0) }
        guard namesN || text.range(of: #"\bn (must|should)\b"#, options: .regularExpression) != nil else { return nil }
        guard let bound = text.range(of: #"(<=|at most|maximum( value)? (of|is)?)\s*[0-9]+"#, options: .regularExpression) else { return 1 }
        return Int(text[bound].filter(\.isNumber)).map { max(1, $0) } ?? 1
    }

    /// One answer's explanation, or why it cannot be used.
    private func check(_ raw: String, cutOff: Bool, prompt: [String], hash: String) -> Result<ExplanationResult, ExplanationFailure> {
        let content = Self.answerText(raw)
        if cutOff {
            return .failure(ExplanationFailure(
                "the answer was cut off at max_tokens (\(Self.maxTokens)): \(SimulationParser.preview(content))", answer: content))
        }
        let text = ExplanationCleaner.clean(content)
        let examples = FewShotText.explanations(in: template.fewShot?.text ?? "")
        if let problem = ExplanationCheck.problem(text: text, raw: content, prompt: prompt, examples: examples) {
            return .failure(ExplanationFailure(problem, answer: content))
        }
        guard let text else { return .failure(ExplanationFailure("no explanation in the answer", answer: content)) }
        return .success(ExplanationResult(text: text, promptFile: template.file, promptHash: template.sha256, requestHash: hash))
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
            switch check(answer.content ?? "", cutOff: answer.isCutOff, prompt: prompt, hash: answer.requestHash) {
            case .success(let result): return result
            case .failure(let failure): reason = failure.reason
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

/// How many choices one call of an endpoint gives (`n`): unknown until a call says, then only
/// ever lowered (a server that gave fewer choices than asked, or refused `n`). Shared by the
/// units of a run; `onLower` keeps what was learnt (the run state), so a resumed run does not ask again.
package final class ChoiceLimit: Sendable {
    private let limit: Mutex<Int?>
    private let onLower: @Sendable (Int) -> Void

    /// - Parameter known: the limit already known (1: the endpoint has no `n`), nil for none.
    package init(_ known: Int? = nil, onLower: @escaping @Sendable (Int) -> Void = { _ in }) {
        limit = Mutex(known.map { max(1, $0) })
        self.onLower = onLower
    }

    /// The most choices one call gives, nil while unknown.
    package var current: Int? { limit.withLock { $0 } }

    /// Lowers the limit to `choices` (at least 1) unless it is lower already.
    package func lower(to choices: Int) {
        let lowered = limit.withLock { limit -> Int? in
            let value = max(1, choices)
            guard limit.map({ value < $0 }) ?? true else { return nil }
            limit = value
            return value
        }
        if let lowered { onLower(lowered) }
    }
}
