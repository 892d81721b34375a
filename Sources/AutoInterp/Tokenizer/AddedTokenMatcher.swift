/// Finds a tokenizer's added tokens in raw text, as `tokenizers` does before normalising: leftmost
/// match first, the longest there; `lstrip`/`rstrip` tokens take the whitespace beside them.
struct AddedTokenMatcher: Sendable {
    /// Added tokens by their first scalar, longest first.
    private let byFirst: [Unicode.Scalar: [(scalars: [Unicode.Scalar], token: BPEAddedToken)]]

    init(_ tokens: [BPEAddedToken], source: String) throws {
        var byFirst: [Unicode.Scalar: [(scalars: [Unicode.Scalar], token: BPEAddedToken)]] = [:]
        for token in tokens {
            let scalars = Array(token.content.unicodeScalars)
            guard let first = scalars.first else { throw AutoInterpError.invalidFile(source, "added token \(token.id) is empty") }
            byFirst[first, default: []].append((scalars, token))
        }
        self.byFirst = byFirst.mapValues { $0.sorted { $0.scalars.count > $1.scalars.count } }
    }

    package enum Segment: Equatable {
        case text(String)
        case added(Int32)
    }

    /// Cuts the added tokens out of `text`: leftmost match first, the longest there; `lstrip`/`rstrip`
    /// tokens take the whitespace beside them.
    func split(_ text: String) -> [Segment] {
        if byFirst.isEmpty { return [.text(text)] }
        let scalars = Array(text.unicodeScalars)
        var segments: [Segment] = []
        var start = 0
        var i = 0
        func flush(_ end: Int) {
            if end > start { segments.append(.text(String(String.UnicodeScalarView(scalars[start..<end])))) }
        }
        while i < scalars.count {
            guard let candidates = byFirst[scalars[i]],
                let hit = candidates.first(where: {
                    i + $0.scalars.count <= scalars.count && scalars[i..<(i + $0.scalars.count)].elementsEqual($0.scalars)
                })
            else {
                i += 1
                continue
            }
            var left = i
            if hit.token.lstrip { while left > start && scalars[left - 1].properties.isWhitespace { left -= 1 } }
            var right = i + hit.scalars.count
            if hit.token.rstrip { while right < scalars.count && scalars[right].properties.isWhitespace { right += 1 } }
            flush(left)
            segments.append(.added(hit.token.id))
            start = right
            i = right
        }
        flush(scalars.count)
        return segments
    }

}
