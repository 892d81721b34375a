/// `text` with every Unicode scalar that `replacement` maps replaced by what it returns; the
/// others are kept.
///
/// The one escaping loop of the text writers: JSON string literals (``jsonStringLiteral(_:htmlSafe:)``),
/// tokens in prompts (``TokenText/display(_:)``) and HTML (``ReportText/html(_:)``) differ only in
/// their `replacement`.
@inline(__always)
func escapingScalars(_ text: String, _ replacement: (Unicode.Scalar) -> String?) -> String {
    var out = ""
    out.reserveCapacity(text.utf8.count)
    for scalar in text.unicodeScalars {
        if let replaced = replacement(scalar) {
            out += replaced
        } else {
            out.unicodeScalars.append(scalar)
        }
    }
    return out
}
