import Foundation

/// BERT's text normaliser and pre-tokeniser, as Hugging Face `tokenizers` defines
/// `BertNormalizer` and `BertPreTokenizer`.
///
/// Normalisation, in this order: clean the text (drop NUL, U+FFFD and control characters,
/// turn every whitespace character into a space), put spaces around CJK ideographs, strip
/// accents (NFD, then drop non-spacing marks), lower-case (per scalar, full mappings).
/// Pre-tokenisation splits on whitespace (dropped) and on punctuation (kept as its own word).
/// All work is on Unicode scalars, never on grapheme clusters, as the reference does.
///
/// Character classes (control, punctuation, non-spacing mark) follow the reference's Unicode
/// 8.0 tables (the `unicode_categories` crate): a scalar assigned later counts as unassigned,
/// and the few scalars whose category changed since are given their 8.0 category.
package struct BertTextNormalizer: Sendable, Equatable {
    /// Drop control characters and map whitespace to a space.
    package var cleanText: Bool
    /// Surround CJK ideographs with spaces so each becomes its own word.
    package var handleChineseChars: Bool
    /// Decompose (NFD) and drop non-spacing marks (`Mn`).
    package var stripAccents: Bool
    /// Lower-case every scalar.
    package var lowercase: Bool

    /// - Parameters:
    ///   - lowercase: lower-case the text.
    ///   - stripAccents: strip accents; `nil` follows `lowercase`, as BERT's `strip_accents: null` does.
    package init(lowercase: Bool = true, stripAccents: Bool? = nil, cleanText: Bool = true, handleChineseChars: Bool = true) {
        self.lowercase = lowercase
        self.stripAccents = stripAccents ?? lowercase
        self.cleanText = cleanText
        self.handleChineseChars = handleChineseChars
    }

    // MARK: - Normalisation

    /// The normalised text as Unicode scalars.
    package func normalize(_ text: String) -> [Unicode.Scalar] {
        var scalars: [Unicode.Scalar] = []
        scalars.reserveCapacity(text.unicodeScalars.count + 8)
        for scalar in text.unicodeScalars {
            if cleanText {
                if scalar.value == 0 || scalar.value == 0xFFFD || Self.isControl(scalar) { continue }
                if Self.isWhitespace(scalar) {
                    scalars.append(" ")
                    continue
                }
            }
            if handleChineseChars && Self.isChineseChar(scalar) {
                scalars.append(" ")
                scalars.append(scalar)
                scalars.append(" ")
                continue
            }
            scalars.append(scalar)
        }
        if stripAccents {
            scalars = Self.stripAccents(scalars)
        }
        if lowercase {
            var lowered: [Unicode.Scalar] = []
            lowered.reserveCapacity(scalars.count)
            for scalar in scalars {
                if scalar.isASCII {
                    let v = scalar.value
                    lowered.append((v >= 65 && v <= 90) ? Unicode.Scalar(v + 32)! : scalar)
                } else if scalar.properties.changesWhenLowercased {
                    lowered.append(contentsOf: scalar.properties.lowercaseMapping.unicodeScalars)
                } else {
                    lowered.append(scalar)
                }
            }
            scalars = lowered
        }
        return scalars
    }

    /// NFD, then drop non-spacing marks.
    static func stripAccents(_ scalars: [Unicode.Scalar]) -> [Unicode.Scalar] {
        // Fast path: pure ASCII needs no decomposition.
        if scalars.allSatisfy({ $0.isASCII }) { return scalars }
        var view = String.UnicodeScalarView()
        view.append(contentsOf: scalars)
        let decomposed = String(view).decomposedStringWithCanonicalMapping
        return decomposed.unicodeScalars.filter { $0.isASCII || referenceCategory($0) != .nonspacingMark }
    }

    // MARK: - Pre-tokenisation

    /// Split normalised scalars into words: whitespace separates and is dropped,
    /// each punctuation scalar becomes a word of its own.
    package func preTokenize(_ scalars: [Unicode.Scalar]) -> [[Unicode.Scalar]] {
        var words: [[Unicode.Scalar]] = []
        var current: [Unicode.Scalar] = []
        for scalar in scalars {
            if Self.isWhitespace(scalar) {
                if !current.isEmpty { words.append(current); current.removeAll(keepingCapacity: true) }
            } else if Self.isPunctuation(scalar) {
                if !current.isEmpty { words.append(current); current.removeAll(keepingCapacity: true) }
                words.append([scalar])
            } else {
                current.append(scalar)
            }
        }
        if !current.isEmpty { words.append(current) }
        return words
    }

    // MARK: - Character classes

    /// Tab, newline, carriage return, or any scalar with the Unicode `White_Space` property.
    static func isWhitespace(_ s: Unicode.Scalar) -> Bool {
        switch s.value {
        case 0x20, 0x09, 0x0A, 0x0D: return true
        case 0..<0x80: return false
        default: return s.properties.isWhitespace
        }
    }

    /// Categories Cc, Cf, Co, Cs, except tab, newline and carriage return (counted as whitespace).
    /// Unassigned scalars (Cn) are kept, as the reference keeps them.
    static func isControl(_ s: Unicode.Scalar) -> Bool {
        switch s.value {
        case 0x09, 0x0A, 0x0D: return false
        case 0x20..<0x7F: return false
        default:
            switch referenceCategory(s) {
            case .control, .format, .privateUse, .surrogate: return true
            default: return false
            }
        }
    }

    /// ASCII punctuation (33-47, 58-64, 91-96, 123-126) or any Unicode `P*` category.
    static func isPunctuation(_ s: Unicode.Scalar) -> Bool {
        let v = s.value
        if (33...47).contains(v) || (58...64).contains(v) || (91...96).contains(v) || (123...126).contains(v) {
            return true
        }
        if v < 0x80 { return false }
        switch referenceCategory(s) {
        case .connectorPunctuation, .dashPunctuation, .openPunctuation, .closePunctuation,
             .initialPunctuation, .finalPunctuation, .otherPunctuation:
            return true
        default:
            return false
        }
    }

    /// The general category as Unicode 8.0 gave it: what the reference's tables say.
    static func referenceCategory(_ s: Unicode.Scalar) -> Unicode.GeneralCategory {
        if let changed = categoryChangesSince8[s.value] { return changed }
        guard let age = s.properties.age, age.major <= 8 else { return .unassigned }
        return s.properties.generalCategory
    }

    /// Scalars assigned by Unicode 8.0 whose category changed later.
    private static let categoryChangesSince8: [UInt32: Unicode.GeneralCategory] = [
        0x166D: .otherPunctuation,  // CANADIAN SYLLABICS CHI SIGN, So since 12.0
        0x1734: .nonspacingMark,  // HANUNOO SIGN PAMUDPOD, Mc since 14.0
        0x1885: .otherLetter,  // MONGOLIAN LETTER ALI GALI BALUDA, Mn since 9.0
        0x1886: .otherLetter,  // MONGOLIAN LETTER ALI GALI THREE BALUDA, Mn since 9.0
        0xA9BD: .spacingMark,  // JAVANESE CONSONANT SIGN KERET, Mn since 12.0
        0x111C9: .otherPunctuation,  // SHARADA SANDHI MARK, Mn since 11.0
        0x1171E: .nonspacingMark,  // AHOM CONSONANT SIGN MEDIAL RA, Mc since 11.0
    ]

    /// The CJK Unified Ideographs blocks BERT treats as one word per character.
    static func isChineseChar(_ s: Unicode.Scalar) -> Bool {
        switch s.value {
        case 0x4E00...0x9FFF, 0x3400...0x4DBF, 0x20000...0x2A6DF, 0x2A700...0x2B73F,
             0x2B740...0x2B81F, 0x2B920...0x2CEAF, 0xF900...0xFAFF, 0x2F800...0x2FA1F:
            return true
        default:
            return false
        }
    }
}
