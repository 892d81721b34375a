import Foundation

/// A fixed-size, zero-initialised block of `Float` owned by a class, for the trainer's hot loops.
///
/// The trainer passes raw pointers into BLAS and into parallel chunks that write disjoint ranges,
/// so the buffer is `@unchecked Sendable`: callers guarantee that concurrent writers never overlap.
final class FloatBuffer: @unchecked Sendable {
    let count: Int
    let pointer: UnsafeMutablePointer<Float>

    init(_ count: Int, value: Float = 0) {
        self.count = count
        pointer = .allocate(capacity: max(count, 1))
        pointer.initialize(repeating: value, count: max(count, 1))
    }

    init(copying values: [Float]) {
        count = values.count
        pointer = .allocate(capacity: max(count, 1))
        pointer.initialize(repeating: 0, count: max(count, 1))
        values.withUnsafeBufferPointer { source in
            if let base = source.baseAddress { pointer.update(from: base, count: count) }
        }
    }

    deinit { pointer.deallocate() }

    /// Sets every element to `value`.
    func fill(_ value: Float) { pointer.update(repeating: value, count: count) }

    /// A copy of the contents as an array.
    var array: [Float] { Array(UnsafeBufferPointer(start: pointer, count: count)) }

    subscript(index: Int) -> Float {
        get { pointer[index] }
        set { pointer[index] = newValue }
    }
}

/// A pointer shared with the closures of `Parallel.chunks`; writers must touch disjoint ranges.
struct SharedPointer<Element>: @unchecked Sendable {
    let base: UnsafeMutablePointer<Element>
    init(_ base: UnsafeMutablePointer<Element>) { self.base = base }
    subscript(index: Int) -> Element {
        get { base[index] }
        nonmutating set { base[index] = newValue }
    }
}

/// A fixed-size block of `Int32` (indices, counts) for the trainer's sparse bookkeeping.
final class Int32Buffer: @unchecked Sendable {
    private(set) var count: Int
    private(set) var pointer: UnsafeMutablePointer<Int32>

    init(_ count: Int) {
        self.count = count
        pointer = .allocate(capacity: max(count, 1))
        pointer.initialize(repeating: 0, count: max(count, 1))
    }

    deinit { pointer.deallocate() }

    /// Grows the buffer to hold at least `needed` elements (contents are not kept).
    func reserve(_ needed: Int) {
        guard needed > count else { return }
        pointer.deallocate()
        count = max(needed, count * 3 / 2)
        pointer = .allocate(capacity: count)
        pointer.initialize(repeating: 0, count: count)
    }
}

