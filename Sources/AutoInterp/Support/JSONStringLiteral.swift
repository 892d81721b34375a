// MARK: - Writing

/// `text` as a JSON string literal, with its quotes: the one JSON string escaper.
///
/// With `htmlSafe`, `<`, `>` and `&` are written as `\u003c`, `\u003e`, `\u0026` (and U+2028/9
/// escaped), so the literal can never contain `</script>`, `<!--` or `]]>` and may sit inside an
/// HTML `<script>` element or XML. Both forms are valid JSON for any text.
func jsonStringLiteral(_ text: String, htmlSafe: Bool = false) -> String {
    var out = "\""
    out.reserveCapacity(text.utf8.count + 2)
    out += escapingScalars(text) { scalar in
        switch scalar {
        case "\"": "\\\""
        case "\\": "\\\\"
        case "\n": "\\n"
        case "\r": "\\r"
        case "\t": "\\t"
        case "<" where htmlSafe: "\\u003c"
        case ">" where htmlSafe: "\\u003e"
        case "&" where htmlSafe: "\\u0026"
        case "\u{2028}" where htmlSafe: "\\u2028"
        case "\u{2029}" where htmlSafe: "\\u2029"
        case _ where scalar.value < 0x20: "\\u" + fourHexDigits(scalar.value)
        default: nil
        }
    }
    return out + "\""
}

/// `value` (below 0x10000) as four lowercase hex digits.
private func fourHexDigits(_ value: UInt32) -> String {
    let hex = String(value, radix: 16)
    return String(repeating: "0", count: 4 - hex.count) + hex
}

// MARK: - Reading

/// Reads the JSON string literal whose opening quote is at `index` in the UTF-8 `bytes`: the one
/// JSON string decoder (safetensors headers, the report's token arrays).
///
/// Strict, as RFC 8259: a raw control character, invalid UTF-8, an unknown escape or a lone
/// surrogate makes the literal malformed.
///
/// - Returns: the decoded text with `index` just past the closing quote, or nil when the literal
///   is malformed (`index` is then left somewhere inside it).
func decodeJSONStringLiteral(_ bytes: UnsafeRawBufferPointer, at index: inout Int) -> String? {
    guard index < bytes.count, bytes[index] == UInt8(ascii: "\"") else { return nil }
    index += 1
    var runStart = index
    var out = ""
    /// Appends the unescaped bytes `runStart..<end`; false when they are not UTF-8.
    func flush(_ end: Int) -> Bool {
        guard let run = String(validating: UnsafeRawBufferPointer(rebasing: bytes[runStart..<end]), as: UTF8.self) else {
            return false
        }
        out += run
        return true
    }
    /// Four hex digits at `index` as a number, moving past them.
    func hex4() -> UInt32? {
        guard index + 4 <= bytes.count else { return nil }
        var value: UInt32 = 0
        for _ in 0..<4 {
            let byte = bytes[index]
            let digit: UInt32
            switch byte {
            case 48...57: digit = UInt32(byte - 48)
            case 65...70: digit = UInt32(byte - 55)
            case 97...102: digit = UInt32(byte - 87)
            default: return nil
            }
            value = value << 4 | digit
            index += 1
        }
        return value
    }
    while index < bytes.count {
        let byte = bytes[index]
        if byte == UInt8(ascii: "\"") {
            guard flush(index) else { return nil }
            index += 1
            return out
        }
        if byte < 0x20 { return nil }
        guard byte == UInt8(ascii: "\\") else {
            index += 1
            continue
        }
        guard flush(index) else { return nil }
        index += 1
        guard index < bytes.count else { return nil }
        let escape = bytes[index]
        index += 1
        switch escape {
        case UInt8(ascii: "\""): out += "\""
        case UInt8(ascii: "\\"): out += "\\"
        case UInt8(ascii: "/"): out += "/"
        case UInt8(ascii: "b"): out += "\u{08}"
        case UInt8(ascii: "f"): out += "\u{0C}"
        case UInt8(ascii: "n"): out += "\n"
        case UInt8(ascii: "r"): out += "\r"
        case UInt8(ascii: "t"): out += "\t"
        case UInt8(ascii: "u"):
            guard var code = hex4() else { return nil }
            if (0xD800..<0xDC00).contains(code) {
                guard index + 1 < bytes.count, bytes[index] == UInt8(ascii: "\\"), bytes[index + 1] == UInt8(ascii: "u") else {
                    return nil
                }
                index += 2
                guard let low = hex4(), (0xDC00..<0xE000).contains(low) else { return nil }
                code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)
            }
            guard let scalar = Unicode.Scalar(code) else { return nil }
            out.unicodeScalars.append(scalar)
        default: return nil
        }
        runStart = index
    }
    return nil
}
