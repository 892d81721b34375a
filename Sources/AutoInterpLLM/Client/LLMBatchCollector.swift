public import Foundation

// MARK: - Collect mode (batch transport)

/// What the batch transport holds for a request the response cache does not answer.
public enum LLMDeferredState: Sendable, Equatable {
    /// Never collected: the client records it and defers.
    case unknown
    /// Collected and not answered yet (pending, or in a batch that has not ended).
    case waiting
    /// Answered by a batch line (the raw chat-completion body), also when that answer was
    /// dropped from the cache as unusable or cut off: the stage sees it as in real time.
    case answered(Data)
    /// The last batch line of the request failed (`attempts` made so far, the line's error).
    case failed(attempts: Int, error: String)
}

/// One request recorded for a batch.
public struct LLMDeferredRequest: Sendable, Equatable {
    /// The cache key the stages ask for (the request without a retry seed).
    public var requestHash: String
    /// The key of the line sent (`custom_id`): `requestHash` on the first attempt; a retry sends
    /// the request with another `seed`, so its line hash differs.
    public var lineHash: String
    public var model: String
    /// The canonical chat-completions body of the line (with `model`).
    public var body: Data
    /// 1 for the first line of the request, 2 for its first retry, …
    public var attempt: Int
    /// The unit and stage asking (`LLMCallContext`), for the batch files and `llm_calls`.
    public var unit: String?
    public var stage: String?

    public init(
        requestHash: String, lineHash: String, model: String, body: Data, attempt: Int, unit: String? = nil, stage: String? = nil
    ) {
        self.requestHash = requestHash
        self.lineHash = lineHash
        self.model = model
        self.body = body
        self.attempt = attempt
        self.unit = unit
        self.stage = stage
    }
}

/// Where a client in collect mode records the requests it cannot answer from the cache (the run
/// database's `llm_pending`). Implementations must be safe to call from any thread.
public protocol LLMBatchCollector: Sendable {
    /// Batch lines a request gets before it counts as a failed call.
    var maxAttempts: Int { get }
    /// Whether the last attempt goes in real time instead of another batch (`--batch-retry realtime`).
    var lastAttemptRealtime: Bool { get }
    /// What is known of the request `hash`.
    func state(forHash hash: String) throws -> LLMDeferredState
    /// Records (or re-records, for a retry) a request for the next batch.
    func enqueue(_ request: LLMDeferredRequest) throws
}

extension LLMClient {
    /// Calls made inside `body` go in real time even while the client collects (capability
    /// probes: a batch wave needs their findings before it is built).
    public static func inRealTime<T: Sendable>(_ body: () async throws -> T) async rethrows -> T {
        try await $realTimeOnly.withValue(true) { try await body() }
    }

    /// True inside ``inRealTime(_:)``.
    @TaskLocal static var realTimeOnly = false
}
