import Foundation

/// Parses the Python literals a `.npy` header is made of: dicts, tuples, lists, strings,
/// integers and `True` / `False`. Nothing is evaluated.
struct PythonLiteralParser {
    indirect enum Value: Equatable {
        case dict([(Value, Value)])
        case tuple([Value])
        case list([Value])
        case string(String)
        case int(Int)
        case bool(Bool)

        static func == (a: Value, b: Value) -> Bool {
            switch (a, b) {
            case (.dict(let x), .dict(let y)): x.count == y.count && zip(x, y).allSatisfy { $0.0 == $1.0 && $0.1 == $1.1 }
            case (.tuple(let x), .tuple(let y)), (.list(let x), .list(let y)): x == y
            case (.string(let x), .string(let y)): x == y
            case (.int(let x), .int(let y)): x == y
            case (.bool(let x), .bool(let y)): x == y
            default: false
            }
        }
    }

    struct Failure: Error {}

    private let chars: [Character]
    private var i = 0
    private var depth = 0

    init(text: String) { chars = Array(text) }

    /// Parses one value and checks only whitespace follows.
    mutating func parse() throws -> Value {
        let value = try parseValue()
        skipSpace()
        guard i == chars.count else { throw Failure() }
        return value
    }

    private mutating func skipSpace() {
        while i < chars.count, chars[i].isWhitespace { i += 1 }
    }

    private mutating func parseValue() throws -> Value {
        skipSpace()
        guard i < chars.count else { throw Failure() }
        depth += 1
        defer { depth -= 1 }
        guard depth <= 16 else { throw Failure() }
        switch chars[i] {
        case "{":
            i += 1
            var entries: [(Value, Value)] = []
            while true {
                skipSpace()
                guard i < chars.count else { throw Failure() }
                if chars[i] == "}" { i += 1; return .dict(entries) }
                let key = try parseValue()
                skipSpace()
                guard i < chars.count, chars[i] == ":" else { throw Failure() }
                i += 1
                entries.append((key, try parseValue()))
                skipSpace()
                guard i < chars.count else { throw Failure() }
                if chars[i] == "," { i += 1 } else if chars[i] != "}" { throw Failure() }
            }
        case "(", "[":
            let close: Character = chars[i] == "(" ? ")" : "]"
            let isTuple = chars[i] == "("
            i += 1
            var items: [Value] = []
            while true {
                skipSpace()
                guard i < chars.count else { throw Failure() }
                if chars[i] == close { i += 1; return isTuple ? .tuple(items) : .list(items) }
                items.append(try parseValue())
                skipSpace()
                guard i < chars.count else { throw Failure() }
                if chars[i] == "," { i += 1 } else if chars[i] != close { throw Failure() }
            }
        case "'", "\"":
            let quote = chars[i]
            i += 1
            var text = ""
            while i < chars.count, chars[i] != quote {
                text.append(chars[i])
                i += 1
            }
            guard i < chars.count else { throw Failure() }
            i += 1
            return .string(text)
        case "T" where chars[i...].starts(with: "True"):
            i += 4
            return .bool(true)
        case "F" where chars[i...].starts(with: "False"):
            i += 5
            return .bool(false)
        default:
            var digits = ""
            if chars[i] == "-" { digits.append("-"); i += 1 }
            while i < chars.count, chars[i].isASCII, chars[i].isNumber {
                digits.append(chars[i])
                i += 1
            }
            if i < chars.count, chars[i] == "L" { i += 1 }  // Python 2 longs
            guard let n = Int(digits) else { throw Failure() }
            return .int(n)
        }
    }
}
