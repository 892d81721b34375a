import Foundation

/// Escaping and number formatting shared by the HTML, Markdown, JSON and CSV writers.
///
/// Every string that comes from the database goes through one of these before it is written.
public enum ReportText {
    // MARK: - HTML

    /// `text` safe as HTML/XML element content or a quoted attribute value: `& < > " '` become
    /// character references, and control characters other than tab, newline and carriage
    /// return (not allowed in XML) become U+FFFD.
    public static func html(_ text: String) -> String {
        escapingScalars(text) { scalar in
            switch scalar {
            case "&": "&amp;"
            case "<": "&lt;"
            case ">": "&gt;"
            case "\"": "&quot;"
            case "'": "&#39;"
            case "\t", "\n", "\r": nil
            case _ where scalar.value < 0x20 || scalar.value == 0xFFFE || scalar.value == 0xFFFF: "\u{FFFD}"
            default: nil
            }
        }
    }

    // MARK: - JSON

    /// `text` as a JSON string literal (with quotes) that is also safe inside an HTML
    /// `<script>` element and in XML: `<`, `>` and `&` are written as `\u003c`, `\u003e`, `\u0026`,
    /// so the literal can never contain `</script>`, `<!--` or `]]>`.
    public static func json(_ text: String) -> String { jsonStringLiteral(text, htmlSafe: true) }

    /// A number as JSON: shortest round-trip decimal; nil, NaN and infinities as `null`.
    public static func json(_ value: Double?) -> String {
        guard let value, value.isFinite else { return "null" }
        if value == value.rounded(), abs(value) < 1e15 { return String(Int64(value)) }
        return value.description
    }

    // MARK: - Markdown and CSV

    /// `text` on one line, safe in a Markdown table cell: `|`, `<`, `>`, `` ` ``, `*`, `_`, `[`, `]`
    /// and `\` are backslash-escaped and line breaks become spaces.
    /// An `&` that starts something like an entity (`&amp;`, `&#60;`) is escaped too, so it shows as typed.
    public static func markdown(_ text: String) -> String {
        var out = ""
        let characters = Array(text)
        for (i, character) in characters.enumerated() {
            switch character {
            case "\n", "\r", "\r\n": out += " "
            case "|", "<", ">", "`", "*", "_", "[", "]", "\\": out += "\\" + String(character)
            case "&" where i + 1 < characters.count && (characters[i + 1].isLetter || characters[i + 1] == "#"):
                out += "\\&"
            default: out.append(character)
            }
        }
        return out
    }

    /// Terminal columns `text` takes: 2 for East Asian wide characters and emoji, 0 for combining marks, else 1.
    public static func displayWidth(_ text: String) -> Int {
        text.reduce(0) { width, character in
            guard let scalar = character.unicodeScalars.first?.value else { return width }
            switch scalar {
            case 0x1100...0x115F, 0x2E80...0xA4CF, 0xAC00...0xD7A3, 0xF900...0xFAFF, 0xFE30...0xFE4F, 0xFF00...0xFF60,
                0xFFE0...0xFFE6, 0x1F300...0x1FAFF, 0x20000...0x3FFFD:
                return width + 2
            default:
                return width + 1
            }
        }
    }

    /// `text` as a CSV field (RFC 4180): quoted when it holds a comma, quote or line break.
    public static func csv(_ text: String) -> String {
        guard text.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" || $0 == "\r\n" }) else {
            return text
        }
        return "\"" + text.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }

    // MARK: - Numbers

    /// `value` with `digits` decimals, or `placeholder` when nil or not finite.
    public static func fixed(_ value: Double?, _ digits: Int, placeholder: String = "–") -> String {
        guard let value, value.isFinite else { return placeholder }
        return String(format: "%.\(digits)f", value)
    }

    /// A share in [0, 1] as a percentage with one decimal (`0.4567` → `45.7%`).
    public static func percent(_ share: Double?, placeholder: String = "–") -> String {
        guard let share, share.isFinite else { return placeholder }
        return String(format: "%.1f%%", share * 100)
    }

    /// A confidence interval as `[0.46, 0.60]` (`digits` decimals); empty when nil.
    public static func interval(_ interval: ConfidenceInterval?, _ digits: Int = 2) -> String {
        guard let interval, interval.low.isFinite, interval.high.isFinite else { return "" }
        return "[\(fixed(interval.low, digits)), \(fixed(interval.high, digits))]"
    }

    /// A value with its interval: `0.527 [0.46, 0.60]` (the interval with one digit fewer unless
    /// `intervalDigits` says); the value alone when there is no interval.
    public static func fixed(_ value: Double?, _ digits: Int, interval ci: ConfidenceInterval?, intervalDigits: Int? = nil) -> String {
        let text = fixed(value, digits)
        guard value?.isFinite == true, ci != nil else { return text }
        return "\(text) \(interval(ci, intervalDigits ?? max(digits - 1, 0)))"
    }

    /// A share with its interval in whole percent: `54.0% [44, 64]`.
    public static func percent(_ share: Double?, interval ci: ConfidenceInterval?) -> String {
        let text = percent(share)
        guard share?.isFinite == true, let ci, ci.low.isFinite, ci.high.isFinite else { return text }
        return "\(text) [\(String(format: "%.0f", ci.low * 100)), \(String(format: "%.0f", ci.high * 100))]"
    }

    /// A count in at most four characters: `950`, `1.2k`, `10k`, `3.4M`.
    public static func shortCount(_ value: Int) -> String {
        func scaled(_ divisor: Double, _ suffix: String) -> String {
            let x = Double(value) / divisor
            return (x < 9.95 ? String(format: "%.1f", x).replacingOccurrences(of: ".0", with: "") : String(Int(x.rounded())))
                + suffix
        }
        if abs(value) < 1000 { return String(value) }
        if abs(value) < 999_500 { return scaled(1000, "k") }
        return scaled(1_000_000, "M")
    }

    /// A count with thousands separators (`12345` → `12,345`).
    public static func count(_ value: Int) -> String {
        let digits = String(abs(value))
        var out = ""
        for (i, c) in digits.enumerated() {
            if i > 0 && (digits.count - i) % 3 == 0 { out += "," }
            out.append(c)
        }
        return value < 0 ? "-" + out : out
    }

    /// A p-value: scientific below 0.001 (`< 1e-300` when it underflows), else three decimals.
    public static func pValue(_ p: Double) -> String {
        if p < 1e-300 { return "< 1e-300" }
        if p < 0.001 { return String(format: "%.2e", p) }
        return String(format: "%.3f", p)
    }

    /// A fast compact decimal with at most two decimals (`1.5`, `0.25`, `3`, `-0.07`), for the
    /// many activation values of example records; non-finite values become `0`.
    static func compact(_ value: Float) -> String {
        guard value.isFinite else { return "0" }
        let hundredths = Int((Double(value) * 100).rounded())
        if hundredths == 0 { return "0" }
        let magnitude = abs(hundredths)
        var text = hundredths < 0 ? "-" : ""
        text += String(magnitude / 100)
        let fraction = magnitude % 100
        if fraction != 0 {
            text += fraction % 10 == 0 ? "." + String(fraction / 10) : (fraction < 10 ? ".0" : ".") + String(fraction)
        }
        return text
    }
}
