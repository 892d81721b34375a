// The report bootstrap's cost: one scorer's intervals for 200 units a kind, as the reports
// compute them (three columns of median, mean and two shares; the share above own control of two
// columns; features − neurons; P(feature > neuron)), 2,000 resamples each, and one agreement cell.
// Built and run by
// Benchmarks/bootstrap_speed.sh with the optimizer on.
import Foundation

var generator = SeededGenerator(seed: 1)
let units = 200
let features = (0..<units).map { _ in generator.nextGaussian() * 0.2 + 0.4 }.sorted()
let neurons = (0..<units).map { _ in generator.nextGaussian() * 0.2 + 0.2 }.sorted()
let controls = (0..<(2 * units)).map { _ in generator.nextGaussian() * 0.1 }.sorted()
let outcomes = (0..<units).map { _ in Double(Int.random(in: 0...2, using: &generator)) / 2 }.sorted()
let bootstrap = Bootstrap()
var checksum = 0.0
let start = DispatchTime.now().uptimeNanoseconds
for column in [features, neurons, controls] {
    checksum += bootstrap.sampleIntervals(sorted: column, thresholds: [0.3, 0.5]).compactMap { $0?.low }.reduce(0, +)
}
for _ in 0..<2 { checksum += bootstrap.sampleIntervals(sorted: outcomes, thresholds: [])[1]?.low ?? 0 }
checksum += bootstrap.medianDifference(features, neurons)?.low ?? 0
checksum += bootstrap.probabilityGreater(features, neurons)?.low ?? 0
let elapsed = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
print(String(format: "one scorer, %d units a kind, %d resamples: %.3f s (checksum %.6f)", units, bootstrap.resamples, elapsed, checksum))

// One agreement-matrix cell: Spearman's rho of 400 units' two scores, resampled as pairs.
let pairs = zip(features + neurons, (features + neurons).map { $0 + generator.nextGaussian() * 0.1 }).map { ($0, $1) }
let cellStart = DispatchTime.now().uptimeNanoseconds
let rhoCI = bootstrap.interval(pairs: pairs) { Correlation.spearman($0.map(\.0), $0.map(\.1)).value }
let cellElapsed = Double(DispatchTime.now().uptimeNanoseconds - cellStart) / 1e9
print(String(format: "one agreement cell, %d units: %.3f s (low %.4f)", pairs.count, cellElapsed, rhoCI?.low ?? .nan))
