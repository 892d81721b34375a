import Synchronization

/// The bootstrap intervals a process has computed, by their inputs: a run's summary, its HTML
/// and Markdown reports and `compare` ask for the same intervals of the same scores, and each
/// costs 2,000 resamples over the units. The functions are pure and seeded, so a remembered
/// interval is exactly the one a new computation would give. Bounded by the values the keys hold
/// (about 32 MB); when full it starts over.
extension Bootstrap {
    struct MemoKey: Hashable {
        var operation: UInt8
        var resamples: Int
        var confidence: UInt64
        var seed: UInt64
        var first: [UInt64]
        var second: [UInt64]
        var thresholds: [UInt64]

        var size: Int { first.count + second.count + thresholds.count }
    }

    private struct Memo {
        var intervals: [MemoKey: [ConfidenceInterval?]] = [:]
        var size = 0
    }

    private static let memo = Mutex(Memo())
    /// Values (`Double`s) the remembered keys may hold in all.
    static let memoCapacity = 4 << 20

    /// `compute()`, or its remembered result for the same operation, parameters and inputs.
    func memoized(
        _ operation: UInt8, _ first: [Double], _ second: [Double] = [], thresholds: [Double] = [],
        _ compute: () -> [ConfidenceInterval?]
    ) -> [ConfidenceInterval?] {
        let key = MemoKey(
            operation: operation, resamples: resamples, confidence: confidence.bitPattern, seed: seed,
            first: first.map(\.bitPattern), second: second.map(\.bitPattern), thresholds: thresholds.map(\.bitPattern))
        guard key.size <= Self.memoCapacity / 8 else { return compute() }
        if let known = Self.memo.withLock({ $0.intervals[key] }) { return known }
        let intervals = compute()
        Self.memo.withLock { memo in
            if memo.size + key.size > Self.memoCapacity { memo = Memo() }
            if memo.intervals.updateValue(intervals, forKey: key) == nil { memo.size += key.size }
        }
        return intervals
    }
}
