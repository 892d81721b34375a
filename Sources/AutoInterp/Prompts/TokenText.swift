import Foundation

/// How token strings are written into prompts: one per line, escaped, and joined into readable text.
package enum TokenText {
    /// The token as shown on its own line: backslash, newline, carriage return and tab escaped
    /// (`\\`, `\n`, `\r`, `\t`), so every token is exactly one line and a tab can separate the value.
    package static func display(_ token: String) -> String {
        escapingScalars(token) { scalar in
            switch scalar {
            case "\\": "\\\\"
            case "\n": "\\n"
            case "\r": "\\r"
            case "\t": "\\t"
            default: nil
            }
        }
    }

    /// The form used to compare a token the model copied back with the token shown: the
    /// displayed form, trimmed of surrounding spaces (models often drop a leading space).
    package static func comparable(_ token: String) -> String {
        token.trimmingCharacters(in: .whitespaces)
    }

    /// The tokens as running text, the token at `marked` wrapped in `[[` `]]`.
    ///
    /// Word-piece conventions are followed: a leading `▁` or `Ġ` (or a leading space) starts a
    /// new word, `##` continues the previous one. Tokens of a vocabulary with none of these
    /// markers are separated by spaces.
    package static func join(_ tokens: [String], marked: Int? = nil) -> String {
        join(tokens, spans: marked.map { [$0] } ?? [], open: "[[", close: "]]")
    }

    /// The tokens as running text (as ``join(_:marked:)``), each run of consecutive positions in
    /// `highlighted` wrapped once in `<<` `>>` (the fuzzing scorer's highlighting).
    package static func join(_ tokens: [String], highlighted: Set<Int>) -> String {
        join(tokens, spans: highlighted, open: "<<", close: ">>")
    }

    /// Runs of highlighted positions are wrapped per word: a run never spans a space, so each
    /// `<<…>>` holds one word or word piece run.
    private static func join(_ tokens: [String], spans: Set<Int>, open: String, close: String) -> String {
        let markers = tokens.contains { $0.hasPrefix(" ") || $0.hasPrefix("▁") || $0.hasPrefix("Ġ") }
        var pieces: [(text: String, space: Bool)] = []
        for (i, raw) in tokens.enumerated() {
            var token = raw
            var space = !markers && i > 0
            if token.hasPrefix("##") {
                token.removeFirst(2)
                space = false
            } else if token.hasPrefix("▁") || token.hasPrefix("Ġ") {
                token.removeFirst()
                space = i > 0
            } else if token.hasPrefix(" ") {
                token.removeFirst()
                space = i > 0
            }
            pieces.append((token.replacingOccurrences(of: "\n", with: "\\n"), space))
        }
        var out = ""
        for (i, piece) in pieces.enumerated() {
            if piece.space { out += " " }
            let lit = spans.contains(i)
            if lit, !spans.contains(i - 1) || piece.space { out += open }
            out += piece.text
            if lit, !spans.contains(i + 1) || (i + 1 < pieces.count && pieces[i + 1].space) { out += close }
        }
        return out
    }
}
