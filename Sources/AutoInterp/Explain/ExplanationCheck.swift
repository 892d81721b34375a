import Foundation

/// Refuses answers that are not explanations: a copy of a line of the prompt or of the worked
/// example's explanation, an empty answer, one over the length limit, a cut-off one, or one that is
/// plainly not a description (an HTML page, a refusal, `null`, JSON, a URL, a formula, a server
/// banner: ``notADescription(_:raw:)``).
///
/// Checked on the cleaned text (``ExplanationCleaner``) against the prompt that was sent, so a
/// server that echoes its input, or a weak model that repeats the few-shot answer, gets a
/// failed explanation with that reason instead of a stored one.
package enum ExplanationCheck {
    /// Why `text` (the cleaned explanation) cannot be kept, or nil when it can.
    ///
    /// - Parameters:
    ///   - raw: the answer as received (its length decides "too long").
    ///   - prompt: the messages sent; a whole line of any of them repeated is an echo.
    ///   - examples: explanations shown as worked examples; repeating one is an echo.
    package static func problem(text: String?, raw: String, prompt: [String], examples: [String], maxLength: Int = ExplanationCleaner.maxLength) -> String? {
        guard let text, !text.isEmpty else {
            return raw.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty
                ? "the explainer answered with empty text" : "the explainer's answer held no explanation: \(SimulationParser.preview(raw))"
        }
        if let problem = notADescription(text, raw: raw) { return problem }
        let answerLine = raw.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }.first { !$0.isEmpty } ?? ""
        // At the limit is over it: a schema-bounded answer that ran on is cut exactly there.
        if ExplanationCleaner.stripped(answerLine).count >= maxLength {
            return "the explainer's answer is \(maxLength) characters or longer: \(SimulationParser.preview(raw))"
        }
        let key = normalized(text)
        if examples.contains(where: { normalized($0) == key }) {
            return "the explainer repeated the worked example's explanation (\"\(text)\")"
        }
        let lines = Set(prompt.flatMap { $0.split(separator: "\n").map { normalized(String($0)) } }.filter { !$0.isEmpty })
        // A whole line of the prompt, or (for 4 words or more) the start of one, or an answer
        // that starts with one: what an echoing server or a looping model sends back.
        let words = key.split(separator: " ")
        let opening = words.prefix(6).joined(separator: " ")
        let echoes = lines.contains(key) || words.count >= 4 && lines.contains { line in
            line.hasPrefix(key) || (line.split(separator: " ").count >= 4 && key.hasPrefix(line))
                || (words.count >= 6 && line.hasPrefix(opening))
        }
        if echoes {
            return "the explainer repeated a line of the prompt (\"\(SimulationParser.preview(text))\")"
        }
        if let repeated = repeatedSentence(key) {
            return "the explainer's answer repeats itself (\"\(repeated)\" twice)"
        }
        return nil
    }

    /// A sentence of three words or more that occurs twice in `normalized` text (a looping model).
    static func repeatedSentence(_ normalized: String) -> String? {
        let words = normalized.split(separator: " ").map(String.init)
        guard words.count >= 6 else { return nil }
        var seen: Set<String> = []
        for start in 0...(words.count - 3) {
            let phrase = words[start..<(start + 3)].joined(separator: " ")
            if seen.contains(phrase), words.count >= 8 { return phrase }
            seen.insert(phrase)
        }
        return nil
    }

    /// Lower case, letters and digits only, single spaces: how two texts are compared.
    static func normalized(_ text: String) -> String {
        text.lowercased().unicodeScalars.map { CharacterSet.alphanumerics.contains($0) ? String($0) : " " }.joined()
            .split(separator: " ").joined(separator: " ")
    }
}
