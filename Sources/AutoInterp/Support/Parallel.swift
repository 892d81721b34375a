import Foundation

/// Wraps a value the compiler cannot prove Sendable when the caller guarantees safe use.
struct UncheckedSendable<Value>: @unchecked Sendable {
    let value: Value
}

/// Parallel loops for CPU-bound work over disjoint data.
package enum Parallel {
    /// Calls `body(i)` for `i` in `0..<iterations` across cores and returns when all are done.
    ///
    /// The caller guarantees the iterations touch disjoint memory.
    package static func forEach(_ iterations: Int, _ body: (Int) -> Void) {
        guard iterations > 1 else {
            if iterations == 1 { body(0) }
            return
        }
        withoutActuallyEscaping(body) { body in
            let box = UncheckedSendable(value: body)
            DispatchQueue.concurrentPerform(iterations: iterations) { box.value($0) }
        }
    }

    /// Splits `0..<count` into at most `parts` contiguous ranges of near-equal size
    /// (`count * part / parts` boundaries) and runs `body(range, part)` in parallel.
    ///
    /// The split depends only on `count` and `parts`, so per-part partial sums are reproducible.
    package static func chunks(_ count: Int, parts: Int = ProcessInfo.processInfo.activeProcessorCount, _ body: (Range<Int>, Int) -> Void) {
        guard count > 0 else { return }
        let parts = max(1, min(parts, count))
        forEach(parts) { part in
            body((count * part / parts)..<(count * (part + 1) / parts), part)
        }
    }
}
