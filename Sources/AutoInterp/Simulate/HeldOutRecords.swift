import Foundation

/// A unit's held-out records for the simulator: its `score/top` then `score/random` examples,
/// each with its subset and record index (`examples.record_idx`).
public struct HeldOutRecord: Sendable {
    public var subset: ExampleSubset
    public var recordIndex: Int
    public var example: ExampleRecord

    /// The key simulations are stored under (`subset/record_idx`), as in ``UnitProgress/simulated``.
    public var key: String { "\(subset.rawValue)/\(recordIndex)" }
}

extension RunStore {
    /// The unit's held-out records (`score/top`, then `score/random`).
    public func heldOutRecords(unitID: Int64) throws -> [HeldOutRecord] {
        var result: [HeldOutRecord] = []
        for subset in [ExampleSubset.top, .random] {
            for (i, example) in try examples(unitID: unitID, role: .score, subset: subset).enumerated() {
                result.append(HeldOutRecord(subset: subset, recordIndex: i, example: example))
            }
        }
        return result
    }
}

/// The validation / test split of a unit's held-out records for best-of-K explanations
/// (`--explainer-samples K` > 1): the candidates are simulated on the validation half only and
/// the winner is reported on the test half, so the choice never sees the records it is judged on.
///
/// Derivable, never stored: a seeded permutation (seeded by the unit) of the unit's `n` records
/// in ``RunStore/heldOutRecords(unitID:)`` order (`score/top`, then `score/random`); the first
/// ⌊n/2⌋ positions are validation, the other ⌈n/2⌉ test. The same unit always splits the same way.
public enum HeldOutSplit {
    /// How many of `n` records are in the test half.
    public static func testCount(_ n: Int) -> Int { n - n / 2 }

    /// For each of the `n` records of `unit`, whether it is in the validation half.
    public static func validationMask(count n: Int, unit: UnitRef) -> [Bool] {
        var order = Array(0..<n)
        var rng = SeededGenerator(seed: UInt64(unit.index) &* 2 &+ (unit.kind == .feature ? 0 : 1), stream: 21)
        order.shuffle(using: &rng)
        var mask = [Bool](repeating: false, count: n)
        for i in order.prefix(n / 2) { mask[i] = true }
        return mask
    }

    /// `records` (a unit's held-out records, in store order) cut into the two halves.
    public static func split(_ records: [HeldOutRecord], unit: UnitRef) -> (validation: [HeldOutRecord], test: [HeldOutRecord]) {
        let mask = validationMask(count: records.count, unit: unit)
        return (records.indices.filter { mask[$0] }.map { records[$0] }, records.indices.filter { !mask[$0] }.map { records[$0] })
    }
}

extension ActivationSimulator {
    /// Simulates `records` (one request group per subset, the subsets at once) and pairs the
    /// outcomes with the truth, ready to store.
    public func simulate(explanation: String, heldOut records: [HeldOutRecord]) async throws -> [StoredSimulation] {
        let groups = Dictionary(grouping: records, by: \.subset)
        return try await withThrowingTaskGroup(of: [StoredSimulation].self) { group in
            for (subset, items) in groups {
                group.addTask {
                    let tokens = items.map(\.example.tokens)
                    let outcomes = try await self.simulate(explanation: explanation, records: tokens)
                    return zip(items, Self.aligned(outcomes, tokens: tokens)).map { item, outcome in
                        StoredSimulation(
                            subset: subset, recordIndex: item.recordIndex, tokens: item.example.tokens,
                            trueActivations: item.example.activations, outcome: outcome, mode: self.mode)
                    }
                }
            }
            var all: [StoredSimulation] = []
            for try await part in group { all += part }
            return all
        }
    }

    /// Guards against a simulator that returns the wrong number of outcomes or values: such
    /// entries become failures rather than misaligned rows.
    static func aligned(_ outcomes: [SimulationOutcome], tokens: [[String]]) -> [SimulationOutcome] {
        tokens.indices.map { i in
            guard i < outcomes.count else { return .failed(reason: "the simulator returned no outcome for this record") }
            if case .predicted(let values) = outcomes[i], values.count != tokens[i].count {
                return .failed(reason: "the simulator returned \(values.count) values for \(tokens[i].count) tokens")
            }
            return outcomes[i]
        }
    }
}
