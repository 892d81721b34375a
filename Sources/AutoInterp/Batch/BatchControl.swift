public import AutoInterpLLM
public import Foundation
public import Logging

/// `autointerp batch status` and `batch cancel`: a run's batches, read from its database, and
/// the cancel that keeps what was answered.
public enum BatchControl {
    /// The run's batches and its collected requests by state, as text lines (`batch status`).
    public static func status(store: RunStore) throws -> [String] {
        let batches = try store.batches()
        var lines = ["wave  batch                          dialect  status       lines  answered  failed  provider id"]
        for batch in batches {
            lines.append(
                [
                    String(batch.wave).padding(toLength: 6, withPad: " ", startingAt: 0),
                    batch.tag.padding(toLength: 31, withPad: " ", startingAt: 0),
                    batch.dialect.padding(toLength: 9, withPad: " ", startingAt: 0),
                    batch.status.rawValue.padding(toLength: 13, withPad: " ", startingAt: 0),
                    String(batch.requestCount).padding(toLength: 7, withPad: " ", startingAt: 0),
                    String(batch.answered).padding(toLength: 10, withPad: " ", startingAt: 0),
                    String(batch.failed).padding(toLength: 8, withPad: " ", startingAt: 0),
                    batch.providerBatchID ?? "-",
                ].joined())
        }
        if batches.isEmpty { lines = ["no batches (the run was not made with \(Setting.batch), or no wave was written yet)"] }
        let counts = try store.pendingCounts()
        if !counts.isEmpty {
            lines.append("requests: " + counts.sorted { $0.key < $1.key }.map { "\($0.value) \($0.key)" }.joined(separator: ", "))
        }
        let open = batches.filter { !$0.isSettled }
        lines.append(open.isEmpty ? "no batch is open" : "\(open.count) batch(es) open: rerun the same run command to go on")
        return lines
    }

    /// Cancels every open batch of the run: an OpenAI batch at the provider (then waits for it to
    /// end and ingests its partial results), a file batch by ingesting the output lines already
    /// there; the requests without an answer fail as cancelled (a rerun asks them again).
    ///
    /// - Returns: The batches cancelled.
    public static func cancel(
        store: RunStore, api: OpenAIBatchAPI?, anthropic: AnthropicBatchAPI? = nil, settings: BatchSettings, runName: String,
        logger: Logger
    ) async throws -> [StoredBatch] {
        let waves = BatchWaves(
            store: store, settings: settings, directory: BatchWaves.directory(for: settings, store: store), endpoint: "", runName: runName,
            logger: logger, api: api, anthropic: anthropic)
        var cancelled: [StoredBatch] = []
        for batch in try store.batches() where !batch.isSettled {
            if batch.dialect == BatchSettings.Backend.openAI.dialect, let id = batch.providerBatchID {
                guard let api else {
                    throw AutoInterpError.invalidOption(
                        .endpoint, "batch \(batch.tag) is at the provider: pass \(Setting.endpoint) to cancel it there")
                }
                let remote = try await api.cancel(id)
                try store.updateBatch(id: batch.id, status: BatchStatus(provider: remote.status) ?? .cancelling)
            } else if batch.dialect == BatchSettings.Backend.anthropic.dialect, let id = batch.providerBatchID {
                guard let anthropic else {
                    throw AutoInterpError.invalidOption(
                        .endpoint, "batch \(batch.tag) is at the provider: pass \(Setting.endpoint) to cancel it there")
                }
                let remote = try await anthropic.cancel(id)
                try store.updateBatch(id: batch.id, status: BatchStatus(provider: remote.status) ?? .cancelling)
            } else if batch.dialect == BatchSettings.Backend.file(nil).dialect,
                FileManager.default.fileExists(atPath: BatchWaves.outputURL(of: batch).path) {
                // The file backend's results so far are ingested like a finished batch's.
            } else {
                // Not at the provider (not uploaded or created yet), or a file batch with no output: nothing came back.
                try store.finishIngest(batch, missingReason: "the batch was cancelled (batch cancel) before this request was answered",
                    status: .cancelled)
            }
            cancelled.append(batch)
        }
        _ = try await waves.settle()
        // File batches whose output was there are ingested now; the rest wait no more.
        for batch in try store.batches() where !batch.isSettled && batch.dialect == BatchSettings.Backend.file(nil).dialect {
            try store.finishIngest(batch, missingReason: "the batch was cancelled (batch cancel)", status: .cancelled)
        }
        return cancelled
    }
}
