import Foundation
import Synchronization

// MARK: - Structured output level

/// How far an endpoint constrains answers to JSON, best first.
public enum StructuredOutputLevel: String, Sendable, Codable, Equatable, CaseIterable, CustomStringConvertible {
    /// `response_format: {"type": "json_schema", …}` is honoured: answers match the schema.
    case jsonSchema = "json_schema"
    /// Only `{"type": "json_object"}` works: answers are JSON objects of no fixed shape.
    case jsonObject = "json_object"
    /// Neither: answers are plain text to be parsed.
    case none

    public var description: String { rawValue }

    /// 0 for the best level (`json_schema`), higher for weaker ones.
    var rank: Int { Self.allCases.firstIndex(of: self) ?? 0 }

    /// The `response_format` to send for an answer of `schema` at this level (nil at `.none`).
    public func responseFormat(name: String, schema: JSONSchemaValue) -> ChatCompletionRequest.ResponseFormat? {
        switch self {
        case .jsonSchema: .jsonSchema(name: name, schema: schema, strict: true)
        case .jsonObject: .jsonObject
        case .none: nil
        }
    }
}

/// What `StructuredOutputProbe.probe` found: the level and why.
public struct StructuredOutputSupport: Sendable, Equatable, CustomStringConvertible {
    public var level: StructuredOutputLevel
    /// One line: what was asked and what came back.
    public var reason: String
    /// False when an attempt failed for a reason that may pass (timeout, dropped connection, 5xx,
    /// 429): the level is a guess for now, not a finding to pin.
    public var certain: Bool = true

    public init(level: StructuredOutputLevel, reason: String, certain: Bool = true) {
        self.level = level
        self.reason = reason
        self.certain = certain
    }

    public var description: String { "\(level) (\(reason))" }
}

// MARK: - Probe

/// Finds out whether an endpoint honours `json_schema`, else `json_object`, with one small
/// request each (cacheable: a rerun asks nothing; an answer that fails the check is not kept).
public enum StructuredOutputProbe {
    /// The tiny schema the probe asks for.
    public static let schema: JSONSchemaValue = .object(properties: [
        "color": .string(enum: ["red", "green", "blue"]),
        "count": .integer(minimum: 1, maximum: 9),
    ])

    private static let system = "You answer with a single JSON object and nothing else."
    private static let ask = #"Return the JSON object {"color": "green", "count": 3}."#

    /// Probes the endpoint of `client` (calls are logged with stage `check` unless a context is set).
    ///
    /// - Returns: `.jsonSchema` when a schema-constrained answer conforms to the schema, else
    ///   `.jsonObject` when a JSON-mode answer is a JSON object, else `.none`; with the reason.
    /// - Throws: `LLMError` only when the endpoint is unusable (`isFatalForRun`: bad key, URL or model).
    ///   With a pool of endpoints, each replica is probed on its own (uncached); replicas that
    ///   disagree refuse the run with one line naming them, since one replica without json_schema
    ///   would poison every answer it serves.
    public static func probe(_ client: LLMClient) async throws -> StructuredOutputSupport {
        let replicas = try client.replicaClients()
        guard replicas.count > 1 else { return try await probeOne(client) }
        var found: [(name: String, url: String, support: StructuredOutputSupport)] = []
        for replica in replicas {
            found.append((replica.name, replica.client.config.endpointName, try await probeOne(replica.client)))
        }
        let certain = found.filter(\.support.certain)
        if let first = certain.first, let odd = certain.first(where: { $0.support.level != first.support.level }) {
            let (better, worse) = odd.support.level.rank < first.support.level.rank ? (odd, first) : (first, odd)
            throw LLMError.mixedPool(
                group: client.config.endpointName,
                "\"\(better.name)\" (\(better.url)) serves \(better.support.level) answers but \"\(worse.name)\" (\(worse.url)) only \(worse.support.level) (\(worse.support.reason)); give every replica the same server and model, or remove \"\(worse.name)\" from the endpoints file")
        }
        var result = certain.first?.support ?? found[0].support
        result.certain = certain.count == found.count
        result.reason = "every replica of \(found.count): " + result.reason
        return result
    }

    private static func probeOne(_ client: LLMClient) async throws -> StructuredOutputSupport {
        let context = LLMCallContext.current ?? LLMCallContext(stage: "check")
        let uncertain = Mutex(false)
        return try await LLMCallContext.$current.withValue(context) {
            let schemaProblem: String
            switch try await attempt(client, format: .jsonSchema(name: "probe", schema: schema, strict: true), uncertain: uncertain, check: { text in
                schema.violation(in: text).map { "the json_schema answer does not conform: \($0)" }
            }) {
            case nil:
                return StructuredOutputSupport(level: .jsonSchema, reason: "a json_schema answer came back matching the schema")
            case let problem?:
                schemaProblem = problem
            }

            switch try await attempt(client, format: .jsonObject, uncertain: uncertain, check: { text in
                let object = (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String: Any]
                return object == nil ? "the json_object answer is not a JSON object: \(text.prefix(60))" : nil
            }) {
            case nil:
                return StructuredOutputSupport(
                    level: .jsonObject, reason: "\(schemaProblem); json_object answers are JSON objects", certain: !uncertain.withLock { $0 })
            case let problem?:
                return StructuredOutputSupport(level: .none, reason: "\(schemaProblem); \(problem)", certain: !uncertain.withLock { $0 })
            }
        }
    }

    /// Sends the probe question with `format`; nil when `check` accepts the answer, else why not.
    private static func attempt(
        _ client: LLMClient, format: ChatCompletionRequest.ResponseFormat, uncertain: borrowing Mutex<Bool>, check: (String) -> String?
    ) async throws -> String? {
        let request = ChatCompletionRequest(
            messages: [.system(system), .user(ask)], temperature: 0, maxTokens: 40, responseFormat: format)
        let answer: LLMCompletion
        do {
            answer = try await client.complete(request)
        } catch let error as LLMError where !error.isFatalForRun {
            if error.isTransient { uncertain.withLock { $0 = true } }
            return "\(format.type) refused: \(error.description)"
        }
        let text = (answer.content ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
        var problem = check(text)
        if problem == nil, answer.isCutOff { problem = "the \(format.type) answer was cut off at the token limit" }
        if problem != nil { client.discard(answer) }
        return problem
    }
}
