import Synchronization

/// Context embeddings computed earlier in this process, keyed by the exact text the model read:
/// the embedding stage and the intruder's local answerer read the same `classify` contexts of a
/// unit (the embedding stage first), so the answerer takes the vectors the embedding stage made
/// instead of running the model on them again. Bounded: the oldest entries go first once it
/// holds ``capacity`` vectors (a few units' contexts in flight: 4096 × 384 floats is 6 MiB).
package final class EmbeddingCache: Sendable {
    /// Vectors held at most; 0 keeps none.
    package let capacity: Int

    private struct State {
        var vectors: [String: [Float]] = [:]
        /// Insertion order; entries before `head` are gone.
        var order: [String] = []
        var head = 0
    }

    private let state = Mutex(State())

    /// Vectors a cache holds by default.
    package static let defaultCapacity = 4096

    package init(capacity: Int = EmbeddingCache.defaultCapacity) {
        self.capacity = max(0, capacity)
    }

    /// The vector of `text`, if it is held.
    package func vector(_ text: String) -> [Float]? {
        state.withLock { $0.vectors[text] }
    }

    /// Keeps `vectors` (text, vector), dropping the oldest beyond ``capacity``.
    package func keep(_ vectors: [(text: String, vector: [Float])]) {
        guard capacity > 0 else { return }
        state.withLock { state in
            for (text, vector) in vectors where state.vectors.updateValue(vector, forKey: text) == nil {
                state.order.append(text)
            }
            while state.vectors.count > capacity, state.head < state.order.count {
                state.vectors[state.order[state.head]] = nil
                state.head += 1
            }
            if state.head > capacity {
                state.order.removeFirst(state.head)
                state.head = 0
            }
        }
    }

    /// Vectors held now.
    package var count: Int { state.withLock { $0.vectors.count } }
}
