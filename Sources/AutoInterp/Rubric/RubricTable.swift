import Foundation

/// Counts of rubric ratings 0…3 per activation bin: the data of the Scaling Monosemanticity figure,
/// for one explanation (reports) or summed over a unit kind (the run summary).
///
/// Bin 0 holds non-activating examples, bins 1…n the equal-width activation bins of (0, max]
/// (as in `rubric_ratings.bin`). The table grows to the largest bin added. Encodes as
/// `{"counts": [[Int]]}` (`summary.json`).
public struct RubricTable: Sendable, Equatable, Codable {
    /// The ratings, 0 unrelated … 3 cleanly identifies the highlighted text.
    public static let ratings = 0...3

    /// `counts[bin][rating]`.
    public private(set) var counts: [[Int]]

    /// An empty table with bins 0…`bins` (default 0…10).
    public init(bins: Int = 10) {
        counts = Array(repeating: [0, 0, 0, 0], count: bins + 1)
    }

    /// Adds `count` ratings of `rating` in `bin`; ratings outside 0…3 and negative bins are ignored.
    public mutating func add(bin: Int, rating: Int, count: Int = 1) {
        guard bin >= 0, Self.ratings.contains(rating) else { return }
        while counts.count <= bin { counts.append([0, 0, 0, 0]) }
        counts[bin][rating] += count
    }

    /// Adds every count of `other`.
    public mutating func add(_ other: RubricTable) {
        for (bin, row) in other.counts.enumerated() {
            for (rating, count) in row.enumerated() where count > 0 { add(bin: bin, rating: rating, count: count) }
        }
    }

    /// The largest bin (n for bins 0…n).
    public var maxBin: Int { counts.count - 1 }

    /// Ratings in `bin`.
    public func total(bin: Int) -> Int { bin < counts.count ? counts[bin].reduce(0, +) : 0 }

    /// Ratings in every bin.
    public var total: Int { counts.reduce(0) { $0 + $1.reduce(0, +) } }

    /// The share of `bin`'s ratings equal to `rating`; nil when the bin has none.
    public func share(bin: Int, rating: Int) -> Double? {
        let total = total(bin: bin)
        guard total > 0 else { return nil }
        return Double(counts[bin][rating]) / Double(total)
    }

    /// Mean rating in `bin`; nil when the bin has none.
    public func meanRating(bin: Int) -> Double? {
        let total = total(bin: bin)
        guard total > 0 else { return nil }
        return Double(counts[bin].enumerated().reduce(0) { $0 + $1.offset * $1.element }) / Double(total)
    }

    /// A short label for a bin: `none` for 0, else the bin number.
    public static func label(bin: Int) -> String { bin == 0 ? "none" : String(bin) }

    /// Tables per unit kind from rows of the `rubric_histogram` view.
    public static func byKind(_ rows: [RubricHistogramRow]) -> [UnitKind: RubricTable] {
        var result: [UnitKind: RubricTable] = [:]
        for row in rows { result[row.unit.kind, default: RubricTable()].add(bin: row.bin, rating: row.rating, count: row.count) }
        return result
    }

    /// A Markdown table: one row per bin, rating counts and the share rated 3.
    public var markdown: String {
        var lines = ["| bin | 0 | 1 | 2 | 3 | share 3 |", "|---|---|---|---|---|---|"]
        for (bin, row) in counts.enumerated() {
            let share = share(bin: bin, rating: 3).map { String(format: "%.2f", $0) } ?? "-"
            lines.append("| \(Self.label(bin: bin)) | \(row.map(String.init).joined(separator: " | ")) | \(share) |")
        }
        return lines.joined(separator: "\n")
    }
}
