import Foundation

// MARK: - Errors

/// Why an LLM call failed, in one line that names the endpoint and says what to check.
///
/// Never contains an API key: messages name the environment variable, not its value.
public struct LLMError: Error, CustomStringConvertible, Sendable, Equatable {
    private enum Code: String, Sendable, Equatable {
        case unauthorized
        case forbidden
        case badRequest
        case notFound
        case clientError
        case rateLimited
        case serverError
        case timeout
        case connection
        case malformedResponse
        case responseTooLarge
        case halted
        case invalidConfiguration
        case redirected
        case unusableAnswers
        case deferred
        case batchLineFailed
    }

    private let code: Code
    /// The endpoint (base URL) involved.
    public let endpoint: String
    /// HTTP status of the final attempt, when a response arrived.
    public let statusCode: Int?
    /// Attempts made before giving up (0 when none was made).
    public let attempts: Int
    /// The one-line message, with the settings it names marked as ``Setting`` mentions
    /// (`description` shows them as `` `name` ``; the CLI renders its flags).
    public let message: String

    private init(_ code: Code, endpoint: String, statusCode: Int? = nil, attempts: Int = 1, _ message: String) {
        self.code = code
        self.endpoint = endpoint
        self.statusCode = statusCode
        self.attempts = attempts
        // One line, and no control character (a server's error body may carry terminal escapes).
        var line = String.UnicodeScalarView()
        for scalar in message.unicodeScalars {
            if scalar == "\r" || scalar == "\n" || scalar == "\t" {
                line.append(" ")
            } else if scalar.value >= 0x20, !(0x7F...0x9F).contains(scalar.value) {
                line.append(scalar)
            }
        }
        self.message = String(line)
    }

    public var description: String { Setting.plain(message) }

    // MARK: - Classification

    /// True when every later call to this endpoint would fail the same way (bad key, wrong URL
    /// or model): a run should stop instead of failing unit after unit.
    public var isFatalForRun: Bool {
        switch code {
        case .unauthorized, .forbidden, .notFound, .halted, .invalidConfiguration, .redirected, .unusableAnswers: true
        default: false
        }
    }

    /// True for failures that a retry may cure (rate limit, 5xx, timeout, dropped connection, bad body).
    public var isTransient: Bool {
        switch code {
        case .rateLimited, .serverError, .timeout, .connection, .malformedResponse: true
        default: false
        }
    }

    /// The endpoint rejected the key (401 or 403), or the client refused to call after one.
    public var isAuthenticationFailure: Bool { code == .unauthorized || code == .forbidden || code == .halted }
    public var isTimeout: Bool { code == .timeout }
    /// True for a call refused because an earlier call was (the key was rejected): not the cause itself.
    public var isHalted: Bool { code == .halted }
    public var isRateLimited: Bool { code == .rateLimited }
    public var isNotFound: Bool { code == .notFound }
    /// The answer was longer than `LLMEndpointConfig.maxResponseBytes` (not retried, not cached).
    public var isResponseTooLarge: Bool { code == .responseTooLarge }
    /// Collect mode (a batch wave): the request was recorded for a batch and has no answer yet.
    /// Not a failure: the stage stores nothing and runs again once the batch is ingested.
    public var isDeferred: Bool { code == .deferred }
    /// A batch line failed on every attempt the batch transport allows (an ordinary call failure).
    public var isBatchLineFailure: Bool { code == .batchLineFailed }

    // MARK: - Constructors

    static func unauthorized(endpoint: String, status: Int, keyEnv: String, keySet: Bool, attempts: Int) -> Self {
        let state = keySet ? "" : " (it is not set)"
        return .init(
            status == 403 ? .forbidden : .unauthorized, endpoint: endpoint, statusCode: status, attempts: attempts,
            "LLM endpoint \(endpoint) refused the request with HTTP \(status): check the API key in environment variable \(keyEnv)\(state)"
        )
    }

    static func notFound(endpoint: String, model: String, detail: String, attempts: Int) -> Self {
        .init(
            .notFound, endpoint: endpoint, statusCode: 404, attempts: attempts,
            "LLM endpoint \(endpoint) answered HTTP 404: check the base URL (requests go to <base>/chat/completions) and the model name \"\(model)\"\(detail)"
        )
    }

    static func redirected(endpoint: String, status: Int, location: String?, attempts: Int) -> Self {
        let target = location.map { " to \($0.count > 200 ? String($0.prefix(200)) + "…" : $0)" } ?? ""
        return .init(
            .redirected, endpoint: endpoint, statusCode: status, attempts: attempts,
            "LLM endpoint \(endpoint) answered HTTP \(status), a redirect\(target): pass the final URL as \(Setting.endpoint) (redirects are not followed, so the API key never goes to another host)"
        )
    }

    static func badRequest(endpoint: String, status: Int, detail: String, attempts: Int) -> Self {
        .init(
            status == 400 ? .badRequest : .clientError, endpoint: endpoint, statusCode: status, attempts: attempts,
            "LLM endpoint \(endpoint) rejected the request with HTTP \(status): check the model and request options (max tokens, logprobs, JSON mode) the server supports\(detail)"
        )
    }

    static func transientStatus(endpoint: String, status: Int, detail: String, attempts: Int, elapsed: Double) -> Self {
        .init(
            status == 429 ? .rateLimited : .serverError, endpoint: endpoint, statusCode: status, attempts: attempts,
            "LLM endpoint \(endpoint) answered HTTP \(status) on each of \(attempts) attempt(s) over \(format(elapsed)) s: \(status == 429 ? "lower --max-in-flight, --rpm or --tpm" : "the server is failing; check its logs or retry later")\(detail)"
        )
    }

    static func timeout(endpoint: String, detail: String, attempts: Int, elapsed: Double, timeout: Double) -> Self {
        .init(
            .timeout, endpoint: endpoint, attempts: attempts,
            "LLM endpoint \(endpoint) timed out after \(attempts) attempt(s) over \(format(elapsed)) s (\(detail)): check the server is up, or raise \(Setting.timeout) (now \(format(timeout)) s)"
        )
    }

    static func connection(endpoint: String, detail: String, attempts: Int, elapsed: Double) -> Self {
        .init(
            .connection, endpoint: endpoint, attempts: attempts,
            "LLM endpoint \(endpoint) could not be reached after \(attempts) attempt(s) over \(format(elapsed)) s (\(detail)): check the URL and that the server is running"
        )
    }

    static func malformedResponse(endpoint: String, status: Int?, detail: String, attempts: Int) -> Self {
        .init(
            .malformedResponse, endpoint: endpoint, statusCode: status, attempts: attempts,
            "LLM endpoint \(endpoint) sent a response that is not a chat completion after \(attempts) attempt(s) (\(detail)): check the base URL points at an OpenAI-compatible API"
        )
    }

    static func responseTooLarge(endpoint: String, limit: Int, attempts: Int) -> Self {
        .init(
            .responseTooLarge, endpoint: endpoint, attempts: attempts,
            "LLM endpoint \(endpoint): the answer exceeded \(formatBytes(limit)) (\(Setting.maxResponseBytes) \(limit)) and was dropped, nothing cached: lower the request's max tokens or raise \(Setting.maxResponseBytes)"
        )
    }

    static func halted(endpoint: String, keyEnv: String) -> Self {
        .init(
            .halted, endpoint: endpoint, attempts: 0,
            "LLM endpoint \(endpoint) already refused the API key in this run; not calling again: check the API key in environment variable \(keyEnv)"
        )
    }

    /// The endpoint answers, but with nothing a run can use (e.g. every unit explained alike): the run stops.
    package static func unusableAnswers(endpoint: String, _ problem: String) -> Self {
        .init(.unusableAnswers, endpoint: endpoint, attempts: 0, "LLM endpoint \(endpoint): \(problem)")
    }

    /// The request `hash` waits for a batch (collect mode): not a failure, see ``isDeferred``.
    public static func deferred(endpoint: String, hash: String) -> Self {
        .init(.deferred, endpoint: endpoint, attempts: 0, "LLM endpoint \(endpoint): request \(hash.prefix(12)) waits for a batch")
    }

    /// A batch line that failed on each of `attempts` batch attempts (`detail`: the last line's error).
    public static func batchLineFailed(endpoint: String, attempts: Int, detail: String) -> Self {
        .init(
            .batchLineFailed, endpoint: endpoint, attempts: attempts,
            "LLM endpoint \(endpoint): the batch line failed on each of \(attempts) attempt(s) (last: \(detail)); rerun to ask again, or pass \(Setting.batchRetry) realtime to send the last attempt in real time"
        )
    }

    static func invalidConfiguration(endpoint: String, _ problem: String) -> Self {
        .init(.invalidConfiguration, endpoint: endpoint, attempts: 0, "LLM endpoint configuration: \(problem)")
    }

    /// The replicas of pool `group` serve different capabilities (`detail` names them and the fix).
    public static func mixedPool(group: String, _ detail: String) -> Self {
        .init(.invalidConfiguration, endpoint: group, attempts: 0, "LLM endpoint configuration: endpoint pool \"\(group)\" is mixed: \(detail)")
    }

    private static func format(_ seconds: Double) -> String { String(format: "%.1f", seconds) }

    /// `1 MiB`, `512 KiB` or `1000 bytes`.
    private static func formatBytes(_ bytes: Int) -> String {
        if bytes >= 1 << 20, bytes % (1 << 20) == 0 { return "\(bytes >> 20) MiB" }
        if bytes >= 1 << 10, bytes % (1 << 10) == 0 { return "\(bytes >> 10) KiB" }
        return "\(bytes) bytes"
    }
}
