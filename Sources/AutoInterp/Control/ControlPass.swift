import Foundation
public import Logging

/// The second pass of a run: each unit with a usable explanation is scored again with a
/// *control* explanation, another unit's of the same kind (``ControlAssignment``), which gives
/// every scorer its random-explanation floor.
///
/// A control is an `explanations` row of the unit with `explainer = 'control'`, the donor's
/// model and text, and `control_of` = the donor's id. It is scored by the requested stages whose
/// ``UnitStage/scoresControls`` is true (simulate and score, the classification scorers; never
/// explain or rubric), the same stage objects run by a ``UnitStageRunner`` on a progress view
/// whose explanation is the control. Stored controls are reused and finished where a killed
/// run stopped; with no such stage requested (e.g. `--stages explain`) no control is stored.
/// With a ``ControlSample`` limit only the sampled units get a control (every control already
/// stored is still finished).
public struct ControlPass: Sendable {
    public let store: RunStore
    /// Runs the control stages (its runner's `requested` are ``stages(of:requested:)``).
    public let scheduler: UnitScheduler
    /// The run's selection seed: the derangement's seed and the sample's.
    public let seed: UInt64
    /// Which explained units get a control.
    public let sample: ControlSample
    public let logger: Logger

    /// The requested stages that score controls; empty means no control pass.
    public static func stages(of stages: [any UnitStage], requested: Set<StageName>) -> Set<StageName> {
        Set(stages.filter { $0.scoresControls && requested.contains($0.name) }.map(\.name))
    }

    public init(store: RunStore, scheduler: UnitScheduler, seed: UInt64, sample: ControlSample = .all, logger: Logger) {
        self.store = store
        self.scheduler = scheduler
        self.seed = seed
        self.sample = sample
        self.logger = logger
    }

    /// What the pass did, and why the run stopped early during it (nil when it did not).
    public struct Outcome: Sendable {
        public var reports: [UnitOutcome]
        /// Kinds that got no control, with the reason.
        public var skipped: [String]
        public var stoppedEarly: String?
        /// The sample asked for, and per kind (`feature`, `neuron`) the explained units and how many of them were sampled.
        public var sample: ControlSample = .all
        public var explained: [String: Int] = [:]
        public var sampled: [String: Int] = [:]
    }

    /// Stores the missing controls, then runs the control stages of every control not complete.
    public func run(_ run: RunInfo) async throws -> Outcome {
        let explained = try store.progress(runID: run.id).filter { !$0.isDead && $0.explanation != nil }
        let assignment = ControlAssignment.donors(for: explained.map(\.unit.unit), seed: seed, sample: sample)
        try storeMissingControls(runID: run.id, explained: explained, assignment: assignment)
        let skipped = assignment.skipped.sorted { $0.key < $1.key }.map(\.value)
        for reason in skipped { logger.info("no control: \(reason)") }
        let controls = try store.controlProgress(runID: run.id)
        let (reports, stoppedEarly) = try await scheduler.run(run, units: controls, label: "controls")
        return Outcome(
            reports: reports, skipped: skipped, stoppedEarly: stoppedEarly, sample: sample,
            explained: Dictionary(uniqueKeysWithValues: assignment.explained.map { ($0.key.rawValue, $0.value) }),
            sampled: Dictionary(uniqueKeysWithValues: assignment.sampled.map { ($0.key.rawValue, $0.value) }))
    }

    /// Adds a control for every explained unit that has none yet (one transaction), from its donor in `assignment`.
    private func storeMissingControls(runID: Int64, explained: [UnitProgress], assignment: ControlAssignment.Assignment) throws {
        let controlled = Set(try store.controlProgress(runID: runID).map(\.unit.id))
        let byUnit = Dictionary(explained.map { ($0.unit.unit, $0) }, uniquingKeysWith: { first, _ in first })
        var missing: [(unitID: Int64, donor: StoredExplanation)] = []
        for unit in explained where !controlled.contains(unit.unit.id) {
            guard let donorUnit = assignment.donors[unit.unit.unit], let donor = byUnit[donorUnit]?.explanation else { continue }
            missing.append((unit.unit.id, donor))
        }
        guard !missing.isEmpty else { return }
        try store.addControlExplanations(missing)
        logger.info("stored \(missing.count) control explanations")
    }
}
