import Foundation

/// The few YAML forms a circuit-tracer `config.yaml` uses: top-level `key: scalar` lines and
/// block lists (`key:` followed by `- item` lines). Nested mappings are skipped, comments and
/// blank lines ignored; scalars may be quoted. Anything else is reported with its line number.
struct YAMLSubset {
    /// Top-level scalars, unquoted.
    private(set) var scalars: [String: String] = [:]
    /// Top-level block lists.
    private(set) var lists: [String: [String]] = [:]

    /// Parses `text`; `path` is used in messages.
    init(text: String, path: String) throws {
        var currentList: String?
        for (number, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = Self.stripComment(String(raw)).replacingOccurrences(of: "\r", with: "")
            if line.trimmingCharacters(in: .whitespaces).isEmpty || line == "---" { continue }
            let indented = line.first == " " || line.first == "\t"
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            if trimmed.hasPrefix("- ") || trimmed == "-" {
                guard let key = currentList else {
                    if indented { continue }
                    throw AutoInterpError.invalidFile(path, "line \(number + 1): a list item outside a list")
                }
                lists[key, default: []].append(Self.unquote(String(trimmed.dropFirst(1)).trimmingCharacters(in: .whitespaces)))
                continue
            }
            if indented { continue }  // a nested mapping: not needed
            guard let colon = trimmed.firstIndex(of: ":") else {
                throw AutoInterpError.invalidFile(path, "line \(number + 1): expected 'key: value', found '\(trimmed.prefix(60))'")
            }
            let key = Self.unquote(String(trimmed[..<colon]).trimmingCharacters(in: .whitespaces))
            let value = String(trimmed[trimmed.index(after: colon)...]).trimmingCharacters(in: .whitespaces)
            if value.isEmpty {
                currentList = key
            } else {
                currentList = nil
                scalars[key] = Self.unquote(value)
            }
        }
    }

    /// The value of `key`, or nil (also for `null` and `~`).
    subscript(key: String) -> String? {
        guard let value = scalars[key], value != "null", value != "~" else { return nil }
        return value
    }

    private static func unquote(_ text: String) -> String {
        if text.count >= 2, let first = text.first, first == "\"" || first == "'", text.last == first {
            return String(text.dropFirst().dropLast())
        }
        return text
    }

    private static func stripComment(_ line: String) -> String {
        var quote: Character?
        var previous: Character = " "
        for (offset, c) in line.enumerated() {
            if let q = quote {
                if c == q { quote = nil }
            } else if c == "\"" || c == "'" {
                quote = c
            } else if c == "#" && previous.isWhitespace {
                return String(line.prefix(offset))
            }
            previous = c
        }
        return line
    }
}
