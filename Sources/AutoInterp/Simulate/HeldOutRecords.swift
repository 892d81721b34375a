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
