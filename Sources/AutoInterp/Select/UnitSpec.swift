import Foundation

/// A user's choice of unit indices: `0-99`, `3,7,10-12`, `random:200`, `all`, or `none`.
public enum UnitSpec: Sendable, Equatable, Codable, CustomStringConvertible {
    case indices([Int])
    case random(count: Int)
    case all

    /// Parses a spec as typed on the command line.
    ///
    /// - Throws: `AutoInterpError.invalidInput` quoting the bad part and the accepted forms.
    public init(parsing text: String) throws {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        func bad(_ part: String) -> AutoInterpError {
            .invalidInput("unit spec '\(text)': cannot read '\(part)' (use e.g. 0-99, 3,7,10-12, random:200, all or none)")
        }
        if trimmed == "all" {
            self = .all
            return
        }
        if trimmed == "none" || trimmed.isEmpty {
            self = .indices([])
            return
        }
        if trimmed.hasPrefix("random:") {
            guard let count = Int(trimmed.dropFirst(7)), count >= 0 else { throw bad(trimmed) }
            self = .random(count: count)
            return
        }
        var indices: [Int] = []
        for part in trimmed.split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces) }) {
            let bounds = part.split(separator: "-", omittingEmptySubsequences: false)
            if bounds.count == 1, let value = Int(part), value >= 0 {
                indices.append(value)
            } else if bounds.count == 2, let low = Int(bounds[0]), let high = Int(bounds[1]), low >= 0, low <= high {
                indices.append(contentsOf: low...high)
            } else {
                throw bad(part)
            }
        }
        var seen = Set<Int>()
        self = .indices(indices.filter { seen.insert($0).inserted })
    }

    public var description: String {
        switch self {
        case .all: "all"
        case .random(let count): "random:\(count)"
        case .indices(let list): list.isEmpty ? "none" : list.map(String.init).joined(separator: ",")
        }
    }

    /// The concrete indices among `0..<count`, sorted; `random` draws without replacement with `seed`.
    ///
    /// - Throws: `AutoInterpError.invalidInput` when an index is out of range, naming `kind` and the range.
    public func resolve(count: Int, kind: UnitKind, seed: UInt64) throws -> [Int] {
        switch self {
        case .all:
            return Array(0..<count)
        case .random(let n):
            guard n <= count else {
                throw AutoInterpError.invalidInput("cannot draw \(n) random \(kind.rawValue)s: there are only \(count)")
            }
            var rng = SeededGenerator(seed: seed, stream: kind == .feature ? 1 : 2)
            return Array(Array(0..<count).shuffled(using: &rng).prefix(n)).sorted()
        case .indices(let list):
            if let bad = list.first(where: { $0 >= count }) {
                throw AutoInterpError.invalidInput("\(kind.rawValue) \(bad) is out of range: there are \(count) \(kind.rawValue)s (0-\(count - 1))")
            }
            return list.sorted()
        }
    }
}
