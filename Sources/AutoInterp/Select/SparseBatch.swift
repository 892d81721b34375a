/// One batch of a sparse source's activations, by unit row: each row's non-zeros in token order
/// (tokens counted from the batch's first), as ``UnitActivationSource/readSparse(contexts:)`` gives them.
struct SparseBatch {
    let contextLength: Int
    /// `rowCount + 1` offsets into `tokens` and `values`.
    var rowStart: [Int]
    var tokens: [Int32]
    var values: [Float]

    /// Runs one pass of `state` over `row`'s contexts: a context holding a non-zero goes through the
    /// dense per-context code on its values written out, a context of zeros through the silent path.
    func observe(
        row: Int, pass: Int, state: inout UnitState, contexts: Range<Int>, selectable: [Bool], selectableCounts: [Int]
    ) {
        let length = contextLength
        var k = rowStart[row]
        let end = rowStart[row + 1]
        withUnsafeTemporaryAllocation(of: Float.self, capacity: length) { scratch in
            let dense = scratch.baseAddress!
            dense.initialize(repeating: 0, count: length)
            for (i, context) in contexts.enumerated() {
                let lower = i * length, upper = lower + length
                guard k < end, Int(tokens[k]) < upper else {
                    if pass == 1 {
                        state.observeFirstSilent(selectableCount: selectableCounts[context])
                    } else {
                        state.observeSecondSilent(context: context, selectableCount: selectableCounts[context])
                    }
                    continue
                }
                let first = k
                while k < end, Int(tokens[k]) < upper {
                    dense[Int(tokens[k]) - lower] = values[k]
                    k += 1
                }
                if pass == 1 {
                    state.observeFirst(UnsafePointer(dense), context: context, selectable: selectable)
                } else {
                    state.observeSecond(UnsafePointer(dense), context: context, selectable: selectable)
                }
                for j in first..<k { dense[Int(tokens[j]) - lower] = 0 }
            }
        }
    }
}
