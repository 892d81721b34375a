import AutoInterpLLM
import Foundation

/// Reads a batched answer of the shape `{"<key>": [item, …]}` (or a bare list) with exactly one
/// item per question: what the judge (`ratings`) and the classification scorers (`answers`) share.
enum ListAnswer {
    /// Who answered and what is counted, for the failure messages.
    struct Words {
        /// `scorer`, `judge`.
        var speaker: String
        /// `answers`, `ratings`.
        var items: String
        /// `examples`, `excerpts`.
        var questions: String
    }

    /// The items of `content` under `key` for `count` questions, each read by `item` (given its
    /// 1-based position), or why the answer cannot be read.
    static func parse(
        _ content: String, key: String, count: Int, words: Words, item: (Int, JSONValue) -> Result<Int, StageFailure>
    ) -> Result<[Int], StageFailure> {
        let text = SimulationParser.stripFence(content)
        guard !text.isEmpty else { return .failure(StageFailure("the \(words.speaker) answered with empty text")) }
        guard let value = try? JSONDecoder().decode(JSONValue.self, from: Data(text.utf8)) else {
            return .failure(StageFailure("the \(words.speaker)'s answer is not valid JSON: \(SimulationParser.preview(text))"))
        }
        let list: [JSONValue]
        switch value {
        case .object(let object):
            guard case .array(let items)? = object[key] else {
                return .failure(StageFailure("the \(words.speaker)'s answer has no \"\(key)\" list: \(SimulationParser.preview(text))"))
            }
            list = items
        case .array(let items): list = items
        default:
            return .failure(StageFailure("the \(words.speaker)'s answer is not {\"\(key)\": [...]}: \(SimulationParser.preview(text))"))
        }
        guard list.count == count else {
            return .failure(StageFailure("the \(words.speaker) gave \(list.count) \(words.items) for \(count) \(words.questions)"))
        }
        var values: [Int] = []
        for (i, element) in list.enumerated() {
            switch item(i + 1, element) {
            case .success(let value): values.append(value)
            case .failure(let failure): return .failure(failure)
            }
        }
        return .success(values)
    }
}
