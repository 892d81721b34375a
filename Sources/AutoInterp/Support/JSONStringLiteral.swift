/// `text` as a JSON string literal, with its quotes.
///
/// With `htmlSafe`, `<`, `>` and `&` are written as `\u003c`, `\u003e`, `\u0026` (and U+2028/9
/// escaped), so the literal can never contain `</script>`, `<!--` or `]]>` and may sit inside an
/// HTML `<script>` element or XML. Both forms are valid JSON for any text.
func jsonStringLiteral(_ text: String, htmlSafe: Bool = false) -> String {
    var out = "\""
    out.reserveCapacity(text.utf8.count + 2)
    for scalar in text.unicodeScalars {
        switch scalar {
        case "\"": out += "\\\""
        case "\\": out += "\\\\"
        case "\n": out += "\\n"
        case "\r": out += "\\r"
        case "\t": out += "\\t"
        case "<" where htmlSafe: out += "\\u003c"
        case ">" where htmlSafe: out += "\\u003e"
        case "&" where htmlSafe: out += "\\u0026"
        case "\u{2028}" where htmlSafe: out += "\\u2028"
        case "\u{2029}" where htmlSafe: out += "\\u2029"
        case _ where scalar.value < 0x20:
            let hex = String(scalar.value, radix: 16)
            out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
        default:
            out.unicodeScalars.append(scalar)
        }
    }
    return out + "\""
}
