import Foundation

extension ReportText {
    /// Characters that make a spreadsheet read a cell as a formula (OWASP CSV injection), or
    /// that it would trim away (a leading tab or carriage return).
    static let formulaStarts: Set<Unicode.Scalar> = ["=", "+", "-", "@", "\t", "\r"]

    /// A text cell for CSV that a spreadsheet shows as text: control characters (NUL, terminal
    /// escape codes: ``ControlCharacters``) removed, a leading
    /// `=`, `+`, `-`, `@`, tab or CR prefixed with a single quote (so a leading tab is kept too),
    /// then quoted as ``csv(_:)`` does.
    public static func csvText(_ text: String) -> String {
        var cell = ControlCharacters.stripped(text, keepingCR: true)
        if let first = cell.unicodeScalars.first, formulaStarts.contains(first) { cell = "'" + cell }
        return csv(cell)
    }
}
