import Foundation
import Logging
import Synchronization

// MARK: - Completion

/// One answered chat-completions call.
public struct LLMCompletion: Sendable {
    public var response: ChatCompletionResponse
    /// The cache key of the request (see `LLMRequestHash`).
    public var requestHash: String
    /// True when the answer came from the response store.
    public var cached: Bool
    /// HTTP attempts made (0 when cached).
    public var attempts: Int
    /// Wall time of the whole call, retries and waits included.
    public var latencyMs: Double

    /// The text of the first choice.
    public var content: String? { response.content }
}

// MARK: - Client

/// The one way the harness talks to an LLM: an OpenAI-compatible chat-completions client that
/// keeps many requests in flight, retries transient failures, answers repeats from a store,
/// logs every call and keeps the bill.
///
/// All requests of all clients share one libcurl event loop. Safe to use from any task.
public final class LLMClient: Sendable {
    private typealias Waiter = CheckedContinuation<Result<ChatCompletionResponse, any Error>?, Never>

    private struct State {
        var usage = LLMUsage()
        var halted = false
        /// Requests on the network now, by hash, with the identical calls waiting for their answer.
        var pending: [String: [Waiter]] = [:]
    }

    /// The endpoint this client talks to.
    public let config: LLMEndpointConfig
    private let store: (any LLMResponseStore)?
    private let logger: Logger
    private let environment: @Sendable (String) -> String?
    private let limiter: InFlightLimiter
    private let requestBucket: TokenBucket?
    private let tokenBucket: TokenBucket?
    private let state = Mutex(State())
    private let endpoint: String

    /// Creates a client for one endpoint.
    ///
    /// - Parameters:
    ///   - config: The endpoint, model, key variable name, limits and retry policy.
    ///   - store: Response cache and call log; nil for neither.
    ///   - logger: Where retries, failures and (at debug level) each call are logged. Never given a key.
    ///   - environment: Looks up an environment variable; the default reads the process environment
    ///     at call time. Tests pass their own to avoid touching the process environment.
    /// - Throws: `LLMError` when the configuration is invalid.
    public init(
        config: LLMEndpointConfig, store: (any LLMResponseStore)? = nil,
        logger: Logger = Logger(label: "autointerp.llm"),
        environment: @escaping @Sendable (String) -> String? = LLMClient.processEnvironment
    ) throws {
        try config.validate()
        try HeaderValue.checkKey(environment(config.apiKeyEnv), keyEnv: config.apiKeyEnv, endpoint: config.endpointName)
        self.config = config
        self.store = store
        self.logger = logger
        self.environment = environment
        self.endpoint = config.endpointName
        self.limiter = InFlightLimiter(limit: config.maxInFlight)
        self.requestBucket = config.requestsPerMinute.map { TokenBucket(perMinute: $0) }
        self.tokenBucket = config.tokensPerMinute.map { TokenBucket(perMinute: $0) }
    }

    /// Reads a variable of the process environment.
    public static let processEnvironment: @Sendable (String) -> String? = { name in
        getenv(name).map { String(cString: $0) }
    }

    // MARK: - State

    /// The running totals so far.
    public var usage: LLMUsage { state.withLock { $0.usage } }

    /// True once the endpoint refused the key (401/403): every later call fails at once.
    public var isHalted: Bool { state.withLock { $0.halted } }

    /// The cache key `request` would have with this client's endpoint and model.
    public func requestHash(for request: ChatCompletionRequest) throws -> String {
        var request = request
        if request.model == nil { request.model = config.model }
        return LLMRequestHash.compute(endpoint: endpoint, model: request.model ?? config.model, canonicalBody: try request.canonicalBody())
    }

    // MARK: - Calling

    /// Sends one chat-completions request, or answers it from the store.
    ///
    /// - Parameters:
    ///   - request: The request; a nil `model` is filled from the configuration.
    ///   - useCache: Overrides `config.useCache` for this call (the answer is stored either way).
    /// - Returns: The decoded answer with its hash, cache flag, attempts and latency.
    /// - Throws: `LLMError` (check `isFatalForRun` to stop a run early), or `CancellationError`.
    public func complete(_ request: ChatCompletionRequest, useCache: Bool? = nil) async throws -> LLMCompletion {
        var request = request
        if request.model == nil { request.model = config.model }
        let model = request.model ?? config.model
        let body = try request.canonicalBody()
        let hash = LLMRequestHash.compute(endpoint: endpoint, model: model, canonicalBody: body)
        let started = ContinuousClock.now

        if state.withLock({ $0.halted }) {
            let error = LLMError.halted(endpoint: endpoint, keyEnv: config.apiKeyEnv)
            finishFailure(hash: hash, model: model, started: started, status: nil, attempts: 0, error: error)
            throw error
        }

        let readCache = useCache ?? config.useCache
        if readCache, let cached = cachedAnswer(hash: hash) {
            return answeredWithoutNetwork(cached, hash: hash, model: model, started: started, how: "from cache")
        }

        // An identical request already on the network answers this one too: never pay twice.
        while readCache {
            let shared: Result<ChatCompletionResponse, any Error>? = await withCheckedContinuation { (waiter: Waiter) in
                let joined = state.withLock { s -> Bool in
                    guard s.pending[hash] != nil else {
                        s.pending[hash] = []
                        return false
                    }
                    s.pending[hash]?.append(waiter)
                    return true
                }
                if !joined { waiter.resume(returning: nil) }
            }
            switch shared {
            case nil:
                break  // this call leads
            case .success(let response)?:
                return answeredWithoutNetwork(response, hash: hash, model: model, started: started, how: "by an identical call in flight")
            case .failure(let error)? where error is CancellationError:
                continue  // the leader was cancelled, not this call: try again
            case .failure(let error)?:
                finishFailure(hash: hash, model: model, started: started, status: (error as? LLMError)?.statusCode, attempts: 0, error: error)
                throw error
            }
            break
        }

        let key = environment(config.apiKeyEnv).flatMap { $0.isEmpty ? nil : $0 }
        var progress = Progress()
        do {
            let (response, raw) = try await send(request: request, body: body, key: key, progress: &progress, started: started)
            let latency = milliseconds(since: started)
            do {
                try store?.storeResponse(raw, forHash: hash)
            } catch {
                logger.warning("could not store LLM response", metadata: ["endpoint": "\(endpoint)", "error": "\(scrub("\(error)", key: key))"])
            }
            let prompt = response.usage?.promptTokens
            let completion = response.usage?.completionTokens
            state.withLock { s in
                s.usage.calls += 1
                s.usage.attempts += progress.attempts
                s.usage.promptTokens += prompt ?? 0
                s.usage.completionTokens += completion ?? 0
                if config.priceInputPerMillion != nil || config.priceOutputPerMillion != nil {
                    let money = Double(prompt ?? 0) * (config.priceInputPerMillion ?? 0) / 1e6
                        + Double(completion ?? 0) * (config.priceOutputPerMillion ?? 0) / 1e6
                    s.usage.cost = (s.usage.cost ?? 0) + money
                }
            }
            if let tokenBucket, let prompt, let completion {
                tokenBucket.adjust(by: progress.tokenEstimate - Double(prompt + completion))
            }
            record(LLMCallRecord(
                requestHash: hash, endpoint: endpoint, model: model, statusCode: progress.lastStatus, latencyMs: latency,
                promptTokens: prompt, completionTokens: completion, error: nil, cached: false, attempts: progress.attempts))
            logger.debug(
                "LLM call done",
                metadata: ["endpoint": "\(endpoint)", "hash": "\(hash.prefix(12))", "attempts": "\(progress.attempts)", "ms": "\(Int(latency))"])
            if readCache { resolveFollowers(hash: hash, with: .success(response)) }
            return LLMCompletion(response: response, requestHash: hash, cached: false, attempts: progress.attempts, latencyMs: latency)
        } catch {
            if readCache { resolveFollowers(hash: hash, with: .failure(error)) }
            finishFailure(hash: hash, model: model, started: started, status: progress.lastStatus, attempts: progress.attempts, error: error)
            throw error
        }
    }

    /// Counts, logs and returns an answer that needed no network request of this call.
    private func answeredWithoutNetwork(
        _ response: ChatCompletionResponse, hash: String, model: String, started: ContinuousClock.Instant, how: String
    ) -> LLMCompletion {
        let latency = milliseconds(since: started)
        state.withLock { s in
            s.usage.calls += 1
            s.usage.cachedCalls += 1
        }
        record(LLMCallRecord(
            requestHash: hash, endpoint: endpoint, model: model, statusCode: 200, latencyMs: latency,
            promptTokens: response.usage?.promptTokens, completionTokens: response.usage?.completionTokens,
            error: nil, cached: true, attempts: 0))
        logger.debug("LLM call answered \(how)", metadata: ["endpoint": "\(endpoint)", "hash": "\(hash.prefix(12))"])
        return LLMCompletion(response: response, requestHash: hash, cached: true, attempts: 0, latencyMs: latency)
    }

    /// Ends the wait of the identical calls that joined the leading call for `hash`.
    private func resolveFollowers(hash: String, with result: Result<ChatCompletionResponse, any Error>) {
        let followers = state.withLock { $0.pending.removeValue(forKey: hash) } ?? []
        for follower in followers { follower.resume(returning: result) }
    }

    // MARK: - Network with retries

    private struct Progress {
        var attempts = 0
        var lastStatus: Int?
        var tokenEstimate: Double = 0
    }

    /// What went wrong with one attempt, before it is known whether it will be retried.
    private enum AttemptFailure {
        case status(Int, detail: String, retryAfter: Double?)
        case timeout(String)
        case connection(String)
        case malformed(Int?, String)
        case fatal(LLMError)
    }

    private func send(
        request: ChatCompletionRequest, body: Data, key: String?, progress: inout Progress, started: ContinuousClock.Instant
    ) async throws -> (ChatCompletionResponse, Data) {
        // A key changed in the environment since start-up is checked again: it must not add headers.
        try HeaderValue.checkKey(key, keyEnv: config.apiKeyEnv, endpoint: endpoint)
        var headers = ["Content-Type: application/json", "Accept: application/json"]
        if let key { headers.append("Authorization: Bearer \(key)") }
        let http = HTTPRequest(
            url: config.chatCompletionsURL, headers: headers, body: body,
            connectTimeoutMs: Int((config.connectTimeout * 1000).rounded(.up)),
            totalTimeoutMs: Int((config.requestTimeout * 1000).rounded(.up)),
            lowSpeedTimeSeconds: config.lowSpeedTime.map { max(1, Int($0.rounded(.up))) })
        let estimate = Double(request.estimatedPromptTokens + (request.maxTokens ?? 256) * (request.n ?? 1))
        progress.tokenEstimate = estimate
        let retry = config.retry

        while true {
            try Task.checkCancellation()
            if let requestBucket {
                let wait = requestBucket.reserve(1)
                if wait > .zero { try await Task.sleep(for: wait) }
            }
            if let tokenBucket {
                let wait = tokenBucket.reserve(estimate)
                if wait > .zero { try await Task.sleep(for: wait) }
            }
            progress.attempts += 1
            await limiter.acquire()
            let outcome: Result<HTTPResponse, any Error>
            do {
                outcome = .success(try await CurlLoop.shared.perform(http))
            } catch {
                outcome = .failure(error)
            }
            limiter.release()

            let failure: AttemptFailure
            switch outcome {
            case .failure(let error as TransportFailure):
                progress.lastStatus = nil
                switch error.kind {
                case .timeout: failure = .timeout(error.message)
                case .connect, .dropped, .other: failure = .connection(error.message)
                }
            case .failure(let error):
                throw error
            case .success(let response):
                progress.lastStatus = response.status
                switch response.status {
                case 200..<300:
                    do {
                        return (try ChatCompletionResponse.decode(response.body), response.body)
                    } catch {
                        failure = .malformed(response.status, "body of \(response.body.count) bytes does not decode")
                    }
                case 401, 403:
                    state.withLock { $0.halted = true }
                    failure = .fatal(.unauthorized(
                        endpoint: endpoint, status: response.status, keyEnv: config.apiKeyEnv, keySet: key != nil,
                        attempts: progress.attempts))
                case 300..<400:
                    failure = .fatal(.redirected(
                        endpoint: endpoint, status: response.status, location: response.header("location").map { scrub($0, key: key) },
                        attempts: progress.attempts))
                case 404:
                    failure = .fatal(.notFound(
                        endpoint: endpoint, model: config.model, detail: serverDetail(response.body, key: key),
                        attempts: progress.attempts))
                case 408, 409, 425, 429, 500...599:
                    failure = .status(
                        response.status, detail: serverDetail(response.body, key: key),
                        retryAfter: response.header("retry-after").flatMap(Self.parseRetryAfter))
                default:
                    failure = .fatal(.badRequest(
                        endpoint: endpoint, status: response.status, detail: serverDetail(response.body, key: key),
                        attempts: progress.attempts))
                }
            }

            let elapsed = seconds(since: started)
            if case .fatal(let error) = failure {
                logger.error("LLM call failed", metadata: ["endpoint": "\(endpoint)", "error": "\(error.message)"])
                throw error
            }

            var delay = min(retry.maxBackoff, retry.baseBackoff * pow(2, Double(progress.attempts - 1)))
            if retry.jitter > 0 {
                delay *= Double.random(in: max(0, 1 - retry.jitter)...(1 + retry.jitter))
            }
            if case .status(_, _, let retryAfter?) = failure { delay = max(delay, retryAfter) }
            if progress.attempts >= retry.maxAttempts || elapsed + delay > retry.maxTotalTime {
                let error = finalError(failure, attempts: progress.attempts, elapsed: elapsed, key: key)
                logger.warning("LLM call gave up", metadata: ["endpoint": "\(endpoint)", "error": "\(error.message)"])
                throw error
            }
            logger.notice(
                "retrying LLM call",
                metadata: [
                    "endpoint": "\(endpoint)", "attempt": "\(progress.attempts)", "reason": "\(describe(failure, key: key))",
                    "delay_ms": "\(Int(delay * 1000))",
                ])
            state.withLock { $0.usage.retries += 1 }
            try await Task.sleep(for: .seconds(delay))
        }
    }

    private func finalError(_ failure: AttemptFailure, attempts: Int, elapsed: Double, key: String?) -> LLMError {
        switch failure {
        case .status(let status, let detail, _):
            return .transientStatus(endpoint: endpoint, status: status, detail: detail, attempts: attempts, elapsed: elapsed)
        case .timeout(let text):
            return .timeout(endpoint: endpoint, detail: scrub(text, key: key), attempts: attempts, elapsed: elapsed, timeout: config.requestTimeout)
        case .connection(let text):
            return .connection(endpoint: endpoint, detail: scrub(text, key: key), attempts: attempts, elapsed: elapsed)
        case .malformed(let status, let text):
            return .malformedResponse(endpoint: endpoint, status: status, detail: text, attempts: attempts)
        case .fatal(let error):
            return error
        }
    }

    private func describe(_ failure: AttemptFailure, key: String?) -> String {
        switch failure {
        case .status(let status, _, let retryAfter): "HTTP \(status)" + (retryAfter.map { " (Retry-After \($0) s)" } ?? "")
        case .timeout(let text), .connection(let text): scrub(text, key: key)
        case .malformed(_, let text): text
        case .fatal(let error): error.message
        }
    }

    // MARK: - Helpers

    private func cachedAnswer(hash: String) -> ChatCompletionResponse? {
        guard let store else { return nil }
        do {
            guard let body = try store.cachedResponse(forHash: hash) else { return nil }
            return try ChatCompletionResponse.decode(body)
        } catch {
            logger.warning("ignoring unreadable cached LLM response", metadata: ["hash": "\(hash.prefix(12))", "error": "\(error)"])
            return nil
        }
    }

    private func finishFailure(hash: String, model: String, started: ContinuousClock.Instant, status: Int?, attempts: Int, error: any Error) {
        let key = environment(config.apiKeyEnv)
        let text = error is CancellationError ? "cancelled" : scrub(String(describing: error), key: key)
        state.withLock { s in
            s.usage.calls += 1
            s.usage.failedCalls += 1
            s.usage.attempts += attempts
        }
        record(LLMCallRecord(
            requestHash: hash, endpoint: endpoint, model: model, statusCode: status, latencyMs: milliseconds(since: started),
            promptTokens: nil, completionTokens: nil, error: text, cached: false, attempts: attempts))
    }

    private func record(_ call: LLMCallRecord) {
        guard let store else { return }
        do {
            try store.record(call)
        } catch {
            logger.warning("could not record LLM call", metadata: ["endpoint": "\(endpoint)", "error": "\(error)"])
        }
    }

    /// ` (server: <message>)` from an error body, key removed, at most 200 characters; empty when none.
    private func serverDetail(_ body: Data, key: String?) -> String {
        var text: String?
        if let object = try? JSONSerialization.jsonObject(with: body) as? [String: Any] {
            if let error = object["error"] as? [String: Any], let message = error["message"] as? String {
                text = message
            } else if let message = object["error"] as? String {
                text = message
            } else if let message = object["message"] as? String {
                text = message
            }
        }
        if text == nil, !body.isEmpty { text = String(decoding: body.prefix(200), as: UTF8.self) }
        guard var text, !text.isEmpty else { return "" }
        text = scrub(text, key: key).replacingOccurrences(of: "\n", with: " ")
        if text.count > 200 { text = String(text.prefix(200)) + "…" }
        return " (server: \(text))"
    }

    private func scrub(_ text: String, key: String?) -> String {
        guard let key, !key.isEmpty else { return text }
        return text.replacingOccurrences(of: key, with: "[redacted]")
    }

    /// Seconds from a `Retry-After` value: delta-seconds or an HTTP date.
    static func parseRetryAfter(_ value: String) -> Double? {
        let trimmed = value.trimmingCharacters(in: .whitespaces)
        if let seconds = Double(trimmed) { return max(0, seconds) }
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "GMT")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss zzz"
        guard let date = formatter.date(from: trimmed) else { return nil }
        return max(0, date.timeIntervalSinceNow)
    }

    private func seconds(since start: ContinuousClock.Instant) -> Double {
        let d = ContinuousClock.now - start
        return Double(d.components.seconds) + Double(d.components.attoseconds) * 1e-18
    }

    private func milliseconds(since start: ContinuousClock.Instant) -> Double { seconds(since: start) * 1000 }
}

