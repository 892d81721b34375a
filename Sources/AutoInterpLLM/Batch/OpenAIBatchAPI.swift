public import Foundation

/// A provider's batch object (OpenAI `Batch`), the fields the batch transport reads.
public struct ProviderBatch: Sendable, Equatable {
    public var id: String
    public var status: String
    public var inputFileID: String?
    public var outputFileID: String?
    public var errorFileID: String?
    public var createdAt: Int?
    public var metadata: [String: String]
    /// `request_counts`, `usage` and `errors` as compact JSON text (stored as they came).
    public var requestCountsJSON: String?
    public var usageJSON: String?
    public var errorsJSON: String?
    /// `errors.data` as `line N: code: message` texts (validation failures).
    public var errorLines: [String]
}

/// The OpenAI files + batches API (OpenAI, Azure, Groq, LiteLLM) over the client's libcurl loop:
/// upload a JSONL file, create, read, list and cancel batches, download result files.
///
/// Every failure is an `LLMError` naming the endpoint and the step; the key never appears in it.
public struct OpenAIBatchAPI: Sendable {
    public let config: LLMEndpointConfig
    private let environment: @Sendable (String) -> String?

    public init(config: LLMEndpointConfig, environment: @escaping @Sendable (String) -> String? = LLMClient.processEnvironment) {
        self.config = config
        self.environment = environment
    }

    /// `POST /files` (multipart, `purpose=batch`) of `data` held in memory (small files, tests): the new file's id.
    public func upload(_ data: Data, filename: String) async throws -> String {
        let (prefix, suffix, type) = Self.multipart(filename: filename)
        let object = try await call("upload the batch file", path: "/files", body: prefix + data + suffix, contentType: type)
        guard let id = object["id"] as? String else { throw malformed("upload the batch file", "no file id") }
        return id
    }

    /// `POST /files` (multipart, `purpose=batch`) with the JSONL file at `url` streamed from disk
    /// (a batch input of up to the provider's 200 MB is never held in memory): the new file's id.
    public func upload(fileAt url: URL) async throws -> String {
        let step = "upload the batch file"
        let (prefix, suffix, type) = Self.multipart(filename: url.lastPathComponent)
        let upload: HTTPUpload
        do {
            upload = try HTTPUpload(prefix: prefix, path: url.path, suffix: suffix)
        } catch let error as TransportFailure {
            throw LLMError.invalidConfiguration(endpoint: config.endpointName, "\(step): \(error.message)")
        }
        let key = environment(config.apiKeyEnv).flatMap { $0.isEmpty ? nil : $0 }
        let response = try await Self.send(
            config: config, environment: environment, step: step, path: "/files", body: nil, contentType: type,
            headers: key.map { ["Authorization: Bearer \($0)"] } ?? [], upload: upload)
        guard (200..<300).contains(response.status) else { throw failure(step, response) }
        guard let object = (try? JSONSerialization.jsonObject(with: response.body)) as? [String: Any], let id = object["id"] as? String else {
            throw malformed(step, "no file id")
        }
        return id
    }

    /// The head and tail of a one-file multipart body (`purpose=batch`, then the file) and its content type.
    static func multipart(filename: String) -> (prefix: Data, suffix: Data, contentType: String) {
        let boundary = "autointerp-\(UUID().uuidString)"
        var prefix = Data("--\(boundary)\r\nContent-Disposition: form-data; name=\"purpose\"\r\n\r\nbatch\r\n".utf8)
        prefix.append(Data("--\(boundary)\r\nContent-Disposition: form-data; name=\"file\"; filename=\"\(filename)\"\r\n".utf8))
        prefix.append(Data("Content-Type: application/jsonl\r\n\r\n".utf8))
        return (prefix, Data("\r\n--\(boundary)--\r\n".utf8), "multipart/form-data; boundary=\(boundary)")
    }

    /// Whether the file `id` is still there (`GET /files/{id}`).
    public func fileExists(_ id: String) async throws -> Bool {
        do {
            _ = try await call("read file \(id)", path: "/files/\(id)")
            return true
        } catch let error as LLMError where error.isNotFound {
            return false
        }
    }

    /// `POST /batches` for chat completions with a 24 h window and `metadata`.
    public func create(inputFileID: String, metadata: [String: String]) async throws -> ProviderBatch {
        let body = try JSONSerialization.data(
            withJSONObject: [
                "input_file_id": inputFileID, "endpoint": "/v1/chat/completions", "completion_window": "24h", "metadata": metadata,
            ],
            options: [.sortedKeys])
        return try Self.batch(try await call("create the batch", path: "/batches", body: body, contentType: "application/json"))
    }

    /// `GET /batches/{id}`.
    public func batch(_ id: String) async throws -> ProviderBatch {
        try Self.batch(try await call("read batch \(id)", path: "/batches/\(id)"))
    }

    /// `GET /batches` (newest first), one page of at most `limit` after `after`.
    public func list(after: String? = nil, limit: Int = 100) async throws -> (batches: [ProviderBatch], hasMore: Bool) {
        let query = "?limit=\(limit)" + (after.map { "&after=\($0)" } ?? "")
        let object = try await call("list batches", path: "/batches\(query)")
        let data = object["data"] as? [[String: Any]] ?? []
        return (try data.map(Self.batch), object["has_more"] as? Bool ?? false)
    }

    /// `POST /batches/{id}/cancel`.
    public func cancel(_ id: String) async throws -> ProviderBatch {
        try Self.batch(
            try await call("cancel batch \(id)", path: "/batches/\(id)/cancel", body: Data("{}".utf8), contentType: "application/json"))
    }

    /// `GET /files/{id}/content`: the file's bytes, or nil when it is gone (404).
    public func content(of id: String) async throws -> Data? {
        let response = try await send("download file \(id)", path: "/files/\(id)/content", body: nil, contentType: nil)
        if response.status == 404 { return nil }
        guard response.status == 200 else { throw failure("download file \(id)", response) }
        return response.body
    }

    /// `GET /files/{id}/content` written to `url` (through a temporary file beside it, renamed
    /// when complete: a crash mid-download leaves no partial result file); false when the file
    /// is gone (404). A result file is never held in memory.
    public func download(_ id: String, to url: URL) async throws -> Bool {
        let key = environment(config.apiKeyEnv).flatMap { $0.isEmpty ? nil : $0 }
        return try await Self.download(
            config: config, environment: environment, step: "download file \(id)", path: "/files/\(id)/content", to: url,
            headers: key.map { ["Authorization: Bearer \($0)"] } ?? [])
    }

    /// One GET whose body goes to `url` via `<url>.download`; false on a 404.
    static func download(
        config: LLMEndpointConfig, environment: @Sendable (String) -> String?, step: String, path: String, to url: URL, headers: [String]
    ) async throws -> Bool {
        let partial = url.path + ".download"
        let response = try await send(
            config: config, environment: environment, step: step, path: path, body: nil, contentType: nil, headers: headers,
            responseFile: partial)
        if response.status == 404 { return false }
        guard response.status == 200 else { throw failure(config: config, environment: environment, step, response) }
        guard rename(partial, url.path) == 0 else {
            unlink(partial)
            throw LLMError.invalidConfiguration(endpoint: config.endpointName, "\(step): cannot move the download into place at \(url.path)")
        }
        return true
    }

    // MARK: - Plumbing

    private func call(_ step: String, path: String, body: Data? = nil, contentType: String? = nil) async throws -> [String: Any] {
        let response = try await send(step, path: path, body: body, contentType: contentType)
        guard (200..<300).contains(response.status) else { throw failure(step, response) }
        guard let object = (try? JSONSerialization.jsonObject(with: response.body)) as? [String: Any] else {
            throw malformed(step, "the answer is not a JSON object")
        }
        return object
    }

    private func send(_ step: String, path: String, body: Data?, contentType: String?) async throws -> HTTPResponse {
        let key = environment(config.apiKeyEnv).flatMap { $0.isEmpty ? nil : $0 }
        return try await Self.send(
            config: config, environment: environment, step: step, path: path, body: body, contentType: contentType,
            headers: key.map { ["Authorization: Bearer \($0)"] } ?? [])
    }

    /// One request to `config`'s base URL plus `path` (GET without a body); `headers` carry the key.
    static func send(
        config: LLMEndpointConfig, environment: @Sendable (String) -> String?, step: String, path: String, body: Data?,
        contentType: String?, headers extra: [String], upload: HTTPUpload? = nil, responseFile: String? = nil
    ) async throws -> HTTPResponse {
        var base = config.baseURL
        while base.hasSuffix("/") { base.removeLast() }
        var headers = ["Accept: application/json"] + extra
        if let contentType { headers.append("Content-Type: \(contentType)") }
        let key = environment(config.apiKeyEnv).flatMap { $0.isEmpty ? nil : $0 }
        var request = HTTPRequest(
            url: base + path, isGet: body == nil && upload == nil, headers: headers, body: body ?? Data(),
            connectTimeoutMs: Int((config.connectTimeout * 1000).rounded(.up)),
            totalTimeoutMs: Int((max(config.requestTimeout, upload != nil || responseFile != nil ? 3600 : 600) * 1000).rounded(.up)),
            // A result file goes to disk (any size a provider sends); an answer held in memory is capped.
            lowSpeedTimeSeconds: nil, maxResponseBytes: responseFile == nil ? 512 << 20 : Int.max)
        request.upload = upload
        request.responseFile = responseFile
        do {
            return try await CurlLoop.shared.perform(request)
        } catch let error as TransportFailure {
            let text = key.map { error.message.replacingOccurrences(of: $0, with: "[redacted]") } ?? error.message
            throw LLMError.connection(endpoint: config.endpointName, detail: "\(step): \(text)", attempts: 1, elapsed: 0)
        }
    }

    private func failure(_ step: String, _ response: HTTPResponse) -> LLMError {
        Self.failure(config: config, environment: environment, step, response)
    }

    static func failure(
        config: LLMEndpointConfig, environment: @Sendable (String) -> String?, _ step: String, _ response: HTTPResponse
    ) -> LLMError {
        var detail = ""
        if let object = (try? JSONSerialization.jsonObject(with: response.body)) as? [String: Any],
            let error = object["error"] as? [String: Any], let message = error["message"] as? String {
            // A server may echo the request's key: it never reaches an error line.
            let key = environment(config.apiKeyEnv).flatMap { $0.isEmpty ? nil : $0 }
            let shown = key.map { message.replacingOccurrences(of: $0, with: "[redacted]") } ?? message
            detail = " (server: \(shown.prefix(200)))"
        }
        let name = config.endpointName
        switch response.status {
        case 401, 403:
            return .unauthorized(
                endpoint: name, status: response.status, keyEnv: config.apiKeyEnv, keySet: environment(config.apiKeyEnv) != nil, attempts: 1)
        case 404:
            return .notFound(endpoint: name, model: config.model, detail: " while trying to \(step)\(detail)", attempts: 1)
        case 429, 500...599:
            return .transientStatus(
                endpoint: name, status: response.status, detail: " while trying to \(step)\(detail)", attempts: 1, elapsed: 0)
        default:
            return .badRequest(endpoint: name, status: response.status, detail: " while trying to \(step)\(detail)", attempts: 1)
        }
    }

    private func malformed(_ step: String, _ detail: String) -> LLMError {
        .malformedResponse(endpoint: config.endpointName, status: 200, detail: "\(step): \(detail)", attempts: 1)
    }

    private static func batch(_ object: [String: Any]) throws -> ProviderBatch {
        func text(_ value: Any?) -> String? {
            guard let value, !(value is NSNull),
                let data = try? JSONSerialization.data(withJSONObject: value, options: [.sortedKeys])
            else { return nil }
            return String(decoding: data, as: UTF8.self)
        }
        let errors = ((object["errors"] as? [String: Any])?["data"] as? [[String: Any]]) ?? []
        return ProviderBatch(
            id: object["id"] as? String ?? "", status: object["status"] as? String ?? "", inputFileID: object["input_file_id"] as? String,
            outputFileID: object["output_file_id"] as? String, errorFileID: object["error_file_id"] as? String,
            createdAt: object["created_at"] as? Int, metadata: object["metadata"] as? [String: String] ?? [:],
            requestCountsJSON: text(object["request_counts"]), usageJSON: text(object["usage"]), errorsJSON: text(object["errors"]),
            errorLines: errors.map { e in
                "line \(e["line"] as? Int ?? 0): \(e["code"] as? String ?? "error"): \(e["message"] as? String ?? "")"
            })
    }
}
