import Foundation

/// The JSON answer shape of the JSON simulator: `{"1": [["the", 0], ["cat", 9]], "2": [...]}`.
package enum SimulatorAnswerFormat {
    /// An answer in the expected shape (used for the few-shot example and by test endpoints).
    package static func json(tokens: [[String]], values: [[Int]]) -> String {
        let records = tokens.enumerated().map { r, record in
            let pairs = record.enumerated().map { i, token in "[\(quoted(TokenText.display(token))), \(values[r][i])]" }
            return "\"\(r + 1)\": [\(pairs.joined(separator: ", "))]"
        }
        return "{" + records.joined(separator: ", ") + "}"
    }

    /// The `{{answer_shape}}` hint for `count` records.
    package static func shape(records count: Int) -> String {
        let keys = (1...max(1, count)).map { "\"\($0)\": [[token, value], ...]" }
        return "{" + keys.joined(separator: ", ") + "}"
    }

    /// A JSON string literal.
    package static func quoted(_ text: String) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.withoutEscapingSlashes]
        return (try? String(decoding: encoder.encode(text), as: UTF8.self)) ?? "\"\""
    }
}
