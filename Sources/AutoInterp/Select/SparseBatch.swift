/// One batch of a sparse source's activations, by unit row: each row's non-zeros in token order
/// (tokens counted from the batch's first), as ``UnitActivationSource/readSparse(contexts:)`` gives them.
struct SparseBatch {
    let contextLength: Int
    /// `rowCount + 1` offsets into `tokens` and `values`.
    var rowStart: [Int]
    var tokens: [Int32]
    var values: [Float]

    /// Runs one pass of `state` over `row`'s contexts: a context of zeros goes through the silent
    /// path, one holding values through the per-context code over its stored values only (the
    /// dense per-context code when a stored value is 0 or NaN or a token is stored twice).
    func observe(
        row: Int, pass: Int, state: inout UnitState, contexts: Range<Int>, selectable: [Bool], selectableCounts: [Int]
    ) {
        let length = contextLength
        var k = rowStart[row]
        let end = rowStart[row + 1]
        var positions: [Int] = []
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
                positions.removeAll(keepingCapacity: true)
                // Stored zeros, NaN or a token stored twice take the dense code (the max's order, the last write).
                var plain = true
                while k < end, Int(tokens[k]) < upper {
                    let p = Int(tokens[k]) - lower, v = values[k]
                    if v == 0 || v.isNaN || (k > first && tokens[k] == tokens[k - 1]) { plain = false }
                    dense[p] = v
                    positions.append(p)
                    k += 1
                }
                let count = selectableCounts[context]
                switch (pass, plain) {
                case (1, true): state.observeFirst(UnsafePointer(dense), context: context, positions: positions, selectable: selectable, selectableCount: count)
                case (1, false): state.observeFirst(UnsafePointer(dense), context: context, selectable: selectable)
                case (_, true):
                    state.observeSecond(UnsafePointer(dense), context: context, positions: positions, selectable: selectable, selectableCount: count)
                case (_, false): state.observeSecond(UnsafePointer(dense), context: context, selectable: selectable)
                }
                for j in first..<k { dense[Int(tokens[j]) - lower] = 0 }
            }
        }
    }
}
