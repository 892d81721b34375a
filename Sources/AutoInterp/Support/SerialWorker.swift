import Foundation

/// Runs jobs in submission order on one background thread, with at most `depth` submitted and
/// not yet finished: a producer (selection) keeps computing while the previous jobs (storing
/// units) run. The first job that throws stops the later ones; its error is rethrown by the next
/// ``submit(_:)`` or by ``finish()``.
final class SerialWorker: @unchecked Sendable {
    private let queue: DispatchQueue
    private let slots: DispatchSemaphore
    private let lock = NSLock()
    private var failure: (any Error)?

    init(label: String, depth: Int = 2) {
        queue = DispatchQueue(label: label)
        slots = DispatchSemaphore(value: max(1, depth))
    }

    /// Queues `job`, first waiting while `depth` jobs are pending.
    func submit(_ job: @escaping @Sendable () throws -> Void) throws {
        try rethrow()
        slots.wait()
        queue.async { [self] in
            defer { slots.signal() }
            guard lock.withLock({ failure == nil }) else { return }
            do { try job() } catch { lock.withLock { if failure == nil { failure = error } } }
        }
    }

    /// Waits for every submitted job, then rethrows the first failure.
    func finish() throws {
        queue.sync {}
        try rethrow()
    }

    private func rethrow() throws {
        if let error = lock.withLock({ failure }) { throw error }
    }
}
