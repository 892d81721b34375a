import Foundation

/// The simulate stage: predicts the unit's activations on its held-out records from the
/// explanation alone and stores one `simulations` row per record (failures with their reason).
///
/// Done when every held-out record has a row. The simulator may be shared (LLM) or made per
/// unit (the pattern baseline, whose simulator holds the unit's patterns).
public struct SimulateStage: UnitStage {
    public var name: StageName { .simulate }
    public var needs: [StageName] { [.explain] }
    public var stores: String { "simulations: one row per held-out record (score/top, score/random)" }

    /// The simulator for a unit.
    public let simulatorFor: @Sendable (UnitWork) throws -> any ActivationSimulator

    /// A stage that uses `simulator` for every unit.
    public init(simulator: any ActivationSimulator) {
        simulatorFor = { _ in simulator }
    }

    /// A stage that asks `simulatorFor` for each unit's simulator.
    public init(simulatorFor: @escaping @Sendable (UnitWork) throws -> any ActivationSimulator) {
        self.simulatorFor = simulatorFor
    }

    public func isDone(_ progress: UnitProgress) -> Bool {
        progress.explanation != nil && progress.simulated.count >= progress.scoredExamples
    }

    public func run(_ work: UnitWork) async throws -> StageResult {
        guard let explanation = work.progress.explanation else { return .nothing }
        let missing = try work.store.heldOutRecords(unitID: work.unit.id).filter { !work.progress.simulated.contains($0.key) }
        guard !missing.isEmpty else { return .nothing }
        let simulations = try await simulatorFor(work).simulate(explanation: explanation.text, heldOut: missing)
        try work.store.saveSimulations(explanationID: explanation.id, simulations)
        return StageResult(stored: true, failedSimulations: simulations.count { !$0.isOK })
    }
}
