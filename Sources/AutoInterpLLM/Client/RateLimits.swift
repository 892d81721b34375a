import Foundation
import Synchronization

// MARK: - In-flight cap

/// An async counting semaphore: at most `limit` holders at once, waiters served first-come.
final class InFlightLimiter: Sendable {
    private struct State {
        var available: Int
        var waiters: [CheckedContinuation<Void, Never>] = []
        var head = 0
    }

    private let state: Mutex<State>

    init(limit: Int) { state = Mutex(State(available: max(1, limit))) }

    /// Waits for a free slot and takes it.
    func acquire() async {
        let took = state.withLock { s -> Bool in
            guard s.available > 0 else { return false }
            s.available -= 1
            return true
        }
        if took { return }
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let now = state.withLock { s -> Bool in
                if s.available > 0 {
                    s.available -= 1
                    return true
                }
                s.waiters.append(continuation)
                return false
            }
            if now { continuation.resume() }
        }
    }

    /// Gives a slot back, handing it straight to the oldest waiter if any.
    func release() {
        let next = state.withLock { s -> CheckedContinuation<Void, Never>? in
            if s.head < s.waiters.count {
                let waiter = s.waiters[s.head]
                s.head += 1
                if s.head > 64, s.head * 2 > s.waiters.count {
                    s.waiters.removeFirst(s.head)
                    s.head = 0
                }
                return waiter
            }
            s.available += 1
            return nil
        }
        next?.resume()
    }
}

// MARK: - Token bucket

/// A per-minute budget as a reservation token bucket: a reservation may drive the level below
/// zero, and the caller waits until the refill would have paid for it.
final class TokenBucket: Sendable {
    private struct State {
        var level: Double
        var updated: ContinuousClock.Instant
    }

    private let capacity: Double
    private let perSecond: Double
    private let state: Mutex<State>

    /// A bucket of `perMinute` units, refilled continuously at `perMinute / 60` per second.
    init(perMinute: Double) {
        capacity = perMinute
        perSecond = perMinute / 60
        state = Mutex(State(level: perMinute, updated: .now))
    }

    /// Takes `amount` units and returns how long the caller must wait before using them.
    func reserve(_ amount: Double) -> Duration {
        state.withLock { s in
            let now = ContinuousClock.now
            let elapsed = now - s.updated
            let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18
            s.level = min(capacity, s.level + seconds * perSecond)
            s.updated = now
            s.level -= min(amount, capacity)
            return s.level >= 0 ? .zero : .seconds(-s.level / perSecond)
        }
    }

    /// Gives back (positive) or takes more (negative) units after the real cost is known.
    func adjust(by amount: Double) {
        state.withLock { s in s.level = min(capacity, s.level + amount) }
    }
}
