public import Foundation

/// Anthropic Message Batches (native format): requests inline in the create call, results as
/// JSONL at `results_url` once the batch has `ended`. The Messages API has no logprobs and no
/// `response_format`: a batch run on it pins neither (``AnthropicLines``).
public struct AnthropicBatchAPI: Sendable {
    public let config: LLMEndpointConfig
    private let environment: @Sendable (String) -> String?

    public init(config: LLMEndpointConfig, environment: @escaping @Sendable (String) -> String? = LLMClient.processEnvironment) {
        self.config = config
        self.environment = environment
    }

    /// `POST /messages/batches` with the lines of the JSONL file at `url` as `requests`, streamed
    /// from disk (a batch of up to 256 MB is never held in memory). Every line of the file must be
    /// non-empty and end in a newline (as the batch writer leaves it).
    public func create(requestsFileAt url: URL) async throws -> ProviderBatch {
        let step = "create the message batch"
        let upload: HTTPUpload
        do {
            upload = try HTTPUpload(
                prefix: Data("{\"requests\":[".utf8), path: url.path, suffix: Data("]}".utf8), joinLinesWithCommas: true)
        } catch let error as TransportFailure {
            throw LLMError.invalidConfiguration(endpoint: config.endpointName, "\(step): \(error.message)")
        }
        let response = try await OpenAIBatchAPI.send(
            config: config, environment: environment, step: step, path: "/messages/batches", body: nil, contentType: "application/json",
            headers: headers, upload: upload)
        return Self.batch(try object(step, response))
    }

    /// The results JSONL of an ended batch written to `url` (via a temporary file, renamed when
    /// complete); false when they are gone (404).
    public func results(_ id: String, to url: URL) async throws -> Bool {
        try await OpenAIBatchAPI.download(
            config: config, environment: environment, step: "download the results of \(id)", path: "/messages/batches/\(id)/results",
            to: url, headers: headers)
    }

    /// `GET /messages/batches/{id}`.
    public func batch(_ id: String) async throws -> ProviderBatch {
        Self.batch(try await call("read message batch \(id)", path: "/messages/batches/\(id)"))
    }

    /// `GET /messages/batches` (newest first), one page.
    public func list(limit: Int = 100) async throws -> [ProviderBatch] {
        let object = try await call("list message batches", path: "/messages/batches?limit=\(limit)")
        return (object["data"] as? [[String: Any]] ?? []).map(Self.batch)
    }

    /// `POST /messages/batches/{id}/cancel`.
    public func cancel(_ id: String) async throws -> ProviderBatch {
        Self.batch(try await call("cancel message batch \(id)", path: "/messages/batches/\(id)/cancel", body: Data()))
    }

    private var headers: [String] {
        var headers = ["anthropic-version: 2023-06-01"]
        if let key = environment(config.apiKeyEnv), !key.isEmpty { headers.append("x-api-key: \(key)") }
        return headers
    }

    private func call(_ step: String, path: String, body: Data? = nil) async throws -> [String: Any] {
        let response = try await OpenAIBatchAPI.send(
            config: config, environment: environment, step: step, path: path, body: body, contentType: body == nil ? nil : "application/json",
            headers: headers)
        return try object(step, response)
    }

    private func object(_ step: String, _ response: HTTPResponse) throws -> [String: Any] {
        guard (200..<300).contains(response.status) else { throw OpenAIBatchAPI.failure(config: config, environment: environment, step, response) }
        guard let object = (try? JSONSerialization.jsonObject(with: response.body)) as? [String: Any] else {
            throw LLMError.malformedResponse(endpoint: config.endpointName, status: 200, detail: "\(step): not a JSON object", attempts: 1)
        }
        return object
    }

    /// The batch as the transport reads it: `processing_status` mapped to OpenAI's words
    /// (`in_progress`, `cancelling`, `ended` → `completed`).
    private static func batch(_ object: [String: Any]) -> ProviderBatch {
        let status: String
        switch object["processing_status"] as? String {
        case "ended"?: status = "completed"
        case "canceling"?: status = "cancelling"
        default: status = "in_progress"
        }
        let counts = (try? JSONSerialization.data(withJSONObject: object["request_counts"] ?? [:], options: [.sortedKeys]))
            .map { String(decoding: $0, as: UTF8.self) }
        let created = (object["created_at"] as? String).flatMap { ISO8601DateFormatter().date(from: $0) }.map { Int($0.timeIntervalSince1970) }
        return ProviderBatch(
            id: object["id"] as? String ?? "", status: status, inputFileID: nil, outputFileID: object["results_url"] as? String,
            errorFileID: nil, createdAt: created, metadata: [:], requestCountsJSON: counts, usageJSON: nil, errorsJSON: nil, errorLines: [])
    }
}

/// The Anthropic line formats: an OpenAI chat-completions body as Message Batches `params`, and
/// a result line as the chat completion the stages read.
public enum AnthropicLines {
    /// `{"custom_id", "params"}`: system messages joined into `system`, `max_tokens` kept (1024
    /// without one), `temperature` kept; `logprobs`, `response_format` and `seed` have no
    /// counterpart and are dropped (the run pins neither logprobs nor structured outputs).
    public static func requestLine(customID: String, body: Data) throws -> Data {
        let request = try JSONDecoder().decode(ChatCompletionRequest.self, from: body)
        let system = request.messages.filter { $0.role == "system" }.map(\.content).joined(separator: "\n\n")
        var params: [String: Any] = [
            "model": request.model ?? "", "max_tokens": request.maxTokens ?? 1024,
            "messages": request.messages.filter { $0.role != "system" }.map { ["role": $0.role, "content": $0.content] },
        ]
        if !system.isEmpty { params["system"] = system }
        if let temperature = request.temperature { params["temperature"] = temperature }
        var line = try JSONSerialization.data(withJSONObject: ["custom_id": customID, "params": params], options: [.sortedKeys])
        line.append(0x0A)
        return line
    }

    /// One result line: `succeeded` as a chat-completion body (`max_tokens` → `length`), the
    /// other kinds as failures (`errored` with its message, `canceled`, `expired`).
    public static func result(_ object: [String: Any]) -> (customID: String, body: Data?, error: String?) {
        let customID = object["custom_id"] as? String ?? ""
        let result = object["result"] as? [String: Any] ?? [:]
        switch result["type"] as? String {
        case "succeeded"?:
            let message = result["message"] as? [String: Any] ?? [:]
            let text = (message["content"] as? [[String: Any]] ?? []).compactMap { $0["type"] as? String == "text" ? $0["text"] as? String : nil }
                .joined()
            let usage = message["usage"] as? [String: Any] ?? [:]
            let completion: [String: Any] = [
                "id": message["id"] as? String ?? "msg", "model": message["model"] as? String ?? "",
                "choices": [[
                    "index": 0, "message": ["role": "assistant", "content": text],
                    "finish_reason": message["stop_reason"] as? String == "max_tokens" ? "length" : "stop",
                ]],
                "usage": [
                    "prompt_tokens": usage["input_tokens"] as? Int ?? 0, "completion_tokens": usage["output_tokens"] as? Int ?? 0,
                    "total_tokens": (usage["input_tokens"] as? Int ?? 0) + (usage["output_tokens"] as? Int ?? 0),
                ],
            ]
            return (customID, try? JSONSerialization.data(withJSONObject: completion, options: [.sortedKeys]), nil)
        case "errored"?:
            let error = ((result["error"] as? [String: Any])?["error"] as? [String: Any]) ?? [:]
            return (customID, nil, "\(error["type"] as? String ?? "errored"): \(error["message"] as? String ?? "")")
        case let kind?:
            return (customID, nil, kind)  // canceled, expired
        default:
            return (customID, nil, "the result line has no type")
        }
    }
}
