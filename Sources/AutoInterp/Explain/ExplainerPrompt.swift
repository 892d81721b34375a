import Foundation

/// The records part of the explainer prompt: (token, quantized activation) lines, plus the
/// non-zero lines repeated alone when activations are sparse.
package enum ExplainerPrompt {
    /// Activations are *sparse* when at most this share of the tokens shown has a non-zero level;
    /// then the non-zero lines are repeated on their own so they are not lost among the zeros.
    package static let sparseShare = 0.2

    /// The `{{records}}` and `{{sparse}}` values for `examples`.
    ///
    /// Levels are `Quantization` levels 0...10 with `M` the largest activation over all examples shown.
    package static func sections(for examples: [ExampleRecord]) -> (records: String, sparse: String) {
        let levels = Quantization.quantize(records: examples.map(\.activations))
        let records = RecordFormat.blocks(examples.map(\.tokens), values: levels)
        let total = levels.reduce(0) { $0 + $1.count }
        let nonZero = levels.reduce(0) { $0 + $1.count { $0 > 0 } }
        guard total > 0, nonZero > 0, Double(nonZero) <= sparseShare * Double(total) else { return (records, "") }
        var blocks: [String] = []
        for (i, example) in examples.enumerated() {
            let kept = levels[i].indices.filter { levels[i][$0] > 0 }
            guard !kept.isEmpty else { continue }
            blocks.append(RecordFormat.block(number: i + 1, tokens: kept.map { example.tokens[$0] }, values: kept.map { levels[i][$0] }))
        }
        let sparse = "\nThe same excerpts again, with only the tokens whose number is not 0:\n" + blocks.joined(separator: "\n\n") + "\n"
        return (records, sparse)
    }
}
