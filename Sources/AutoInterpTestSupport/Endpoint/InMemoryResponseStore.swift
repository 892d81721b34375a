import AutoInterpLLM
import Foundation
import Synchronization

// MARK: - In-memory response store

/// An `LLMResponseStore` in memory, for tests: a response cache and a call log.
public final class InMemoryResponseStore: LLMResponseStore {
    private struct State {
        var responses: [String: Data] = [:]
        var calls: [LLMCallRecord] = []
    }

    private let state = Mutex(State())

    public init() {}

    public func cachedResponse(forHash hash: String) throws -> Data? { state.withLock { $0.responses[hash] } }

    public func storeResponse(_ body: Data, forHash hash: String) throws { state.withLock { $0.responses[hash] = body } }

    public func removeResponse(forHash hash: String) throws { state.withLock { $0.responses[hash] = nil } }

    public func record(_ call: LLMCallRecord) throws { state.withLock { $0.calls.append(call) } }

    /// Every call recorded, in order.
    public var calls: [LLMCallRecord] { state.withLock { $0.calls } }

    /// Every stored response body, by hash.
    public var responses: [String: Data] { state.withLock { $0.responses } }
}
