import Foundation
import Synchronization

// MARK: - Dispatcher

/// Request slots over the replicas of one endpoint, with one shared queue and a circuit breaker per replica.
///
/// A caller `acquire`s a slot and gets the replica to send to; `release` gives the slot back with
/// how the attempt went. Waiting callers are served first-come as slots free up, so each replica
/// pulls work while it has a free slot and a fast replica takes more. With one replica and no
/// breaker this is a plain counting semaphore (the single-endpoint client).
final class EndpointDispatcher: Sendable {
    /// How one attempt ended, for the breaker.
    enum Outcome {
        /// An answer (any HTTP status that says the server works): closes the breaker.
        case healthy
        /// A transport error or a 5xx: counts towards opening the breaker.
        case failed
        /// Neither (cancelled, refused before sending): changes nothing.
        case neutral
    }

    private struct Member {
        var capacity: Int
        var weight: Double
        var inFlight = 0
        var consecutiveFailures = 0
        /// Set while the breaker is open (or half-open once the instant has passed).
        var openUntil: ContinuousClock.Instant?
        /// Times opened since the replica last answered; the cool-down doubles with each.
        var opens = 0
        /// A half-open probe is in flight.
        var probing = false
        var taken = 0
    }

    private struct Waiter {
        var continuation: CheckedContinuation<Int, Never>
        var avoid: Int?
    }

    private struct State {
        var members: [Member]
        var waiters: [Waiter] = []
        var head = 0
        var timerAt: ContinuousClock.Instant?
    }

    private let state: Mutex<State>
    private let breaker: LLMEndpointPool.Breaker?

    /// - Parameters:
    ///   - capacities: Slots per replica (0 = none yet: `setCapacity` gives them later).
    ///   - weights: Tie-break among equally loaded replicas, heavier first.
    ///   - breaker: nil = never leave a replica out.
    init(capacities: [Int], weights: [Double], breaker: LLMEndpointPool.Breaker?) {
        state = Mutex(State(members: zip(capacities, weights).map { Member(capacity: max(0, $0), weight: $1) }))
        self.breaker = breaker
    }

    /// Replicas served.
    var count: Int { state.withLock { $0.members.count } }

    /// Slots handed to each replica so far.
    var slotsTaken: [Int] { state.withLock { $0.members.map(\.taken) } }

    /// Sets replica `index`'s slot count (after a `/props` probe) and serves waiters.
    func setCapacity(_ capacity: Int, of index: Int) {
        state.withLock { $0.members[index].capacity = max(1, capacity) }
        dispatch()
    }

    /// True when a replica other than `index` could take a request now (a failover need not wait).
    func hasFreeReplica(otherThan index: Int) -> Bool {
        state.withLock { s in
            let now = ContinuousClock.now
            return s.members.indices.contains { $0 != index && Self.available(s.members[$0], now: now) }
        }
    }

    // MARK: - Slots

    /// Waits for a free slot and returns its replica; another than `avoid` when one is free.
    func acquire(avoid: Int? = nil) async -> Int {
        if let index = state.withLock({ s in Self.pick(&s, avoid: avoid, now: .now) }) { return index }
        return await withCheckedContinuation { (continuation: CheckedContinuation<Int, Never>) in
            let now = state.withLock { s -> Int? in
                if let index = Self.pick(&s, avoid: avoid, now: .now) { return index }
                s.waiters.append(Waiter(continuation: continuation, avoid: avoid))
                return nil
            }
            if let now {
                continuation.resume(returning: now)
            } else {
                scheduleTimer()
            }
        }
    }

    /// Gives back a slot of replica `index` and records how its attempt went.
    func release(_ index: Int, _ outcome: Outcome) {
        state.withLock { s in
            let now = ContinuousClock.now
            var m = s.members[index]
            m.inFlight -= 1
            switch outcome {
            case .healthy:
                m.consecutiveFailures = 0
                m.openUntil = nil
                m.opens = 0
                m.probing = false
            case .failed:
                m.consecutiveFailures += 1
                if let breaker, m.probing || (m.openUntil == nil && m.consecutiveFailures >= breaker.failures) {
                    m.opens += 1
                    let cooldown = min(breaker.maxCooldown, breaker.cooldown * pow(2, Double(m.opens - 1)))
                    m.openUntil = now + .seconds(cooldown)
                }
                m.probing = false
            case .neutral:
                m.probing = false
            }
            s.members[index] = m
        }
        dispatch()
        scheduleTimer()
    }

    /// True while replica `index`'s breaker is open or half-open.
    func isOpen(_ index: Int) -> Bool { state.withLock { $0.members[index].openUntil != nil } }

    // MARK: - Internals

    private static func available(_ m: Member, now: ContinuousClock.Instant) -> Bool {
        if let until = m.openUntil { return now >= until && !m.probing && m.inFlight == 0 }
        return m.inFlight < m.capacity
    }

    /// Takes a slot of the least loaded free replica (preferring any but `avoid`), or nil.
    private static func pick(_ s: inout State, avoid: Int?, now: ContinuousClock.Instant) -> Int? {
        var best: Int?
        var bestKey = (1, Double.infinity, 0.0)
        for (index, m) in s.members.enumerated() where available(m, now: now) {
            let key = (index == avoid ? 1 : 0, Double(m.inFlight) / Double(max(1, m.capacity)), -m.weight)
            if best == nil || key < bestKey {
                best = index
                bestKey = key
            }
        }
        guard let index = best else { return nil }
        if s.members[index].openUntil != nil { s.members[index].probing = true }
        s.members[index].inFlight += 1
        s.members[index].taken += 1
        return index
    }

    /// Hands free slots to the oldest waiters.
    private func dispatch() {
        let handed = state.withLock { s -> [(CheckedContinuation<Int, Never>, Int)] in
            var handed: [(CheckedContinuation<Int, Never>, Int)] = []
            let now = ContinuousClock.now
            while s.head < s.waiters.count, let index = Self.pick(&s, avoid: s.waiters[s.head].avoid, now: now) {
                handed.append((s.waiters[s.head].continuation, index))
                s.head += 1
            }
            if s.head > 64, s.head * 2 > s.waiters.count {
                s.waiters.removeFirst(s.head)
                s.head = 0
            }
            return handed
        }
        for (continuation, index) in handed { continuation.resume(returning: index) }
    }

    /// While callers wait and a breaker is open, wakes the queue when the next cool-down ends.
    private func scheduleTimer() {
        let at = state.withLock { s -> ContinuousClock.Instant? in
            guard s.head < s.waiters.count else { return nil }
            // A cool-down already over waits for the replica's last attempts: their release dispatches.
            let now = ContinuousClock.now
            let next = s.members.compactMap { m in m.probing ? nil : m.openUntil.flatMap { $0 > now ? $0 : nil } }.min()
            guard let next, s.timerAt.map({ next < $0 }) ?? true else { return nil }
            s.timerAt = next
            return next
        }
        guard let at else { return }
        Task { [self] in
            try? await Task.sleep(until: at, clock: .continuous)
            state.withLock { s in if s.timerAt == at { s.timerAt = nil } }
            dispatch()
            scheduleTimer()
        }
    }
}
