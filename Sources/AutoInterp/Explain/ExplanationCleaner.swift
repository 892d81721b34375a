import Foundation

/// Turns an explainer's raw answer into the stored explanation.
///
/// Takes the first non-empty line after any `Explanation:` label, drops an echoed prefix
/// ("This unit fires on", "the feature activates on", …), surrounding quotes and a trailing
/// period, and caps the length at ``maxLength`` characters (cut at a word boundary). Control
/// characters (NUL, ESC and the terminal escape codes it starts) are stripped, not refused.
package enum ExplanationCleaner {
    /// The longest explanation kept, in characters.
    package static let maxLength = 120

    private static let echoes = [
        "explanation of this neuron", "explanation of the neuron", "explanation of this unit", "explanation of the unit", "explanation",
    ]
    private static let subjects = ["this neuron", "the neuron", "this unit", "the unit", "this feature", "the feature", "it"]
    private static let verbs = [
        "fires on", "fires for", "fires when it sees", "activates on", "activates for", "responds to", "detects", "is active on",
        "looks for", "is about", "represents",
    ]

    /// The cleaned explanation, or nil when nothing usable is left.
    package static func clean(_ raw: String) -> String? {
        // Control characters (NUL, terminal escapes) never reach the database, a CSV or a terminal.
        var text = ControlCharacters.stripped(raw.replacingOccurrences(of: "\r", with: ""))
        // The labelled line wins; otherwise the first non-empty line.
        let lines = text.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        if let labelled = lines.last(where: { $0.lowercased().hasPrefix("explanation") && $0.contains(":") }) {
            text = labelled
        } else {
            text = lines.first ?? ""
        }
        text = stripLabel(text)
        text = stripDecoration(text)
        text = stripEcho(text)
        text = stripDecoration(text)
        while let last = text.last, last == "." || last == " " { text.removeLast() }
        if text.count > maxLength {
            let cut = text.prefix(maxLength)
            text = cut.lastIndex(of: " ").map { String(cut[..<$0]) } ?? String(cut)
            while let last = text.last, ",;:.- ".contains(last) { text.removeLast() }
        }
        return text.isEmpty ? nil : text
    }

    /// `line` without an `Explanation:` label and surrounding decoration (for length checks).
    static func stripped(_ line: String) -> String { stripDecoration(stripLabel(line)) }

    private static func stripLabel(_ text: String) -> String {
        let lower = text.lowercased()
        for echo in echoes where lower.hasPrefix(echo) {
            let rest = text.dropFirst(echo.count).trimmingCharacters(in: .whitespaces)
            if rest.hasPrefix(":") { return String(rest.dropFirst()).trimmingCharacters(in: .whitespaces) }
        }
        return text
    }

    private static func stripEcho(_ text: String) -> String {
        let lower = text.lowercased()
        for subject in subjects where lower.hasPrefix(subject + " ") {
            let afterSubject = lower.dropFirst(subject.count + 1)
            for verb in verbs where afterSubject.hasPrefix(verb + " ") {
                return String(text.dropFirst(subject.count + 1 + verb.count + 1)).trimmingCharacters(in: .whitespaces)
            }
        }
        for verb in verbs where lower.hasPrefix(verb + " ") {
            return String(text.dropFirst(verb.count + 1)).trimmingCharacters(in: .whitespaces)
        }
        return text
    }

    private static func stripDecoration(_ text: String) -> String {
        var text = text.trimmingCharacters(in: .whitespaces)
        let pairs: [(Character, Character)] = [("\"", "\""), ("'", "'"), ("“", "”"), ("`", "`"), ("*", "*")]
        var changed = true
        while changed, text.count >= 2 {
            changed = false
            for (open, close) in pairs where text.first == open && text.last == close {
                text = String(text.dropFirst().dropLast()).trimmingCharacters(in: .whitespaces)
                changed = true
            }
            if text.hasSuffix("\".") || text.hasSuffix("”.") , text.first == "\"" || text.first == "“" {
                text = String(text.dropFirst().dropLast(2))
                changed = true
            }
        }
        return text
    }
}
