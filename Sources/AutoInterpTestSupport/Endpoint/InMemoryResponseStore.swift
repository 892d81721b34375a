package import AutoInterpLLM
package import Foundation
import Synchronization

// MARK: - In-memory response store

/// An `LLMResponseStore` in memory, for tests: a response cache and a call log.
package final class InMemoryResponseStore: LLMResponseStore {
    private struct State {
        var responses: [String: Data] = [:]
        var calls: [LLMCallRecord] = []
    }

    private let state = Mutex(State())

    package init() {}

    package func cachedResponse(forHash hash: String) throws -> Data? { state.withLock { $0.responses[hash] } }

    package func storeResponse(_ body: Data, forHash hash: String) throws { state.withLock { $0.responses[hash] = body } }

    package func removeResponse(forHash hash: String) throws { state.withLock { $0.responses[hash] = nil } }

    package func record(_ call: LLMCallRecord) throws { state.withLock { $0.calls.append(call) } }

    /// Every call recorded, in order.
    package var calls: [LLMCallRecord] { state.withLock { $0.calls } }

    /// Every stored response body, by hash.
    package var responses: [String: Data] { state.withLock { $0.responses } }
}
