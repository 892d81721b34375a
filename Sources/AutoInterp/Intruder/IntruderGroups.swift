import Foundation

/// The intruder scorer's decile groups (`--intruder-groups`): one prompt per group, its four
/// activating contexts drawn from the group's activation deciles (1...10).
///
/// Written as a count that splits the deciles evenly (`5`: 1-2, 3-4, …) or as decile ranges
/// (`1-3,4-6,7-10`; a single decile is `7` or `7-7`); ranges may leave deciles out, never
/// overlap, and are kept in ascending order. Stored in the run config as that text (nil for the
/// default three groups, so runs made before the option keep their identity).
public struct IntruderGroups: Sendable, Equatable, Hashable, Codable, CustomStringConvertible {
    /// The groups' decile ranges, ascending and disjoint.
    public let ranges: [ClosedRange<Int>]

    /// Three groups: deciles 1-3, 4-6, 7-10.
    public static let `default` = IntruderGroups(evenly: IntruderPlan.defaultGroups)

    /// `count` groups over the deciles (clamped to 1...10).
    public init(evenly count: Int) {
        self.init(ranges: IntruderPlan.ranges(groups: count))
    }

    private init(ranges: [ClosedRange<Int>]) {
        self.ranges = ranges
    }

    /// Parses a count (1-10) or comma-separated decile ranges.
    ///
    /// - Throws: ``AutoInterpError/invalidOption(_:_:)`` naming the bad part: empty, not a count or a
    ///   range, outside 1-10, a range whose low end is above its high end, or two ranges that overlap.
    public init(parsing text: String) throws {
        let deciles = SelectionConfig.classifyDeciles
        let example = "give a count (1-\(deciles)) or decile ranges like 1-3,4-6,7-10"
        func refuse(_ problem: String) -> AutoInterpError { .invalidOption(.intruderGroups, "\(problem): \(example)") }
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        guard !trimmed.isEmpty else { throw refuse("is empty") }
        if let count = Int(trimmed) {
            guard (1...deciles).contains(count) else { throw refuse("\(count) groups: must be between 1 and \(deciles)") }
            self.init(evenly: count)
            return
        }
        var ranges: [ClosedRange<Int>] = []
        for part in trimmed.split(separator: ",", omittingEmptySubsequences: false) {
            let piece = part.trimmingCharacters(in: .whitespaces)
            guard !piece.isEmpty else { throw refuse("'\(trimmed)' has an empty group") }
            let ends = piece.split(separator: "-", omittingEmptySubsequences: false).map { Int($0.trimmingCharacters(in: .whitespaces)) }
            guard (1...2).contains(ends.count), let low = ends.first ?? nil, let high = ends.last ?? nil else {
                throw refuse("'\(piece)' is not a decile range")
            }
            guard low <= high else { throw refuse("the group \(piece) is empty (\(low) is above \(high))") }
            guard low >= 1, high <= deciles else { throw refuse("the group \(piece) is outside deciles 1-\(deciles)") }
            ranges.append(low...high)
        }
        ranges.sort { $0.lowerBound < $1.lowerBound }
        for (a, b) in zip(ranges, ranges.dropFirst()) where a.overlaps(b) {
            throw refuse("the groups \(Self.text(a)) and \(Self.text(b)) overlap")
        }
        self.init(ranges: ranges)
    }

    private static func text(_ range: ClosedRange<Int>) -> String { "\(range.lowerBound)-\(range.upperBound)" }

    /// `1-3,4-6,7-10`.
    public var description: String { ranges.map(Self.text).joined(separator: ",") }

    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        self = try IntruderGroups(parsing: text)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }
}
