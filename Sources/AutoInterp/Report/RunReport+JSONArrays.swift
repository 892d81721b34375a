import Foundation

// MARK: - Fast JSON arrays

extension RunReport {
    /// A JSON array of strings, parsed byte by byte (tens of thousands of them make a report); nil when malformed.
    ///
    /// Each string goes through the shared strict decoder (``decodeJSONStringLiteral(_:at:)``).
    static func parseStrings(_ text: String) -> [String]? {
        var text = text
        return text.withUTF8 { utf8 -> [String]? in
            let bytes = UnsafeRawBufferPointer(utf8)
            var strings: [String] = []
            var i = 0
            let n = bytes.count
            func skipSpace() { while i < n, bytes[i] == 0x20 || bytes[i] == 0x0A || bytes[i] == 0x0D || bytes[i] == 0x09 { i += 1 } }
            skipSpace()
            guard i < n, bytes[i] == UInt8(ascii: "[") else { return nil }
            i += 1
            skipSpace()
            if i < n, bytes[i] == UInt8(ascii: "]") { return [] }
            while i < n {
                skipSpace()
                guard let string = decodeJSONStringLiteral(bytes, at: &i) else { return nil }
                strings.append(string)
                skipSpace()
                guard i < n else { return nil }
                if bytes[i] == UInt8(ascii: "]") { return strings }
                guard bytes[i] == UInt8(ascii: ",") else { return nil }
                i += 1
            }
            return nil
        }
    }

    /// A JSON array of numbers (non-finite ones written as strings) without a JSON decoder.
    static func parseNumbers(_ text: String) -> [Float] {
        var values: [Float] = []
        var text = text
        text.withUTF8 { bytes in
            var i = 0
            let n = bytes.count
            while i < n {
                let c = bytes[i]
                if c == UInt8(ascii: "[") || c == UInt8(ascii: "]") || c == UInt8(ascii: ",") || c == 0x20 {
                    i += 1
                    continue
                }
                var end = i
                while end < n, bytes[end] != UInt8(ascii: ","), bytes[end] != UInt8(ascii: "]") { end += 1 }
                let token = UnsafeBufferPointer(rebasing: bytes[i..<end])
                if let value = parseFloat(token) {
                    values.append(value)
                } else {
                    let word = String(decoding: token, as: UTF8.self).trimmingCharacters(in: .init(charactersIn: "\" "))
                    values.append(word == "Infinity" ? .infinity : word == "-Infinity" ? -.infinity : .nan)
                }
                i = end
            }
        }
        return values
    }

    /// A plain decimal (`-12.5`, `3`, `0.001`) as a Float; nil for anything else (exponents and long
    /// forms go through `Float(String)`). Short forms are computed as one correctly rounded Double
    /// division and then rounded to Float, which can differ from `Float(String)` by one ulp in rare
    /// ties: invisible in a report that shows two decimals.
    private static func parseFloat(_ token: UnsafeBufferPointer<UInt8>) -> Float? {
        var i = 0
        var negative = false
        if i < token.count, token[i] == UInt8(ascii: "-") {
            negative = true
            i += 1
        }
        var mantissa: UInt64 = 0
        var digits = 0
        var fraction = 0
        var seenPoint = false
        while i < token.count {
            let c = token[i]
            if c >= 0x30 && c <= 0x39 {
                guard digits < 15 else { return Float(String(decoding: token, as: UTF8.self)) }
                mantissa = mantissa * 10 + UInt64(c - 0x30)
                digits += 1
                if seenPoint { fraction += 1 }
            } else if c == UInt8(ascii: "."), !seenPoint {
                seenPoint = true
            } else {
                return Float(String(decoding: token, as: UTF8.self))
            }
            i += 1
        }
        guard digits > 0 else { return nil }
        let value = Float(Double(mantissa) / pow10[fraction])
        return negative ? -value : value
    }

    private static let pow10: [Double] = (0...15).map { pow(10, Double($0)) }
}
