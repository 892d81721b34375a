import Foundation

/// A large `Float` buffer for the encoder's per-batch matrices: 2 MiB-aligned and advised for
/// transparent huge pages, so that sgemm's writes across a `[tokens, d_sae]` matrix of hundreds of
/// megabytes take a few hundred page faults and TLB entries instead of tens of thousands.
///
/// The memory is not zeroed up front (the first write faults it in); the contents start undefined.
final class HugePageBuffer: @unchecked Sendable {
    let pointer: UnsafeMutablePointer<Float>
    let count: Int
    private let bytes: Int

    private static let hugePage = 2 << 20

    /// - Precondition: `count >= 0`. An allocation failure traps, as an `Array` of this size would.
    init(count: Int) {
        self.count = count
        let rounded = max(1, (count * MemoryLayout<Float>.stride + Self.hugePage - 1) / Self.hugePage) * Self.hugePage
        bytes = rounded
        var raw: UnsafeMutableRawPointer?
        guard posix_memalign(&raw, Self.hugePage, rounded) == 0, let raw else {
            fatalError("cannot allocate \(rounded) bytes for an encoder batch buffer (lower the batch tokens)")
        }
        // Only advice: where transparent huge pages are off, this is ordinary memory.
        _ = madvise(raw, rounded, MADV_HUGEPAGE)
        pointer = raw.bindMemory(to: Float.self, capacity: count)
    }

    deinit { free(UnsafeMutableRawPointer(pointer)) }
}
