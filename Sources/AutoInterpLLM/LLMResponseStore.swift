public import Foundation

/// One chat-completions call as it is logged: cached or not, succeeded or not. Never holds a key.
public struct LLMCallRecord: Sendable, Equatable {
    /// Hex SHA-256 of (endpoint, model, canonical request body): the cache key.
    public var requestHash: String
    /// The base URL the call went to (never with credentials).
    public var endpoint: String
    public var model: String
    /// HTTP status of the final attempt; nil when no response arrived (timeout, dropped connection).
    public var statusCode: Int?
    /// The request's own time in milliseconds: its attempts and the backoff between them, without
    /// the time it queued for the in-flight limit and the rate budgets (that is `queueMs`).
    public var latencyMs: Double
    public var promptTokens: Int?
    public var completionTokens: Int?
    /// One-line error of the final attempt, nil on success.
    public var error: String?
    /// True when the answer came from the cache and no network request was made.
    public var cached: Bool
    /// Attempts made (1 = no retry; 0 when cached).
    public var attempts: Int
    public var createdAt: Date
    /// The unit the call was made for (from `LLMCallContext.current`), e.g. `feature 12`.
    public var unit: String?
    /// The stage the call was made for (from `LLMCallContext.current`), e.g. `simulate`.
    public var stage: String?
    /// Milliseconds spent waiting for the in-flight limit and the rate budgets (or, for a call
    /// answered by an identical call in flight, for that call).
    public var queueMs: Double
    /// Prompt tokens the server served from its prefix cache, when it said.
    public var cachedTokens: Int?
    /// `finish_reason` of the answer's first choice (`stop`, `length`, …).
    public var finishReason: String?
    /// `realtime`, or `batch` for a line of a provider batch (priced at the batch tier).
    public var tier: String = "realtime"
    /// The run database's batch (`llm_batches.id`) of a batch line.
    public var batchID: Int64?

    public init(
        requestHash: String, endpoint: String, model: String, statusCode: Int?, latencyMs: Double,
        promptTokens: Int?, completionTokens: Int?, error: String?, cached: Bool, attempts: Int,
        createdAt: Date = Date(), unit: String? = nil, stage: String? = nil, queueMs: Double = 0,
        cachedTokens: Int? = nil, finishReason: String? = nil
    ) {
        self.requestHash = requestHash
        self.endpoint = endpoint
        self.model = model
        self.statusCode = statusCode
        self.latencyMs = latencyMs
        self.promptTokens = promptTokens
        self.completionTokens = completionTokens
        self.error = error
        self.cached = cached
        self.attempts = attempts
        self.createdAt = createdAt
        self.unit = unit
        self.stage = stage
        self.queueMs = queueMs
        self.cachedTokens = cachedTokens
        self.finishReason = finishReason
    }
}

/// Where the client keeps its response cache and call log (the run database implements it).
///
/// Implementations must be safe to call from any thread.
public protocol LLMResponseStore: Sendable {
    /// The raw response body stored for `hash`, or nil.
    func cachedResponse(forHash hash: String) throws -> Data?
    /// Stores a successful raw response body under `hash` (replacing any earlier one).
    func storeResponse(_ body: Data, forHash hash: String) throws
    /// Forgets the response stored for `hash`, if any (an answer that could not be used).
    func removeResponse(forHash hash: String) throws
    /// Appends one row to the call log.
    func record(_ call: LLMCallRecord) throws
}
