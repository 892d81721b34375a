import Foundation

/// Rubric rating counts per activation bin, summed over the units of one kind.
///
/// `counts[bin][rating]`: bin 0 = non-activating, 1...10 the equal-width activation bins;
/// rating 0...3. Built from the `rubric_histogram` view (``RunStore/rubricHistogram(runID:)``).
public struct RubricHistogram: Sendable, Equatable, Codable {
    public static let bins = 11
    public static let ratings = 4

    public var counts: [[Int]]

    public init(counts: [[Int]] = Array(repeating: Array(repeating: 0, count: RubricHistogram.ratings), count: RubricHistogram.bins)) {
        self.counts = counts
    }

    /// Histograms per unit kind from rows of the view (bins beyond 10 are folded into 10).
    public static func byKind(_ rows: [RubricHistogramRow]) -> [UnitKind: RubricHistogram] {
        var result: [UnitKind: RubricHistogram] = [:]
        for row in rows where (0..<ratings).contains(row.rating) && row.bin >= 0 {
            result[row.unit.kind, default: RubricHistogram()].counts[min(row.bin, bins - 1)][row.rating] += row.count
        }
        return result
    }

    /// A Markdown table: one row per bin, rating counts and the share rated 3.
    public var markdown: String {
        var lines = ["| bin | 0 | 1 | 2 | 3 | share 3 |", "|---|---|---|---|---|---|"]
        for (bin, row) in counts.enumerated() {
            let total = row.reduce(0, +)
            let share = total > 0 ? String(format: "%.2f", Double(row[3]) / Double(total)) : "-"
            lines.append("| \(bin == 0 ? "none" : String(bin)) | \(row.map(String.init).joined(separator: " | ")) | \(share) |")
        }
        return lines.joined(separator: "\n")
    }
}
