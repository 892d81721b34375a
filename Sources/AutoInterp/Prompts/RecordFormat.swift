import Foundation

/// The record blocks prompts are made of, and how answers in that shape are read back.
///
/// A record is written as
/// ```
/// <excerpt 1>
/// the<TAB>0
/// cat<TAB>9
/// </excerpt>
/// ```
/// with one escaped token per line (``TokenText/display(_:)``), followed by a tab and a value
/// when values are shown. Excerpts are numbered from 1 within one prompt.
package enum RecordFormat {
    /// `<excerpt N>`.
    package static func openTag(_ number: Int) -> String { "<excerpt \(number)>" }
    /// `</excerpt>`.
    package static let closeTag = "</excerpt>"

    /// One record block; `values` (when given) follow each token after a tab.
    package static func block(number: Int, tokens: [String], values: [Int]? = nil) -> String {
        var lines = [openTag(number)]
        for (i, token) in tokens.enumerated() {
            if let values { lines.append("\(TokenText.display(token))\t\(values[i])") } else { lines.append(TokenText.display(token)) }
        }
        lines.append(closeTag)
        return lines.joined(separator: "\n")
    }

    /// Several record blocks numbered from 1, separated by blank lines.
    package static func blocks(_ records: [[String]], values: [[Int]]? = nil) -> String {
        records.enumerated().map { i, tokens in block(number: i + 1, tokens: tokens, values: values?[i]) }.joined(separator: "\n\n")
    }

    /// The number in an `<excerpt N>` line, or nil.
    package static func openTagNumber(_ line: Substring) -> Int? {
        let trimmed = line.trimmingCharacters(in: .whitespaces)
        guard trimmed.hasPrefix("<excerpt "), trimmed.hasSuffix(">") else { return nil }
        return Int(trimmed.dropFirst("<excerpt ".count).dropLast().trimmingCharacters(in: .whitespaces))
    }
}
