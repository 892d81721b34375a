import Foundation

/// The records part of the explainer prompt, in one of two formats chosen by the template's placeholder:
///
/// - `{{excerpts}}` (the default template): each excerpt as one line of text with the firing tokens
///   between `<<` `>>`, then only those tokens, one per line with their level (zeros left out);
/// - `{{records}}` (templates written before it): every token on its own line with its level,
///   plus (`{{sparse}}`) the non-zero lines repeated alone when activations are sparse.
///
/// Levels are `Quantization` levels 0...10 with `M` the largest activation over all examples shown.
package enum ExplainerPrompt {
    /// Activations are *sparse* when at most this share of the tokens shown has a non-zero level;
    /// then the non-zero lines are repeated on their own so they are not lost among the zeros.
    package static let sparseShare = 0.2

    /// The placeholder values for `examples`: `records`, `sparse` and `excerpts`.
    package static func values(for examples: [ExampleRecord]) -> [String: String] {
        let levels = Quantization.quantize(records: examples.map(\.activations))
        let (records, sparse) = sections(examples, levels: levels)
        return ["records": records, "sparse": sparse, "excerpts": excerpts(examples, levels: levels)]
    }

    /// The `{{records}}` and `{{sparse}}` values for `examples`.
    package static func sections(for examples: [ExampleRecord]) -> (records: String, sparse: String) {
        sections(examples, levels: Quantization.quantize(records: examples.map(\.activations)))
    }

    /// The `{{excerpts}}` value for `examples`: per excerpt its text with the firing tokens marked,
    /// then the firing tokens with their levels, e.g.
    /// ```
    /// <excerpt 1>
    /// the <<cat>> sat
    ///  cat<TAB>10
    /// </excerpt>
    /// ```
    /// An excerpt where nothing fired is its text alone. About one prompt token per token shown
    /// instead of three or four for the one-line-per-token records.
    package static func excerpts(for examples: [ExampleRecord]) -> String {
        excerpts(examples, levels: Quantization.quantize(records: examples.map(\.activations)))
    }

    private static func excerpts(_ examples: [ExampleRecord], levels: [[Int]]) -> String {
        examples.enumerated().map { i, example in
            let firing = levels[i].indices.filter { levels[i][$0] > 0 }
            let text = TokenText.join(example.tokens, highlighted: Set(firing))
                .replacingOccurrences(of: "\n", with: "\\n").replacingOccurrences(of: "\t", with: "\\t")
            var lines = [RecordFormat.openTag(i + 1), text]
            lines += firing.map { "\(TokenText.display(example.tokens[$0]))\t\(levels[i][$0])" }
            lines.append(RecordFormat.closeTag)
            return lines.joined(separator: "\n")
        }.joined(separator: "\n\n")
    }

    private static func sections(_ examples: [ExampleRecord], levels: [[Int]]) -> (records: String, sparse: String) {
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
