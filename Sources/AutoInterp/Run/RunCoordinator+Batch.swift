import AutoInterpLLM
import Foundation
import Logging

/// What a batch wave's passes run: the units' stages and the control pass, each with its own
/// ledger of the stages that already ran in this invocation.
struct WavePass: Sendable {
    var store: RunStore
    var stages: [any UnitStage]
    var requested: Set<StageName>
    var unitsInFlight: Int
    var observer: (any RunObserver)?
    var seed: UInt64
    /// Whether the control pass runs (not in a shard).
    var controls: Bool
    /// Which explained units the control pass scores.
    var sample: ControlSample = .default
    var logger: Logger
    let ledger = StageLedger()
    let controlLedger = StageLedger()
}

extension RunCoordinator {
    /// `run --batch`: passes of the stages in collect mode, each followed by a wave of batches.
    ///
    /// A pass runs the units (the first: every unit; later ones: the units that deferred) with
    /// the client collecting what the cache cannot answer, and the control pass once no
    /// explanation waits (the derangement needs them all, as in real time). Its requests are
    /// written as batches (``BatchWaves``) and settled; the next pass replays from the cache.
    /// Batches left open by an earlier invocation are settled first. The run stops, to be rerun,
    /// when a batch is not back yet (the file backend) or after ``BatchSettings/maxWaves`` waves.
    func runWaves(_ waves: BatchWaves, pass: WavePass, client: LLMClient, run: RunInfo, units: [UnitProgress]) async throws
        -> (reports: [UnitOutcome], controls: ControlPass.Outcome?, stoppedEarly: String?)
    {
        let store = pass.store
        let settings = waves.settings
        var reports: [UnitRef: UnitOutcome] = [:]
        var controlReports: [UnitRef: UnitOutcome] = [:]
        var controlOutcome: ControlPass.Outcome?
        func result(_ stopped: String?) -> ([UnitOutcome], ControlPass.Outcome?, String?) {
            let ordered = units.compactMap { reports[$0.unit.unit] }
            let controls = controlOutcome.map { outcome in
                ControlPass.Outcome(
                    reports: controlReports.values.sorted { $0.unit < $1.unit }, skipped: outcome.skipped,
                    stoppedEarly: outcome.stoppedEarly)
            }
            return (ordered, controls, stopped)
        }
        // Batches an earlier invocation left open: ingest what came back before asking anything.
        if let waiting = try await waves.settle() { return result(waiting) }
        try store.dropUnsentPending()

        let runner = UnitStageRunner(store: store, stages: pass.stages, requested: pass.requested, logger: logger, ledger: pass.ledger)
        let scheduler = UnitScheduler(runner: runner, unitsInFlight: pass.unitsInFlight, observer: pass.observer, logger: logger)
        let controlStages = ControlPass.stages(of: pass.stages, requested: pass.requested)
        var wave = try store.lastBatchWave() + 1
        var todo = units
        let unitIDs = Dictionary(units.map { ($0.unit.unit, $0.unit.id) }, uniquingKeysWith: { first, _ in first })
        for round in 1...(settings.maxWaves + 1) {
            client.collect(into: RunStoreCollector(
                store: store, wave: wave, maxAttempts: settings.maxAttempts, lastAttemptRealtime: settings.retryRealtime))
            defer { client.collect(into: nil) }
            let (passReports, stopped) = try await scheduler.run(run, units: todo, label: round == 1 ? "run" : "wave \(wave)")
            for report in passReports { reports[report.unit] = report }
            if let stopped { return result(stopped) }
            let explaining = passReports.contains { $0.status == .deferred && $0.deferredStages.contains(.explain) }
            if pass.controls, !controlStages.isEmpty, !explaining {
                let controlRunner = UnitStageRunner(
                    store: store, stages: pass.stages, requested: controlStages, logger: logger, ledger: pass.controlLedger)
                let controlScheduler = UnitScheduler(
                    runner: controlRunner, unitsInFlight: pass.unitsInFlight, observer: pass.observer, logger: logger)
                let outcome = try await ControlPass(store: store, scheduler: controlScheduler, seed: pass.seed, sample: pass.sample, logger: logger).run(run)
                for report in outcome.reports { controlReports[report.unit] = report }
                controlOutcome = outcome
                if let stopped = outcome.stoppedEarly { return result(stopped) }
            }
            client.collect(into: nil)
            let pending = try store.pendingCounts()["pending"] ?? 0
            if pending == 0 {
                try store.clearSettledPending()
                return result(nil)
            }
            guard round <= settings.maxWaves else { break }
            if let over = try waves.overBudget(runID: run.id) { return result(over) }
            let written = try waves.write(wave: wave)
            logger.info("wave \(wave): \(pending) request(s) in \(written.count) batch(es)")
            wave += 1
            if let waiting = try await waves.settle() { return result(waiting) }
            todo = try reports.values.filter { $0.status == .deferred }.sorted { $0.unit < $1.unit }.compactMap { report in
                try unitIDs[report.unit].flatMap { try store.progress(unitID: $0) }
            }
        }
        return result(
            "batch: requests still wait after \(settings.maxWaves) wave(s) in this invocation; rerun the same command to go on")
    }
}
