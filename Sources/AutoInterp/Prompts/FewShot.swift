import Foundation

/// Few-shot examples built from our own data: the planted "number" concept of ``SyntheticDataset``.
///
/// A tiny synthetic dataset is generated in memory and the number feature (the planted
/// direction, as `SyntheticDataset.writeSAE` encodes it) is read off each token. The examples
/// go through the same formatting code as real records, so they always match the format the
/// templates describe.
public enum FewShot {
    /// The explanation the worked examples illustrate.
    public static let explanation = "number words"

    /// Worked excerpts: tokens and quantized (0-10) activations, the max taken over all of them.
    public static let records: [(tokens: [String], levels: [Int])] = makeRecords()

    /// The explainer's worked example (wrapped in `<example>` tags).
    public static var explainer: String {
        let body = RecordFormat.blocks(records.map(\.tokens), values: records.map(\.levels))
        return "<example>\nA worked example.\n\(body)\nExplanation: \(explanation)\n</example>\n"
    }

    /// The JSON simulator's worked example (wrapped in `<example>` tags).
    public static var simulatorJSON: String {
        let shown = Array(records.prefix(1))
        let answer = SimulatorAnswerFormat.json(tokens: shown.map(\.tokens), values: shown.map(\.levels))
        return "<example>\nA worked example.\nExplanation of the unit: \(explanation)\n\(RecordFormat.blocks(shown.map(\.tokens)))\nAnswer: \(answer)\n</example>\n"
    }

    /// The logprob simulator's worked example (wrapped in `<example>` tags).
    public static var simulatorLogprobs: String {
        let shown = Array(records.prefix(1))
        let answer = RecordFormat.blocks(shown.map(\.tokens), values: shown.map(\.levels))
        return "<example>\nA worked example.\nExplanation of the unit: \(explanation)\n\(RecordFormat.blocks(shown.map(\.tokens)))\nAnswer:\n\(answer)\n</example>\n"
    }

    private static func makeRecords() -> [(tokens: [String], levels: [Int])] {
        let width = 9, length = 9, contexts = 24, seed: UInt64 = 2024
        let concept = SyntheticDataset.concepts.firstIndex(of: "number")!
        let data = SyntheticDataset.generate(contexts: contexts, length: length, width: width, seed: seed)
        let direction = Array(SyntheticDataset.directions(width: width, seed: seed)[(concept * width)..<((concept + 1) * width)])
        let vocabulary = SyntheticDataset.vocabulary
        let specials = Set(SyntheticDataset.special)
        var candidates: [(tokens: [String], acts: [Float])] = []
        for c in 0..<contexts {
            var tokens: [String] = []
            var acts: [Float] = []
            for p in 0..<length where data.mask[c * length + p] == 1 {
                let word = vocabulary[Int(data.tokens[c * length + p])]
                guard !specials.contains(word) else { continue }
                let base = (c * length + p) * width
                var dot: Float = 0
                for n in 0..<width { dot += data.activations[base + n] * direction[n] }
                tokens.append(word)
                acts.append(max(0, dot - 0.5))  // the planted SAE's encoder bias
            }
            if tokens.count >= 5 { candidates.append((tokens, acts)) }
        }
        // Two excerpts with a number word, and one without: the answer shows zeros are normal.
        let firing = candidates.filter { ($0.acts.max() ?? 0) > 0 }.prefix(2)
        let silent = candidates.filter { ($0.acts.max() ?? 0) <= 0 }.prefix(1)
        let chosen = Array(firing) + Array(silent)
        let levels = Quantization.quantize(records: chosen.map(\.acts))
        return zip(chosen, levels).map { ($0.tokens, $1) }
    }
}
