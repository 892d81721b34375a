/// A growable CSR block: row pointers relative to the block, column indices and values.
public struct SparseRows: Sendable {
    /// `rows + 1` offsets into `indices`/`values`; `indptr[0] == 0`.
    public var indptr: [Int64] = [0]
    public var indices: [Int32] = []
    public var values: [Float] = []

    public init() {}

    public var rowCount: Int { indptr.count - 1 }
    public var nonZeroCount: Int { indices.count }

    /// Empties the block, keeping its storage for reuse.
    public mutating func removeAll() {
        indptr.removeAll(keepingCapacity: true)
        indptr.append(0)
        indices.removeAll(keepingCapacity: true)
        values.removeAll(keepingCapacity: true)
    }

    /// Appends another block's rows after this one's.
    public mutating func append(contentsOf other: SparseRows) {
        let base = Int64(indices.count)
        indptr.append(contentsOf: other.indptr.dropFirst().map { $0 + base })
        indices.append(contentsOf: other.indices)
        values.append(contentsOf: other.values)
    }

    /// Row `row` as dense `[width]` values.
    public func dense(row: Int, width: Int) -> [Float] {
        var out = [Float](repeating: 0, count: width)
        for i in Int(indptr[row])..<Int(indptr[row + 1]) { out[Int(indices[i])] = values[i] }
        return out
    }
}
