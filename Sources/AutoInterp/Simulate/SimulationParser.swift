package import AutoInterpLLM
import Foundation

/// Reads simulator answers strictly: anything that does not line up with the records shown is a
/// failure with a reason, never a guess.
package enum SimulationParser {
    // MARK: - JSON answers

    /// Outcomes of a JSON answer for `records`.
    ///
    /// The answer must be one JSON object (a surrounding Markdown code fence is tolerated) whose
    /// keys are exactly `"1"` … `"k"`; each maps to an array with one `[token, value]` pair per
    /// token, the token equal to the one shown (``TokenText/comparable(_:)``) and the value a
    /// finite number in 0...10. A reply that is not such an object fails every record; a record
    /// whose array is wrong fails alone.
    package static func parseJSON(_ content: String, records: [[String]]) -> [SimulationOutcome] {
        let all = { (reason: String) in [SimulationOutcome](repeating: .failed(reason: reason), count: records.count) }
        let text = stripFence(content)
        guard !text.isEmpty else { return all("the simulator answered with empty text") }
        guard let object = try? JSONDecoder().decode(JSONValue.self, from: Data(text.utf8)) else {
            return all("the simulator's answer is not valid JSON: \(preview(text))")
        }
        guard case .object(let dictionary) = object else {
            return all("the simulator's JSON answer is not an object keyed by excerpt number: \(preview(text))")
        }
        let expected = Set((1...max(1, records.count)).map(String.init))
        if let extra = dictionary.keys.sorted().first(where: { !expected.contains($0) }) {
            return all("the simulator's JSON answer has an unexpected key \"\(extra.prefix(20))\" (expected 1...\(records.count))")
        }
        return records.enumerated().map { r, tokens in
            guard let value = dictionary[String(r + 1)] else { return .failed(reason: "excerpt \(r + 1) is missing from the JSON answer") }
            return parseJSONRecord(value, tokens: tokens, number: r + 1)
        }
    }

    private static func parseJSONRecord(_ value: JSONValue, tokens: [String], number: Int) -> SimulationOutcome {
        guard case .array(let pairs) = value else { return .failed(reason: "excerpt \(number) is not a list of [token, value] pairs") }
        guard pairs.count == tokens.count else {
            return .failed(reason: "excerpt \(number) has \(pairs.count) values for \(tokens.count) tokens (wrong length)")
        }
        var values: [Double] = []
        values.reserveCapacity(tokens.count)
        for (i, element) in pairs.enumerated() {
            guard case .array(let pair) = element, pair.count == 2, case .string(let token) = pair[0] else {
                return .failed(reason: "excerpt \(number), token \(i + 1): expected a [token, value] pair")
            }
            let shown = TokenText.display(tokens[i])
            guard TokenText.comparable(token) == TokenText.comparable(shown) else {
                return .failed(reason: "excerpt \(number), token \(i + 1): misaligned (answer has \(SimulatorAnswerFormat.quoted(String(token.prefix(20)))), expected \(SimulatorAnswerFormat.quoted(String(shown.prefix(20)))))")
            }
            guard case .number(let x) = pair[1] else {
                return .failed(reason: "excerpt \(number), token \(i + 1): the value is not a number")
            }
            guard x.isFinite, (0...10).contains(x) else {
                return .failed(reason: "excerpt \(number), token \(i + 1): value \(x) is outside 0-10")
            }
            values.append(x)
        }
        return .predicted(values)
    }

    // MARK: - Logprob answers

    /// Outcomes of a logprob answer for `records`.
    ///
    /// The text is rebuilt from the answer's tokens and read as excerpt blocks
    /// (``RecordFormat``) of `token<TAB>value` lines; lines outside blocks are ignored. At each
    /// value the answer token that starts there gives the prediction: the expected value over its
    /// top logprobs, renormalised over the exact digit tokens "0"…"10"
    /// (``LogprobExpectation``). A record fails when its block is missing or repeated, has the
    /// wrong number of lines, a line without a value, a token other than the one shown, or a
    /// value position with no digit among the top logprobs.
    package static func parseLogprobs(_ logprobs: [ChatCompletionResponse.TokenLogprob]?, records: [[String]]) -> [SimulationOutcome] {
        let all = { (reason: String) in [SimulationOutcome](repeating: .failed(reason: reason), count: records.count) }
        guard let logprobs, !logprobs.isEmpty else { return all("the simulator's answer carried no logprobs (does the endpoint support them? try the json simulator mode)") }
        var text = ""
        var starts: [Int: Int] = [:]  // UTF-8 offset → answer token index
        var offset = 0
        for (i, entry) in logprobs.enumerated() {
            if starts[offset] == nil { starts[offset] = i }
            text += entry.token
            offset += entry.token.utf8.count
        }
        // Blocks: number → lines (text, UTF-8 offset of the line start).
        var blocks: [Int: [(Substring, Int)]] = [:]
        var repeated: Set<Int> = []
        var current: Int?
        var lineStart = 0
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            defer { lineStart += line.utf8.count + 1 }
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            if let number = RecordFormat.openTagNumber(line) {
                if blocks[number] != nil { repeated.insert(number) }
                blocks[number] = []
                current = number
            } else if trimmed == RecordFormat.closeTag {
                current = nil
            } else if let number = current {
                blocks[number]?.append((line, lineStart))
            }
        }
        return records.enumerated().map { r, tokens in
            let number = r + 1
            guard var lines = blocks[number] else { return .failed(reason: "excerpt \(number) is missing from the answer") }
            guard !repeated.contains(number) else { return .failed(reason: "excerpt \(number) appears more than once in the answer") }
            // A trailing empty line before the close tag is harmless.
            while let last = lines.last, last.0.trimmingCharacters(in: .whitespaces).isEmpty, lines.count > tokens.count { lines.removeLast() }
            guard lines.count == tokens.count else {
                return .failed(reason: "excerpt \(number) has \(lines.count) token lines for \(tokens.count) tokens (wrong length)")
            }
            var values: [Double] = []
            for (i, (line, start)) in lines.enumerated() {
                guard let tab = line.lastIndex(of: "\t") else {
                    return .failed(reason: "excerpt \(number), token \(i + 1): the line has no tab and value")
                }
                let token = line[..<tab]
                let shown = TokenText.display(tokens[i])
                guard TokenText.comparable(String(token)) == TokenText.comparable(shown) else {
                    return .failed(reason: "excerpt \(number), token \(i + 1): misaligned (answer has \(SimulatorAnswerFormat.quoted(String(token.prefix(20)))), expected \(SimulatorAnswerFormat.quoted(String(shown.prefix(20)))))")
                }
                var valueOffset = start + token.utf8.count + 1
                // Skip spaces between the tab and the value.
                var rest = line[line.index(after: tab)...]
                while rest.first == " " {
                    rest = rest.dropFirst()
                    valueOffset += 1
                }
                guard let index = starts[valueOffset] else {
                    return .failed(reason: "excerpt \(number), token \(i + 1): the value is not a separate answer token, so it has no logprobs")
                }
                let entry = logprobs[index]
                let alternatives = entry.topLogprobs.isEmpty
                    ? [ChatCompletionResponse.TopLogprob(token: entry.token, logprob: entry.logprob)]
                    : entry.topLogprobs
                // A value written over two tokens ("1", "0" for 10): read the next position too.
                let next = index + 1 < logprobs.count && LogprobExpectation.digitValue(entry.token) == 1 ? logprobs[index + 1] : nil
                let continuation = next.map { $0.topLogprobs.isEmpty ? [ChatCompletionResponse.TopLogprob(token: $0.token, logprob: $0.logprob)] : $0.topLogprobs }
                guard let expected = LogprobExpectation.expectedValue(alternatives, continuation: continuation) else {
                    return .failed(reason: "excerpt \(number), token \(i + 1): no digit token 0-10 among the top logprobs (no prediction)")
                }
                values.append(expected)
            }
            return .predicted(values)
        }
    }

    // MARK: - Helpers

    /// The text inside a Markdown code fence wrapping the whole answer, else the trimmed answer.
    static func stripFence(_ content: String) -> String {
        var text = content.trimmingCharacters(in: .whitespacesAndNewlines)
        guard text.hasPrefix("```"), text.hasSuffix("```"), text.count >= 6 else { return text }
        text = String(text.dropFirst(3).dropLast(3))
        if let newline = text.firstIndex(of: "\n") {
            let label = text[..<newline].trimmingCharacters(in: .whitespaces)
            if label.allSatisfy({ $0.isLetter }) { text = String(text[text.index(after: newline)...]) }
        }
        return text.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// A number as written in a message: whole numbers without a fraction.
    static func number(_ x: Double) -> String {
        x.isFinite && x == x.rounded() && abs(x) < 1e15 ? String(Int(x)) : String(x)
    }

    static func preview(_ text: String) -> String {
        let flat = text.replacingOccurrences(of: "\n", with: " ")
        return flat.count > 60 ? String(flat.prefix(60)) + "…" : flat
    }
}
