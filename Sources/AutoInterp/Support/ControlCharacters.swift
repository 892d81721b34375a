/// Control characters (C0 but tab and newline, DEL, C1: NUL, ESC and the terminal escape codes
/// they start) taken out of text that came from outside (an LLM answer, a config value) before it
/// reaches a terminal line, a CSV/JSONL export or the database.
package enum ControlCharacters {
    /// Whether `scalar` is a control character that is removed (tab and newline are kept).
    package static func isRemoved(_ scalar: Unicode.Scalar) -> Bool {
        let v = scalar.value
        return (v < 0x20 && v != 0x09 && v != 0x0A) || (0x7F...0x9F).contains(v)
    }

    /// `text` without its control characters; a terminal escape sequence (`ESC [ 31 m`, `ESC ] … BEL`)
    /// goes whole, not only its ESC.
    ///
    /// - Parameter keepingCR: keep carriage returns (a CSV cell, quoted, may hold one).
    package static func stripped(_ text: String, keepingCR: Bool = false) -> String { filtered(text, oneLine: false, keepingCR: keepingCR) }

    /// `text` on one line: newlines, tabs and carriage returns as spaces, control characters removed.
    package static func oneLine(_ text: String) -> String { filtered(text, oneLine: true, keepingCR: false) }

    private static func filtered(_ text: String, oneLine: Bool, keepingCR: Bool) -> String {
        let scalars = Array(text.unicodeScalars)
        guard scalars.contains(where: { isRemoved($0) || oneLine && ($0 == "\n" || $0 == "\t") }) else { return text }
        var out = String.UnicodeScalarView()
        var i = 0
        while i < scalars.count {
            let s = scalars[i]
            i += 1
            if s.value == 0x1B, i < scalars.count {
                if scalars[i] == "[" {  // CSI: parameters and intermediates, then one final byte 0x40...0x7E
                    i += 1
                    while i < scalars.count, !(0x40...0x7E).contains(scalars[i].value) { i += 1 }
                    i += 1
                } else if scalars[i] == "]" {  // OSC: up to BEL or ESC \
                    while i < scalars.count, scalars[i].value != 0x07, scalars[i].value != 0x1B { i += 1 }
                    i += 1
                    if i < scalars.count, scalars[i - 1].value == 0x1B, scalars[i] == "\\" { i += 1 }
                } else {
                    i += 1  // a two-character escape (ESC c, ESC 7, …)
                }
                continue
            }
            if oneLine, s == "\n" || s == "\t" || s == "\r" {
                out.append(" ")
            } else if !isRemoved(s) || keepingCR && s == "\r" {
                out.append(s)
            }
        }
        return String(out)
    }
}
