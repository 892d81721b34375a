import Foundation

/// The simulate stage: predicts the unit's activations on its held-out records from the
/// explanation alone and stores one `simulations` row per record (failures with their reason).
///
/// Done when every held-out record has a row that succeeded or failed ``maxAttempts`` times: a
/// failed record is asked again on the next run (its answer is not replayed from the cache).
/// The simulator may be shared (LLM) or made per unit (the pattern baseline, whose simulator
/// holds the unit's patterns).
public struct SimulateStage: UnitStage {
    public var name: StageName { .simulate }
    public var needs: [StageName] { [.explain] }
    public var stores: String { "simulations: one row per held-out record (score/top, score/random)" }

    /// How many times a record is simulated before its failure is final.
    public static let maxAttempts = 3

    /// The simulator for a unit.
    public let simulatorFor: @Sendable (UnitWork) throws -> any ActivationSimulator
    /// Best-of-K (``HeldOutSplit``): every explanation (the winner, controls, audit variants) is
    /// simulated on the test half of the held-out records only; the validation half chose the winner.
    public var testHalfOnly = false

    /// A stage that uses `simulator` for every unit.
    public init(simulator: any ActivationSimulator) {
        simulatorFor = { _ in simulator }
    }

    /// A stage that asks `simulatorFor` for each unit's simulator.
    public init(simulatorFor: @escaping @Sendable (UnitWork) throws -> any ActivationSimulator) {
        self.simulatorFor = simulatorFor
    }

    public func isDone(_ progress: UnitProgress) -> Bool {
        progress.explanation != nil && progress.simulated.count >= recordCount(progress)
            && progress.failedSimulationAttempts.values.allSatisfy { $0 >= Self.maxAttempts }
    }

    public func gap(_ progress: UnitProgress) -> String? {
        guard progress.failedSimulations > 0 else { return nil }
        return "\(progress.failedSimulations) of \(recordCount(progress)) held-out records failed to simulate \(Self.maxAttempts) times (see simulations.error)"
    }

    /// The records the stage must cover: every held-out one, or the test half.
    func recordCount(_ progress: UnitProgress) -> Int {
        testHalfOnly ? HeldOutSplit.testCount(progress.scoredExamples) : progress.scoredExamples
    }

    public func run(_ work: UnitWork) async throws -> StageResult {
        guard let explanation = work.progress.explanation else { return .nothing }
        let progress = work.progress
        var records = try work.store.heldOutRecords(unitID: work.unit.id)
        if testHalfOnly { records = HeldOutSplit.split(records, unit: work.unit.unit).test }
        let missing = records.filter { record in
            !progress.simulated.contains(record.key) || (progress.failedSimulationAttempts[record.key] ?? Self.maxAttempts) < Self.maxAttempts
        }
        guard !missing.isEmpty else { return .nothing }
        let simulations = try await simulatorFor(work).simulate(explanation: explanation.text, heldOut: missing)
        try work.store.saveSimulations(explanationID: explanation.id, simulations)
        let failed = simulations.filter { !$0.isOK }
        var failure: String?
        if case .failed(let reason)? = failed.first?.outcome {
            failure = "\(failed.count) of \(simulations.count) simulations failed (rerun to retry): \(reason)"
        }
        return StageResult(stored: true, failedSimulations: failed.count, failure: failure)
    }
}

extension SimulateStage {
    /// The catalogue entry: the run's simulator (the LLM's, or each unit's pattern simulator).
    public static let descriptor = StageDescriptor(
        name: .simulate, help: "predict activations on held-out records from the explanation",
        make: { context in
            var stage = SimulateStage(simulatorFor: context.simulatorFor)
            stage.testHalfOnly = context.settings.explainerSamples > 1
            return stage
        })
}
