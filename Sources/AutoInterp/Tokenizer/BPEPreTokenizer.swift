import Foundation

/// The pre-tokenisation steps of a byte-level BPE tokenizer, as `tokenizers` runs them: the text is
/// cut into pieces by regex splits and digit splits, then each piece is BPE-encoded on its UTF-8 bytes.
package struct BPEPreTokenizer: Sendable {
    /// One step of the pre-tokenizer sequence.
    package enum Step: Sendable {
        /// `Split` with behaviour `Isolated` (and `ByteLevel` with `use_regex`): matches and the gaps
        /// between them become pieces.
        case split(RegexBox)
        /// `Digits`: runs of numeric characters (each one alone when `individual`) become pieces.
        case digits(individual: Bool)
    }

    package var steps: [Step]
    /// `ByteLevel`'s `add_prefix_space`: a space is put before a text that does not start with one.
    package var addPrefixSpace: Bool

    /// GPT-2's pattern, used by `ByteLevel` with `use_regex: true`.
    package static let gpt2Pattern = #"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"#
    /// Llama 3's pattern (also tiktoken's `cl100k_base`).
    package static let llama3Pattern =
        #"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"#
    /// Qwen2's pattern: Llama 3's with single digits.
    package static let qwen2Pattern =
        #"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"#

    /// Cuts `text` into pieces.
    package func pieces(_ text: String) -> [String] {
        var pieces = [addPrefixSpace && !text.hasPrefix(" ") && !text.isEmpty ? " " + text : text]
        for step in steps {
            var next: [String] = []
            next.reserveCapacity(pieces.count * 2)
            for piece in pieces {
                switch step {
                case .split(let box): box.isolate(piece, into: &next)
                case .digits(let individual): Self.splitDigits(piece, individual: individual, into: &next)
                }
            }
            pieces = next
        }
        return pieces.filter { !$0.isEmpty }
    }

    /// Rust's `char::is_numeric`: general categories Nd, Nl, No.
    static func isNumeric(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.properties.generalCategory {
        case .decimalNumber, .letterNumber, .otherNumber: true
        default: false
        }
    }

    static func splitDigits(_ piece: String, individual: Bool, into out: inout [String]) {
        var current = String.UnicodeScalarView()
        var currentIsDigit = false
        for scalar in piece.unicodeScalars {
            let digit = isNumeric(scalar)
            if !current.isEmpty && (digit != currentIsDigit || (digit && individual)) {
                out.append(String(current))
                current = String.UnicodeScalarView()
            }
            current.append(scalar)
            currentIsDigit = digit
        }
        if !current.isEmpty { out.append(String(current)) }
    }
}

/// A compiled regex shared across threads (ICU's `NSRegularExpression` matching is thread-safe).
package final class RegexBox: @unchecked Sendable {
    let regex: NSRegularExpression
    package let pattern: String

    package init(_ pattern: String) throws {
        self.pattern = pattern
        regex = try NSRegularExpression(pattern: pattern)
    }

    /// Appends the matches of the pattern in `piece` and the non-empty gaps between them, in order.
    func isolate(_ piece: String, into out: inout [String]) {
        let text = piece as NSString
        var cursor = 0
        for match in regex.matches(in: piece, range: NSRange(location: 0, length: text.length)) where match.range.length > 0 {
            if match.range.location > cursor {
                out.append(text.substring(with: NSRange(location: cursor, length: match.range.location - cursor)))
            }
            out.append(text.substring(with: match.range))
            cursor = match.range.location + match.range.length
        }
        if cursor < text.length { out.append(text.substring(from: cursor)) }
    }
}
