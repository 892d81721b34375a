import Foundation

// MARK: - Capabilities

/// What an endpoint can do, found by asking it: logprobs (and how many alternatives), JSON mode, latency.
///
/// The simulator uses logprobs when they come back and falls back to parsed JSON answers when
/// they do not; `autointerp llm check` prints this.
public struct LLMCapabilities: Sendable, CustomStringConvertible {
    public var endpoint: String
    public var model: String
    /// Wall time of a minimal request, milliseconds.
    public var latencyMs: Double
    /// Whether per-token logprobs came back when asked for.
    public var logprobs: Bool
    /// The most `top_logprobs` alternatives returned for one token (0 when none).
    public var topLogprobs: Int
    /// Why logprobs are unavailable, when they are.
    public var logprobsProblem: String?
    /// Whether a JSON-mode request came back as a parseable JSON object.
    public var jsonMode: Bool
    /// Why JSON mode is unusable, when it is.
    public var jsonModeProblem: String?

    public var description: String {
        var lines = ["endpoint      \(endpoint)", "model         \(model)", String(format: "latency       %.0f ms", latencyMs)]
        lines.append("logprobs      " + (logprobs ? "yes, up to \(topLogprobs) top_logprobs per token" : "no (\(logprobsProblem ?? "none returned"))"))
        lines.append("JSON mode     " + (jsonMode ? "yes" : "no (\(jsonModeProblem ?? "answer did not parse"))"))
        lines.append("simulation    " + (logprobs && topLogprobs >= 5 ? "expected value over digit logprobs" : "parsed JSON answers"))
        return lines.joined(separator: "\n")
    }

    /// Probes the endpoint of `client` with three small uncached requests.
    ///
    /// - Throws: `LLMError` when even a plain request fails (unreachable endpoint, bad key, wrong model).
    public static func probe(_ client: LLMClient) async throws -> LLMCapabilities {
        let plain = try await client.complete(
            ChatCompletionRequest(messages: [.user(LogprobProbe.question)], temperature: 0, maxTokens: 5), useCache: false)

        var result = LLMCapabilities(
            endpoint: client.config.endpointName, model: client.config.model, latencyMs: plain.latencyMs,
            logprobs: false, topLogprobs: 0, logprobsProblem: nil, jsonMode: false, jsonModeProblem: nil)

        // Logprobs: ask for the OpenAI maximum, fall back to 5 when the server refuses that many.
        switch try await LogprobProbe(maxTokens: 5, useCache: false).run(client) {
        case .answered(_, let tokens, let mostAlternatives) where tokens > 0:
            result.logprobs = true
            result.topLogprobs = mostAlternatives
        case .answered:
            result.logprobsProblem = "the answer had no choices[0].logprobs.content"
        case .refused(let problem):
            result.logprobsProblem = problem
        }

        do {
            let answer = try await client.complete(
                ChatCompletionRequest(
                    messages: [
                        .system("You answer with a single JSON object and nothing else."),
                        .user(#"Return the JSON object {"answer": 7}."#),
                    ],
                    temperature: 0, maxTokens: 20, responseFormat: .jsonObject),
                useCache: false)
            let text = (answer.content ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
            if (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String: Any] != nil {
                result.jsonMode = true
            } else {
                result.jsonModeProblem = "the answer was not a JSON object: \(text.prefix(60))"
            }
        } catch let error as LLMError where !error.isFatalForRun {
            result.jsonModeProblem = error.description
        }
        return result
    }
}
