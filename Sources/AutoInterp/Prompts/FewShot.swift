import Foundation

/// The worked examples of the explainer and the dense simulators: "units of time", a concept
/// the built-in example dataset (``SyntheticDataset``) does not plant, so a model that copies
/// the worked answer gains nothing on it and is caught (``ExplanationCheck``).
///
/// The excerpts go through the same formatting code as real records, so they always match the
/// format the templates describe.
public enum FewShot {
    /// The explanation the worked examples illustrate.
    public static let explanation = "units of time"

    /// Worked excerpts: tokens and quantized (0-10) activations. Two fire, one is silent (zeros are normal).
    public static let records: [(tokens: [String], levels: [Int])] = [
        ([
            "We", " waited", " an", " hour", " and", " a", " few", " minutes", " for", " the", " bus",
        ], [0, 0, 0, 10, 0, 0, 1, 9, 0, 0, 0]),
        (["Every", " week", ",", " the", " shop", " closes", " early", " on", " Friday"], [0, 8, 0, 0, 0, 0, 0, 0, 3]),
        (["The", " old", " bridge", " is", " made", " of", " stone"], [0, 0, 0, 0, 0, 0, 0]),
    ]

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
}
