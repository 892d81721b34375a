import Foundation
public import Logging
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
    /// The request's own time in milliseconds: its attempts and the backoff between them, without
    /// the time spent queued for the in-flight limit and the rate budgets.
    public var latencyMs: Double
    /// Milliseconds queued for the in-flight limit and the rate budgets (or for an identical call in flight).
    public var queueMs: Double = 0

    /// The text of the first choice.
    public var content: String? { response.content }

    /// The `finish_reason` of the first choice, when the server sent one.
    public var finishReason: String? { response.finishReason }

    /// True when the answer was cut off at the token limit (`finish_reason` `length`): the
    /// completion is returned all the same, the caller decides; it is never cached.
    public var isCutOff: Bool { finishReason == "length" }

    /// Prompt tokens the server served from its prefix cache, when it said.
    public var cachedPromptTokens: Int? { response.cachedPromptTokens }
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
        /// The replica whose key was refused, and its key variable (what the halted error names).
        var haltedBy: (name: String, keyEnv: String)?
        /// Requests on the network now, by hash, with the identical calls waiting for their answer.
        var pending: [String: [Waiter]] = [:]
        /// Called after every finished call.
        var observers: [@Sendable (LLMUsage) -> Void] = []
        /// Collect mode: where requests without a cached answer are recorded for a batch.
        var collector: (any LLMBatchCollector)?
    }

    /// The endpoint this client talks to.
    public let config: LLMEndpointConfig
    private let store: (any LLMResponseStore)?
    private let logger: Logger
    private let environment: @Sendable (String) -> String?
    /// The servers calls go to: one, or the replicas of `config.pool`.
    private let replicas: [Replica]
    private let dispatcher: EndpointDispatcher
    private let state = Mutex(State())
    /// The name the request hash holds: the base URL, or the pool's group name.
    private let endpoint: String

    /// One server: its configuration (URL, key variable, cap) and its rate budgets.
    private struct Replica: Sendable {
        var name: String
        var config: LLMEndpointConfig
        var requestBucket: TokenBucket?
        var tokenBucket: TokenBucket?
        /// Asks `/props` for the cap (llama.cpp's `total_slots`) before the first call.
        var probesSlots: Bool
    }

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
        logger: Logger? = nil,
        environment: @escaping @Sendable (String) -> String? = LLMClient.processEnvironment
    ) throws {
        try config.validate()
        try config.checkAPIKey(environment: environment)
        self.config = config
        self.store = store
        self.logger = logger ?? .silent
        self.environment = environment
        self.endpoint = config.endpointName
        if let pool = config.pool {
            replicas = zip(pool.endpoints, pool.memberConfigs(base: config)).map { member, memberConfig in
                Replica(
                    name: memberConfig.endpointName, config: memberConfig,
                    requestBucket: memberConfig.requestsPerMinute.map { TokenBucket(perMinute: $0) },
                    tokenBucket: memberConfig.tokensPerMinute.map { TokenBucket(perMinute: $0) }, probesSlots: member.maxInFlight == nil)
            }
            dispatcher = EndpointDispatcher(
                capacities: replicas.map { $0.probesSlots ? 0 : $0.config.maxInFlight }, weights: pool.endpoints.map { $0.weight ?? 1 },
                breaker: pool.breaker)
            for (index, replica) in replicas.enumerated() where replica.probesSlots {
                let dispatcher = dispatcher
                let logger = self.logger
                Task { await Self.resolveSlots(of: replica, index: index, dispatcher: dispatcher, logger: logger) }
            }
        } else {
            replicas = [Replica(
                name: endpoint, config: config, requestBucket: config.requestsPerMinute.map { TokenBucket(perMinute: $0) },
                tokenBucket: config.tokensPerMinute.map { TokenBucket(perMinute: $0) }, probesSlots: false)]
            dispatcher = EndpointDispatcher(capacities: [config.maxInFlight], weights: [1], breaker: nil)
        }
    }

    /// Sets a replica's cap from llama.cpp's `GET /props` `total_slots`, else its configured cap.
    private static func resolveSlots(of replica: Replica, index: Int, dispatcher: EndpointDispatcher, logger: Logger) async {
        var base = replica.config.baseURL
        while base.hasSuffix("/") { base.removeLast() }
        if base.hasSuffix("/v1") { base.removeLast(3) }
        let request = HTTPRequest(
            url: base + "/props", isGet: true, headers: ["Accept: application/json"], body: Data(),
            connectTimeoutMs: Int((min(replica.config.connectTimeout, 5) * 1000).rounded(.up)), totalTimeoutMs: 5000,
            lowSpeedTimeSeconds: nil, maxResponseBytes: 1 << 20)
        var slots: Int?
        if let response = try? await CurlLoop.shared.perform(request), response.status == 200,
            let object = (try? JSONSerialization.jsonObject(with: response.body)) as? [String: Any],
            let total = object["total_slots"] as? Int, (1...LLMEndpointConfig.largestInFlight).contains(total) {
            slots = total
        }
        logger.info(
            "endpoint slots", metadata: [
                "endpoint": "\(replica.name)", "max_in_flight": "\(slots ?? replica.config.maxInFlight)",
                "from": "\(slots == nil ? "configuration (no /props total_slots)" : "/props total_slots")",
            ])
        dispatcher.setCapacity(slots ?? replica.config.maxInFlight, of: index)
    }

    /// One client per replica of the pool, with no response store, named as in the endpoints
    /// file: for probing each replica on its own. Empty for a single endpoint.
    public func replicaClients() throws -> [(name: String, client: LLMClient)] {
        guard let pool = config.pool else { return [] }
        return try zip(pool.endpoints, replicas).map { member, replica in
            (member.name, try LLMClient(config: replica.config, store: nil, logger: logger, environment: environment))
        }
    }

    /// Slots handed to each replica so far, in the order of the endpoints file (one entry without a pool).
    public var requestsPerReplica: [Int] { dispatcher.slotsTaken }

    /// Reads a variable of the process environment.
    public static let processEnvironment: @Sendable (String) -> String? = { name in
        getenv(name).map { String(cString: $0) }
    }

    // MARK: - State

    /// The running totals so far.
    public var usage: LLMUsage { state.withLock { $0.usage } }

    /// True once the endpoint refused the key (401/403): every later call fails at once.
    public var isHalted: Bool { state.withLock { $0.halted } }

    /// Calls `handler` after every finished call (answered, cached or failed) with the running
    /// totals, so a progress display can advance per call. Handlers run on the calling task; keep them short.
    public func onCallFinished(_ handler: @escaping @Sendable (LLMUsage) -> Void) {
        state.withLock { $0.observers.append(handler) }
    }

    /// Forgets the stored answer of `completion`, so the next identical call asks the endpoint
    /// again: for an answer that could not be parsed or used. Store failures are logged, not thrown.
    public func discard(_ completion: LLMCompletion) {
        guard let store else { return }
        do {
            try store.removeResponse(forHash: completion.requestHash)
            logger.debug("discarded cached LLM response", metadata: ["endpoint": "\(endpoint)", "hash": "\(completion.requestHash.prefix(12))"])
        } catch {
            logger.warning("could not discard cached LLM response", metadata: ["endpoint": "\(endpoint)", "error": "\(error)"])
        }
    }

    /// The cache key `request` would have with this client's endpoint and model.
    public func requestHash(for request: ChatCompletionRequest) throws -> String {
        var request = request
        if request.model == nil { request.model = config.model }
        return LLMRequestHash.compute(endpoint: endpoint, model: request.model ?? config.model, canonicalBody: try request.canonicalBody())
    }

    // MARK: - Collect mode

    /// Puts the client in collect mode (a batch wave) with `collector`, or back in real time (nil).
    ///
    /// In collect mode a call that the cache does not answer is not sent: it is recorded in the
    /// collector and fails with an `LLMError` that `isDeferred` (not a failure: the caller stores
    /// nothing and asks again once the batch is ingested). A request the batch answered is served
    /// from the collector; one whose batch line failed is recorded again with another `seed` (so
    /// its line is not the same answer again) until `maxAttempts`, the last one in real time with
    /// `lastAttemptRealtime`. Calls inside ``inRealTime(_:)`` (probes) are always sent.
    public func collect(into collector: (any LLMBatchCollector)?) {
        state.withLock { $0.collector = collector }
    }

    /// Whether the client is in collect mode.
    public var isCollecting: Bool { state.withLock { $0.collector != nil } }

    /// Answers `request` in collect mode from the collector, or records it and throws
    /// `LLMError.deferred`; nil when it goes in real time (the last attempt with `lastAttemptRealtime`).
    private func collected(
        _ request: ChatCompletionRequest, body: Data, call: CallInfo, collector: any LLMBatchCollector
    ) throws -> LLMCompletion? {
        var attempt = 1
        var sent = request
        switch try collector.state(forHash: call.hash) {
        case .answered(let raw):
            let response: ChatCompletionResponse
            do {
                response = try ChatCompletionResponse.decode(raw)
            } catch {
                throw LLMError.malformedResponse(endpoint: endpoint, status: 200, detail: "a batch line that does not decode", attempts: 1)
            }
            return answeredWithoutNetwork(response, call, latencyMs: 0, queueMs: 0, how: "by a batch line")
        case .waiting:
            throw LLMError.deferred(endpoint: endpoint, hash: call.hash)
        case .unknown:
            break
        case .failed(let attempts, let error):
            guard attempts < collector.maxAttempts else {
                throw LLMError.batchLineFailed(endpoint: endpoint, attempts: attempts, detail: error)
            }
            attempt = attempts + 1
            if attempt == collector.maxAttempts, collector.lastAttemptRealtime { return nil }
            // An identical request would be the same line again: another seed makes it a new one.
            sent.seed = (request.seed ?? 0) + attempt - 1
        }
        let lineBody = attempt == 1 ? body : try sent.canonicalBody()
        let lineHash = attempt == 1 ? call.hash : LLMRequestHash.compute(endpoint: endpoint, model: call.model, canonicalBody: lineBody)
        try collector.enqueue(LLMDeferredRequest(
            requestHash: call.hash, lineHash: lineHash, model: call.model, body: lineBody, attempt: attempt, unit: call.context?.unit,
            stage: call.context?.stage))
        throw LLMError.deferred(endpoint: endpoint, hash: call.hash)
    }

    // MARK: - Calling

    /// Sends one chat-completions request, or answers it from the store.
    ///
    /// - Parameters:
    ///   - request: The request; a nil `model` is filled from the configuration.
    ///   - useCache: Overrides `config.useCache` for this call (the answer is stored either way,
    ///     unless it was cut off).
    /// - Returns: The decoded answer with its hash, cache flag, attempts, latency and queue time;
    ///   a cut-off answer (`isCutOff`) is returned too. Logged with `LLMCallContext.current`.
    ///   Call `discard(_:)` when the answer turns out unusable, so it is asked again next time.
    /// - Throws: `LLMError` (check `isFatalForRun` to stop a run early), or `CancellationError`.
    public func complete(_ request: ChatCompletionRequest, useCache: Bool? = nil) async throws -> LLMCompletion {
        var request = request
        if request.model == nil { request.model = config.model }
        let model = request.model ?? config.model
        let body = try request.canonicalBody()
        let hash = LLMRequestHash.compute(endpoint: endpoint, model: model, canonicalBody: body)
        let call = CallInfo(hash: hash, model: model, context: LLMCallContext.current, started: ContinuousClock.now)

        if let refused = state.withLock({ $0.halted ? $0.haltedBy ?? (endpoint, config.apiKeyEnv) : nil }) {
            let error = LLMError.halted(endpoint: refused.name, keyEnv: refused.keyEnv)
            finishFailure(call, queueMs: 0, status: nil, attempts: 0, error: error)
            throw error
        }

        let readCache = useCache ?? config.useCache
        if readCache, let cached = cachedAnswer(hash: hash) {
            return answeredWithoutNetwork(cached, call, latencyMs: milliseconds(since: call.started), queueMs: 0, how: "from cache")
        }
        if !Self.realTimeOnly, let collector = state.withLock({ $0.collector }),
            let answer = try collected(request, body: body, call: call, collector: collector) {
            return answer
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
                return answeredWithoutNetwork(
                    response, call, latencyMs: 0, queueMs: milliseconds(since: call.started), how: "by an identical call in flight")
            case .failure(let error)? where error is CancellationError:
                continue  // the leader was cancelled, not this call: try again
            case .failure(let error)?:
                finishFailure(
                    call, queueMs: milliseconds(since: call.started), status: (error as? LLMError)?.statusCode, attempts: 0, error: error)
                throw error
            }
            break
        }

        var progress = Progress()
        do {
            let (response, raw) = try await send(request: request, body: body, progress: &progress, started: call.started)
            let latency = max(0, milliseconds(since: call.started) - progress.queueMs)
            let completion = LLMCompletion(
                response: response, requestHash: hash, cached: false, attempts: progress.attempts, latencyMs: latency,
                queueMs: progress.queueMs)
            if response.allChoicesCutOff {
                // A cut-off answer is never replayed: the next identical call asks again.
                logger.debug("not caching a cut-off LLM answer", metadata: ["endpoint": "\(endpoint)", "hash": "\(hash.prefix(12))"])
            } else {
                do {
                    try store?.storeResponse(raw, forHash: hash)
                } catch {
                    logger.warning("could not store LLM response", metadata: ["endpoint": "\(endpoint)", "error": "\(scrubKeys("\(error)"))"])
                }
            }
            let prompt = response.usage?.promptTokens
            // Prompt tokens once per call, completion tokens of every choice (`n`).
            let completionTokens = response.completionTokensOfAllChoices
            let cachedTokens = response.cachedPromptTokens
            state.withLock { s in
                s.usage.calls += 1
                s.usage.attempts += progress.attempts
                s.usage.promptTokens += prompt ?? 0
                s.usage.completionTokens += completionTokens ?? 0
                s.usage.cachedPromptTokens += cachedTokens ?? 0
                if config.priceInputPerMillion != nil || config.priceOutputPerMillion != nil {
                    let money = Double(prompt ?? 0) * (config.priceInputPerMillion ?? 0) / 1e6
                        + Double(completionTokens ?? 0) * (config.priceOutputPerMillion ?? 0) / 1e6
                    s.usage.cost = (s.usage.cost ?? 0) + money
                }
            }
            if let tokenBucket = replicas[progress.replica].tokenBucket, let prompt, let completionTokens {
                tokenBucket.adjust(by: progress.tokenEstimate - Double(prompt + completionTokens))
            }
            record(LLMCallRecord(
                requestHash: hash, endpoint: replicas[progress.replica].name, model: model, statusCode: progress.lastStatus,
                latencyMs: latency,
                promptTokens: prompt, completionTokens: completionTokens, error: nil, cached: false, attempts: progress.attempts,
                unit: call.context?.unit, stage: call.context?.stage, queueMs: progress.queueMs, cachedTokens: cachedTokens,
                finishReason: response.finishReason))
            logger.debug(
                "LLM call done",
                metadata: [
                    "endpoint": "\(replicas[progress.replica].name)", "hash": "\(hash.prefix(12))", "attempts": "\(progress.attempts)",
                    "ms": "\(Int(latency))",
                    "queue_ms": "\(Int(progress.queueMs))", "finish_reason": "\(response.finishReason ?? "none")",
                ])
            if readCache { resolveFollowers(hash: hash, with: .success(response)) }
            return completion
        } catch {
            if readCache { resolveFollowers(hash: hash, with: .failure(error)) }
            finishFailure(
                call, queueMs: progress.queueMs, status: progress.lastStatus, attempts: progress.attempts, error: error,
                replica: progress.attempts > 0 ? progress.replica : nil)
            throw error
        }
    }

    /// What every log row of one call shares.
    private struct CallInfo {
        var hash: String
        var model: String
        var context: LLMCallContext?
        var started: ContinuousClock.Instant
    }

    /// Counts, logs and returns an answer that needed no network request of this call.
    private func answeredWithoutNetwork(
        _ response: ChatCompletionResponse, _ call: CallInfo, latencyMs: Double, queueMs: Double, how: String
    ) -> LLMCompletion {
        state.withLock { s in
            s.usage.calls += 1
            s.usage.cachedCalls += 1
        }
        record(LLMCallRecord(
            requestHash: call.hash, endpoint: endpoint, model: call.model, statusCode: 200, latencyMs: latencyMs,
            promptTokens: response.usage?.promptTokens, completionTokens: response.completionTokensOfAllChoices,
            error: nil, cached: true, attempts: 0, unit: call.context?.unit, stage: call.context?.stage, queueMs: queueMs,
            cachedTokens: response.cachedPromptTokens, finishReason: response.finishReason))
        logger.debug("LLM call answered \(how)", metadata: ["endpoint": "\(endpoint)", "hash": "\(call.hash.prefix(12))"])
        return LLMCompletion(response: response, requestHash: call.hash, cached: true, attempts: 0, latencyMs: latencyMs, queueMs: queueMs)
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
        /// Milliseconds waited for the rate budgets and the in-flight limit, over all attempts.
        var queueMs: Double = 0
        /// The replica of the last attempt.
        var replica = 0
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
        request: ChatCompletionRequest, body: Data, progress: inout Progress, started: ContinuousClock.Instant
    ) async throws -> (ChatCompletionResponse, Data) {
        let estimate = Double(request.estimatedPromptTokens + (request.maxTokens ?? 256) * (request.n ?? 1))
        progress.tokenEstimate = estimate
        let retry = config.retry
        let pooled = replicas.count > 1
        var lastFailed: Int?

        while true {
            try Task.checkCancellation()
            let queued = ContinuousClock.now
            let index: Int
            if pooled {
                // A pool takes a slot first: the replica decides which budgets to wait for.
                index = await dispatcher.acquire(avoid: lastFailed)
                do {
                    try await waitForBudgets(of: replicas[index], estimate: estimate)
                } catch {
                    dispatcher.release(index, .neutral)
                    progress.queueMs += milliseconds(since: queued)
                    throw error
                }
            } else {
                do {
                    try await waitForBudgets(of: replicas[0], estimate: estimate)
                } catch {
                    progress.queueMs += milliseconds(since: queued)
                    throw error
                }
                index = await dispatcher.acquire()
            }
            progress.queueMs += milliseconds(since: queued)
            if let refused = state.withLock({ $0.halted ? $0.haltedBy : nil }) {
                // The key was refused while this call waited for a slot: send nothing more.
                dispatcher.release(index, .neutral)
                throw LLMError.halted(endpoint: refused.name, keyEnv: refused.keyEnv)
            }
            let replica = replicas[index]
            let name = replica.name
            let key = environment(replica.config.apiKeyEnv).flatMap { $0.isEmpty ? nil : $0 }
            do {
                // A key changed in the environment since start-up is checked again: it must not add headers.
                try HeaderValue.checkKey(key, keyEnv: replica.config.apiKeyEnv, endpoint: name)
            } catch {
                dispatcher.release(index, .neutral)
                throw error
            }
            progress.attempts += 1
            progress.replica = index
            let outcome: Result<HTTPResponse, any Error>
            do {
                outcome = .success(try await CurlLoop.shared.perform(httpRequest(for: replica, body: body, key: key)))
            } catch {
                outcome = .failure(error)
            }

            let failure: AttemptFailure
            switch outcome {
            case .failure(let error as TransportFailure):
                dispatcher.release(index, error.kind == .tooLarge ? .healthy : .failed)
                progress.lastStatus = nil
                switch error.kind {
                case .timeout: failure = .timeout(error.message)
                case .connect, .dropped, .other: failure = .connection(error.message)
                case .tooLarge:
                    failure = .fatal(.responseTooLarge(endpoint: name, limit: replica.config.maxResponseBytes, attempts: progress.attempts))
                }
            case .failure(let error):
                dispatcher.release(index, .neutral)
                throw error
            case .success(let response):
                if response.status == 401 || response.status == 403 {
                    // Halt before the slot is free, so no waiting call goes out with a refused key.
                    state.withLock { s in
                        if !s.halted { s.haltedBy = (name, replica.config.apiKeyEnv) }
                        s.halted = true
                    }
                }
                dispatcher.release(index, (500...599).contains(response.status) ? .failed : .healthy)
                progress.lastStatus = response.status
                switch response.status {
                case 200..<300:
                    do {
                        return (try ChatCompletionResponse.decode(response.body), response.body)
                    } catch {
                        failure = .malformed(response.status, "body of \(response.body.count) bytes does not decode")
                    }
                case 401, 403:
                    failure = .fatal(.unauthorized(
                        endpoint: name, status: response.status, keyEnv: replica.config.apiKeyEnv, keySet: key != nil,
                        attempts: progress.attempts))
                case 300..<400:
                    failure = .fatal(.redirected(
                        endpoint: name, status: response.status, location: response.header("location").map { scrub($0, key: key) },
                        attempts: progress.attempts))
                case 404:
                    failure = .fatal(.notFound(
                        endpoint: name, model: config.model, detail: serverDetail(response.body, key: key),
                        attempts: progress.attempts))
                case 408, 409, 425, 429, 500...599:
                    failure = .status(
                        response.status, detail: serverDetail(response.body, key: key),
                        retryAfter: response.header("retry-after").flatMap(Self.parseRetryAfter))
                default:
                    failure = .fatal(.badRequest(
                        endpoint: name, status: response.status, detail: serverDetail(response.body, key: key),
                        attempts: progress.attempts))
                }
            }

            let elapsed = seconds(since: started)
            if case .fatal(let error) = failure {
                logger.error("LLM call failed", metadata: ["endpoint": "\(name)", "error": "\(error.description)"])
                throw error
            }

            var delay = min(retry.maxBackoff, retry.baseBackoff * pow(2, Double(progress.attempts - 1)))
            if retry.jitter > 0 {
                delay *= Double.random(in: max(0, 1 - retry.jitter)...(1 + retry.jitter))
            }
            if case .status(_, _, let retryAfter?) = failure { delay = max(delay, retryAfter) }
            // Failover: another replica with a free slot takes the same request at once.
            let failover = pooled && dispatcher.hasFreeReplica(otherThan: index)
            if failover { delay = 0 }
            if progress.attempts >= retry.maxAttempts || elapsed + delay > retry.maxTotalTime {
                let error = finalError(failure, replica: replica, attempts: progress.attempts, elapsed: elapsed, key: key)
                logger.warning("LLM call gave up", metadata: ["endpoint": "\(name)", "error": "\(error.description)"])
                throw error
            }
            logger.notice(
                failover ? "retrying LLM call on another endpoint" : "retrying LLM call",
                metadata: [
                    "endpoint": "\(name)", "attempt": "\(progress.attempts)", "reason": "\(describe(failure, key: key))",
                    "delay_ms": "\(Int(delay * 1000))",
                ])
            state.withLock { $0.usage.retries += 1 }
            lastFailed = index
            if delay > 0 { try await Task.sleep(for: .seconds(delay)) }
        }
    }

    /// Waits until `replica`'s request and token budgets allow one more call of `estimate` tokens.
    private func waitForBudgets(of replica: Replica, estimate: Double) async throws {
        if let requestBucket = replica.requestBucket {
            let wait = requestBucket.reserve(1)
            if wait > .zero { try await Task.sleep(for: wait) }
        }
        if let tokenBucket = replica.tokenBucket {
            let wait = tokenBucket.reserve(estimate)
            if wait > .zero { try await Task.sleep(for: wait) }
        }
    }

    /// The POST of `body` to `replica`'s chat-completions URL.
    private func httpRequest(for replica: Replica, body: Data, key: String?) -> HTTPRequest {
        var headers = ["Content-Type: application/json", "Accept: application/json"]
        if let key { headers.append("Authorization: Bearer \(key)") }
        let config = replica.config
        return HTTPRequest(
            url: config.chatCompletionsURL, headers: headers, body: body,
            connectTimeoutMs: Int((config.connectTimeout * 1000).rounded(.up)),
            totalTimeoutMs: Int((config.requestTimeout * 1000).rounded(.up)),
            lowSpeedTimeSeconds: config.lowSpeedTime.map { max(1, Int($0.rounded(.up))) },
            maxResponseBytes: config.maxResponseBytes)
    }

    private func finalError(_ failure: AttemptFailure, replica: Replica, attempts: Int, elapsed: Double, key: String?) -> LLMError {
        let endpoint = replica.name
        switch failure {
        case .status(let status, let detail, _):
            return .transientStatus(endpoint: endpoint, status: status, detail: detail, attempts: attempts, elapsed: elapsed)
        case .timeout(let text):
            return .timeout(
                endpoint: endpoint, detail: scrub(text, key: key), attempts: attempts, elapsed: elapsed,
                timeout: replica.config.requestTimeout)
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
            let response = try ChatCompletionResponse.decode(body)
            // Stored before cut-off answers were kept out of the cache: ask again.
            return response.allChoicesCutOff ? nil : response
        } catch {
            logger.warning("ignoring unreadable cached LLM response", metadata: ["hash": "\(hash.prefix(12))", "error": "\(error)"])
            return nil
        }
    }

    private func finishFailure(_ call: CallInfo, queueMs: Double, status: Int?, attempts: Int, error: any Error, replica: Int? = nil) {
        let text = error is CancellationError ? "cancelled" : scrubKeys(String(describing: error))
        state.withLock { s in
            s.usage.calls += 1
            s.usage.failedCalls += 1
            s.usage.attempts += attempts
        }
        record(LLMCallRecord(
            requestHash: call.hash, endpoint: replica.map { replicas[$0].name } ?? endpoint, model: call.model, statusCode: status,
            latencyMs: max(0, milliseconds(since: call.started) - queueMs), promptTokens: nil, completionTokens: nil, error: text,
            cached: false, attempts: attempts, unit: call.context?.unit, stage: call.context?.stage, queueMs: queueMs))
    }

    /// Logs `call` to the store and tells the observers.
    private func record(_ call: LLMCallRecord) {
        if let store {
            do {
                try store.record(call)
            } catch {
                logger.warning("could not record LLM call", metadata: ["endpoint": "\(endpoint)", "error": "\(error)"])
            }
        }
        let (observers, usage) = state.withLock { ($0.observers, $0.usage) }
        for observer in observers { observer(usage) }
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

    /// `text` without the key of any replica.
    private func scrubKeys(_ text: String) -> String {
        replicas.reduce(text) { text, replica in scrub(text, key: environment(replica.config.apiKeyEnv)) }
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

