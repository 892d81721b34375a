package import AutoInterpLLM
import Foundation

/// The sparse simulator's records and answers: every token of a batch is numbered (1…N across
/// the batch), and the answer lists only the tokens expected to fire,
/// `{"fires": [[token number, activation 1-10], …]}`; every other token is 0.
///
/// The answer is a few pairs instead of a copy of every token, so it is cheap, short enough that
/// a weak model rarely gets lost, and easy to constrain with a JSON schema.
package enum SparseAnswer {
    /// The records as prompt text: `<excerpt N>` blocks with one `number<TAB>token` line per token.
    package static func records(_ records: [[String]]) -> String {
        var number = 0
        return records.enumerated().map { r, tokens in
            var lines = [RecordFormat.openTag(r + 1)]
            for token in tokens {
                number += 1
                lines.append("\(number)\t\(TokenText.display(token))")
            }
            lines.append(RecordFormat.closeTag)
            return lines.joined(separator: "\n")
        }.joined(separator: "\n\n")
    }

    /// The most pairs an answer may hold for `tokens` numbered tokens (a third of them, at least 8).
    package static func maxPairs(tokens: Int) -> Int { max(8, tokens / 3) }

    /// `max_tokens` for an answer over `tokens` numbered tokens: about 7 tokens a pair plus the frame.
    package static func maxTokens(tokens: Int) -> Int { 24 + 7 * maxPairs(tokens: tokens) }

    /// The JSON schema of the answer: an object with a list `fires` of `[number, activation]`
    /// pairs (whole numbers from 0 to the larger of `tokens` and 10), at most ``maxPairs(tokens:)``.
    package static func schema(tokens: Int) -> JSONSchemaValue {
        let n = max(1, tokens)
        let pair = JSONSchemaValue.array(items: .integer(minimum: 0, maximum: max(n, 10)), minItems: 2, maxItems: 2)
        return .object(properties: ["fires": .array(items: pair, maxItems: maxPairs(tokens: n))])
    }

    /// One outcome per record from an answer for `records` (numbered across the batch).
    ///
    /// A pair whose number is outside 1…N, whose activation is not a number in 0…10, or an answer
    /// that is not `{"fires": [...]}` makes every record of the batch `.failed` with the reason:
    /// a guess is never stored. A token named twice keeps its larger activation.
    package static func parse(_ content: String, records: [[String]]) -> [SimulationOutcome] {
        let all = { (reason: String) in [SimulationOutcome](repeating: .failed(reason: reason), count: records.count) }
        let text = SimulationParser.stripFence(content)
        guard !text.isEmpty else { return all("the simulator answered with empty text") }
        guard let value = try? JSONDecoder().decode(JSONValue.self, from: Data(text.utf8)) else {
            return all("the simulator's answer is not valid JSON: \(SimulationParser.preview(text))")
        }
        let pairs: [JSONValue]
        switch value {
        case .object(let object):
            guard let fires = object["fires"] else {
                return all("the simulator's answer has no \"fires\" list: \(SimulationParser.preview(text))")
            }
            guard case .array(let list) = fires else { return all("the simulator's \"fires\" is not a list of [number, activation] pairs") }
            pairs = list
        case .array(let list):
            pairs = list  // a bare list of pairs is read the same way
        default:
            return all("the simulator's answer is not {\"fires\": [[number, activation], ...]}: \(SimulationParser.preview(text))")
        }
        let total = records.reduce(0) { $0 + $1.count }
        var values = [Double](repeating: 0, count: total)
        for (i, element) in pairs.enumerated() {
            guard case .array(let pair) = element, pair.count == 2, case .number(let n) = pair[0], case .number(let a) = pair[1] else {
                return all("pair \(i + 1) of the simulator's answer is not [number, activation]")
            }
            guard n.isFinite, n == n.rounded(), n >= 1, n <= Double(total) else {
                return all("pair \(i + 1) names token \(SimulationParser.number(n)), but the tokens are numbered 1-\(total)")
            }
            guard a.isFinite, (0...10).contains(a) else {
                return all("pair \(i + 1) gives token \(Int(n)) the activation \(SimulationParser.number(a)), outside 0-10")
            }
            values[Int(n) - 1] = max(values[Int(n) - 1], a)
        }
        var start = 0
        return records.map { tokens in
            defer { start += tokens.count }
            return .predicted(Array(values[start..<(start + tokens.count)]))
        }
    }
}
