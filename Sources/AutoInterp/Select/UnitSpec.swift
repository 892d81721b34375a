import Foundation

/// A user's choice of unit indices: `0-99`, `3,7,10-12`, `random:200`, `all`, or `none`.
public enum UnitSpec: Sendable, Equatable, Codable, CustomStringConvertible {
    case indices([Int])
    /// Index ranges as typed (`0-99,120`): kept as bounds, so a huge range costs nothing until
    /// ``resolve(count:kind:seed:)`` has checked it against the real unit count.
    case ranges([ClosedRange<Int>])
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
        var ranges: [ClosedRange<Int>] = []
        for part in trimmed.split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces) }) {
            let bounds = part.split(separator: "-", omittingEmptySubsequences: false)
            if bounds.count == 1, let value = Int(part), value >= 0 {
                ranges.append(value...value)
            } else if bounds.count == 2, let low = Int(bounds[0]), let high = Int(bounds[1]), low >= 0, low <= high {
                ranges.append(low...high)
            } else {
                throw bad(part)
            }
        }
        self = .ranges(ranges)
    }

    /// Whether the spec asks for no unit at all (`none`, an empty list, `random:0`).
    public var isNone: Bool {
        switch self {
        case .all: false
        case .random(let count): count == 0
        case .indices(let list): list.isEmpty
        case .ranges(let list): list.isEmpty
        }
    }

    public var description: String {
        switch self {
        case .all: "all"
        case .random(let count): "random:\(count)"
        case .indices(let list): list.isEmpty ? "none" : list.map(String.init).joined(separator: ",")
        // Written out index by index, as `.indices` is, so stored run configs keep comparing equal.
        // Only call it once ``resolve(count:kind:seed:)`` has bounded the ranges.
        case .ranges(let list):
            list.isEmpty ? "none" : Self.indices(of: list).map(String.init).joined(separator: ",")
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
            if let bad = list.first(where: { $0 >= count }) { throw Self.outOfRange(bad, count: count, kind: kind) }
            return list.sorted()
        case .ranges(let list):
            if let bad = list.first(where: { $0.upperBound >= count }) { throw Self.outOfRange(max(bad.lowerBound, count), count: count, kind: kind) }
            return Self.indices(of: list).sorted()
        }
    }

    /// The distinct indices of `ranges` in the order first typed (as `.indices` was parsed).
    private static func indices(of ranges: [ClosedRange<Int>]) -> [Int] {
        var seen = Set<Int>()
        var out: [Int] = []
        for range in ranges {
            for index in range where seen.insert(index).inserted { out.append(index) }
        }
        return out
    }

    private static func outOfRange(_ index: Int, count: Int, kind: UnitKind) -> AutoInterpError {
        let name = kind.rawValue
        if count == 0 {
            return .invalidInput("\(name) \(index) is out of range: there are no \(name)s")
        }
        return .invalidInput("\(name) \(index) is out of range: there are \(count) \(name)s (\(count == 1 ? "only 0" : "0-\(count - 1)"))")
    }
}
