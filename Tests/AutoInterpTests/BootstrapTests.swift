import Foundation
import Testing
@testable import AutoInterp

/// The seeded percentile bootstrap: a hand-checked case, scipy's own resamples, determinism.
@Suite struct BootstrapTests {
    /// One case of `Fixtures/Bootstrap/reference.json` (written by `Tests/Scripts/bootstrap_reference.py`).
    struct ReferenceCase: Decodable {
        var name: String
        var samples: [[Double]]
        var indices: [[[Int]]]
        var low: Double
        var high: Double
    }

    struct Reference: Decodable {
        var seed: Int
        var resamples: Int
        var cases: [ReferenceCase]
    }

    static func reference() throws -> Reference {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/Bootstrap/reference.json")
        return try JSONDecoder().decode(Reference.self, from: Data(contentsOf: url))
    }

    /// Three values, five resamples given by hand: medians 1, 2, 3, 2, 1 → sorted 1, 1, 2, 2, 3;
    /// the 2.5 % quantile sits at position 0.1 (→ 1), the 97.5 % one at 3.9 (→ 2 + 0.9 · 1 = 2.9).
    @Test func handCheckedPercentileInterval() throws {
        let indices = [[[0, 0, 0], [1, 1, 1], [2, 2, 2], [0, 1, 2], [0, 0, 1]]]
        let interval = try #require(Bootstrap().intervals([[1.0, 2, 3]], count: 1, indices: indices) { [Bootstrap.median($0[0])] }[0])
        #expect(abs(interval.low - 1) < 1e-12)
        #expect(abs(interval.high - 2.9) < 1e-12)
        // The mean of the same resamples: 1, 2, 3, 2, 4/3 → sorted 1, 4/3, 2, 2, 3.
        let mean = try #require(Bootstrap().intervals([[1.0, 2, 3]], count: 1, indices: indices) { [Bootstrap.mean($0[0])] }[0])
        #expect(abs(mean.low - (1 + 0.1 / 3)) < 1e-12)
        #expect(abs(mean.high - 2.9) < 1e-12)
    }

    /// scipy's `bootstrap(..., method='percentile')` on its own resample indices: every statistic
    /// the reports use matches to 1e-12.
    @Test func matchesScipyOnTheSameResamples() throws {
        let reference = try Self.reference()
        #expect(reference.cases.count == 6)
        for item in reference.cases {
            let statistic: ([[Double]]) -> Double?
            switch item.name {
            case "median": statistic = { Bootstrap.median($0[0]) }
            case "mean": statistic = { Bootstrap.mean($0[0]) }
            case "shareAbove0.3": statistic = { Bootstrap.share($0[0], above: 0.3) }
            case "medianDifference": statistic = { s in Bootstrap.median(s[0]).flatMap { a in Bootstrap.median(s[1]).map { a - $0 } } }
            case "probabilityGreater": statistic = { Bootstrap.probabilityGreater($0[0], $0[1]) }
            case "pairedMedianDifference": statistic = { s in Bootstrap.median(zip(s[0], s[1]).map { $1 - $0 }) }
            default:
                Issue.record("unknown case \(item.name)")
                continue
            }
            let samples: [[Double]]
            let indices: [[[Int]]]
            if item.name == "pairedMedianDifference" {
                // One sample of pairs resampled together: both columns take the same indices.
                samples = item.samples
                indices = [item.indices[0], item.indices[0]]
            } else {
                samples = item.samples
                indices = item.indices
            }
            let interval = try #require(Bootstrap().intervals(samples, count: 1, indices: indices) { [statistic($0)] }[0])
            #expect(abs(interval.low - item.low) < 1e-12, "\(item.name) low \(interval.low) vs scipy \(item.low)")
            #expect(abs(interval.high - item.high) < 1e-12, "\(item.name) high \(interval.high) vs scipy \(item.high)")
        }
    }

    /// The paired helper resamples pairs together: on scipy's paired indices it gives scipy's interval.
    @Test func pairedHelperMatchesScipy() throws {
        let reference = try Self.reference()
        let item = try #require(reference.cases.first { $0.name == "pairedMedianDifference" })
        let pairs = zip(item.samples[0], item.samples[1]).map { ($0, $1) }
        let interval = try #require(
            Bootstrap().intervals([pairs], count: 1, indices: item.indices) { [Bootstrap.median($0[0].map { $0.1 - $0.0 })] }[0])
        #expect(abs(interval.low - item.low) < 1e-12)
        #expect(abs(interval.high - item.high) < 1e-12)
    }

    /// The seeded draws: same seed, same interval; another seed, another; the interval holds the
    /// point estimate and narrows with more data.
    @Test func seededAndSensible() throws {
        var generator = SeededGenerator(seed: 5)
        let small = (0..<30).map { _ in generator.nextGaussian() }
        let large = (0..<300).map { _ in generator.nextGaussian() }
        let a = try #require(Bootstrap(seed: 1).interval(small) { Bootstrap.mean($0) })
        let b = try #require(Bootstrap(seed: 1).interval(small) { Bootstrap.mean($0) })
        let c = try #require(Bootstrap(seed: 2).interval(small) { Bootstrap.mean($0) })
        #expect(a == b)
        #expect(a != c)
        #expect(a.contains(try #require(Bootstrap.mean(small))))
        #expect(try #require(Bootstrap().interval(small) { Bootstrap.median($0) }).contains(try #require(Bootstrap.median(small))))
        let wide = try #require(Bootstrap().interval(small) { Bootstrap.mean($0) })
        let narrow = try #require(Bootstrap().interval(large) { Bootstrap.mean($0) })
        #expect(narrow.high - narrow.low < wide.high - wide.low)
        // The mean of 300 standard normals: the interval's half-width is about 1.96 / √300 ≈ 0.11.
        #expect(abs((narrow.high - narrow.low) / 2 - 1.96 / 300.0.squareRoot()) < 0.03)
    }

    /// P(a > b) counts ties as one half and equals Mann-Whitney's effect size.
    @Test func probabilityGreaterIsMannWhitneyEffectSize() throws {
        #expect(Bootstrap.probabilityGreater([1, 2, 3], [2]) == 0.5)
        #expect(abs((Bootstrap.probabilityGreater([3, 3], [1, 3, 3]) ?? 0) - 4.0 / 6) < 1e-12)
        #expect(Bootstrap.probabilityGreater([], [1]) == nil)
        var generator = SeededGenerator(seed: 9)
        let x = (0..<25).map { _ in (generator.nextGaussian() * 4).rounded() }
        let y = (0..<17).map { _ in (generator.nextGaussian() * 4).rounded() - 1 }
        let test = try #require(RankTest.mannWhitneyU(x, y))
        #expect(abs((Bootstrap.probabilityGreater(x, y) ?? 0) - test.effectSize) < 1e-12)
    }

    /// Empty samples, bad indices and undefined statistics give nil, never a trap.
    @Test func degenerateInputsGiveNil() {
        #expect(Bootstrap().interval([]) { Bootstrap.median($0) } == nil)
        #expect(Bootstrap().interval([1, 2], []) { _, _ in 0 } == nil)
        #expect(Bootstrap().interval([1, 2]) { _ in nil } == nil)
        #expect(Bootstrap(resamples: 0).interval([1, 2]) { Bootstrap.median($0) } == nil)
        #expect(Bootstrap().intervals([[1.0, 2]], count: 1, indices: [[[0, 5]]]) { [Bootstrap.median($0[0])] } == [nil])
        // A constant sample has a zero-width interval at that value.
        #expect(Bootstrap().interval([0.4, 0.4, 0.4]) { Bootstrap.median($0) } == ConfidenceInterval(low: 0.4, high: 0.4))
    }

    /// The interval is written to JSON as `[low, high]` and read back.
    @Test func intervalCodesAsAPair() throws {
        let data = try JSONEncoder().encode(ConfidenceInterval(low: 0.25, high: 0.5))
        #expect(String(decoding: data, as: UTF8.self) == "[0.25,0.5]")
        #expect(try JSONDecoder().decode(ConfidenceInterval.self, from: data) == ConfidenceInterval(low: 0.25, high: 0.5))
    }

    /// The scorer column carries intervals computed with the report seed: the same numbers as
    /// the bootstrap itself, holding the point estimates, and written into JSON.
    @Test func scorerColumnCarriesSeededIntervals() throws {
        var generator = SeededGenerator(seed: 3)
        let values: [Double?] = (0..<60).map { i in i % 10 == 0 ? nil : (generator.nextGaussian() * 0.2 + 0.4) }
        let floor = values.compactMap { $0 }.map { ($0, $0 - 0.3 + generator.nextGaussian() * 0.2) }
        let column = ScorerColumn(values: values, thresholds: [0.3, 0.5], floor: floor)
        // The column resamples its defined values in sorted order.
        let defined = values.compactMap { $0 }.sorted()
        let medianCI = try #require(column.medianCI), meanCI = try #require(column.meanCI)
        #expect(medianCI.contains(column.median!) && meanCI.contains(column.mean!))
        #expect(column.shareAboveCI.count == 2)
        for i in 0..<2 {
            let ci = try #require(column.shareAboveCI[i])
            #expect(ci.contains(column.shareAbove[i]!) && ci.low >= 0 && ci.high <= 1)
            // The column's one resampling pass gives the same interval as a bootstrap of that share alone.
            #expect(ci == Bootstrap().intervals([defined], count: 3 + i) { r in
                [nil, nil] + [0.3, 0.5].prefix(i + 1).map { Bootstrap.share(r[0], above: $0) }
            }[2 + i])
        }
        #expect(medianCI == Bootstrap().interval(defined) { Bootstrap.median($0) })
        let floorCI = try #require(column.aboveFloorCI)
        #expect(floorCI.contains(column.aboveFloor!) && floorCI.high <= 1)
        // The same input gives the same intervals (reports are reproducible).
        #expect(ScorerColumn(values: values, thresholds: [0.3, 0.5], floor: floor) == column)
        let json = String(decoding: try JSONEncoder().encode(column), as: UTF8.self)
        #expect(json.contains("\"medianCI\":[") && json.contains("\"shareAboveCI\":[[") && json.contains("\"aboveFloorCI\":["))
        #expect(try JSONDecoder().decode(ScorerColumn.self, from: Data(json.utf8)) == column)
        // No defined value: no interval.
        let empty = ScorerColumn(values: [nil, nil], thresholds: [0.3])
        #expect(empty.medianCI == nil && empty.meanCI == nil && empty.shareAboveCI == [nil] && empty.aboveFloorCI == nil)
    }

    /// The counting fast paths (no sort per resample) give the generic path's intervals on the same draws.
    @Test func fastPathsMatchTheGenericResampling() throws {
        var generator = SeededGenerator(seed: 11)
        let a = (0..<41).map { _ in (generator.nextGaussian() * 5).rounded() / 10 }.sorted()
        let b = (0..<33).map { _ in (generator.nextGaussian() * 5).rounded() / 10 - 0.2 }.sorted()
        let bootstrap = Bootstrap(resamples: 500, seed: 4)
        let fast = bootstrap.sampleIntervals(sorted: a, thresholds: [0, 0.3])
        let slow = bootstrap.intervals([a], count: 4) { r in
            [Bootstrap.median(r[0]), Bootstrap.mean(r[0]), Bootstrap.share(r[0], above: 0), Bootstrap.share(r[0], above: 0.3)]
        }
        #expect(fast[0] == slow[0] && fast[2] == slow[2] && fast[3] == slow[3])
        #expect(abs(fast[1]!.low - slow[1]!.low) < 1e-12 && abs(fast[1]!.high - slow[1]!.high) < 1e-12)
        let difference = bootstrap.intervals([a, b], count: 2) { r in
            [Bootstrap.median(r[0]).flatMap { x in Bootstrap.median(r[1]).map { x - $0 } }, Bootstrap.probabilityGreater(r[0], r[1])]
        }
        let fastDifference = try #require(bootstrap.medianDifference(a, b)), fastP = try #require(bootstrap.probabilityGreater(a, b))
        #expect(abs(fastDifference.low - difference[0]!.low) < 1e-12 && abs(fastDifference.high - difference[0]!.high) < 1e-12)
        #expect(abs(fastP.low - difference[1]!.low) < 1e-12 && abs(fastP.high - difference[1]!.high) < 1e-12)
    }

    /// The remembered intervals are the ones a fresh computation gives, for the same inputs and
    /// for inputs that differ in one value or in the bootstrap's seed (never a stale answer).
    @Test func rememberedIntervalsEqualFreshOnes() throws {
        var rng = SeededGenerator(seed: 77)
        var a = (0..<40).map { _ in Double.random(in: -1...1, using: &rng) }.sorted()
        let b = (0..<30).map { _ in Double.random(in: -1...1, using: &rng) }.sorted()
        let pairs = zip(a, b).map { ($0, $1 + 0.1 * $0) }
        for bootstrap in [Bootstrap(resamples: 300), Bootstrap(resamples: 300, seed: 5)] {
            for _ in 0..<2 {
                #expect(bootstrap.sampleIntervals(sorted: a, thresholds: [0, 0.5])
                    == bootstrap.computeSampleIntervals(sorted: a, thresholds: [0, 0.5]))
                #expect(bootstrap.medianDifference(a, b) == bootstrap.medianDifference(sorted: a, sorted: b))
                #expect(bootstrap.probabilityGreater(a, b) == bootstrap.probabilityGreater(sorted: a, sorted: b))
                let rho = bootstrap.intervals([pairs], count: 1) { [Correlation.spearman($0[0].map(\.0), $0[0].map(\.1)).value] }[0]
                #expect(bootstrap.spearmanInterval(pairs: pairs) == rho)
            }
        }
        let before = Bootstrap(resamples: 300).sampleIntervals(sorted: a, thresholds: [0])
        a[a.count - 1] += 5
        let after = Bootstrap(resamples: 300).sampleIntervals(sorted: a, thresholds: [0])
        #expect(after == Bootstrap(resamples: 300).computeSampleIntervals(sorted: a, thresholds: [0]))
        #expect(after != before)
    }
}
