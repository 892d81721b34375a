public import AutoInterpLLM
public import Foundation
public import Logging

/// The batch side of a wave: writes the requests a pass collected (`llm_pending`) as batch input
/// files cut at the provider's limits, one `llm_batches` row each, and settles the open batches
/// (the file backend: ingests the output lines found beside the input).
///
/// Each file is streamed to disk page by page from the store (``BatchSpool``: no wave, however
/// many lines, is held in memory) and renamed into place before its row is stored; lines are
/// grouped by model (one model per batch), in the order they were collected. Uploads stream the
/// file from disk and result files are downloaded to disk, then read line by line.
public struct BatchWaves: Sendable {
    public let store: RunStore
    public let settings: BatchSettings
    /// Where the input files go and, for the file backend, where the output lines are read.
    public let directory: URL
    /// The endpoint name the requests were hashed with (the batches' `endpoint`).
    public let endpoint: String
    public let runName: String
    public let logger: Logger
    /// The provider's batch API (the `openai` backend); nil for the file backend.
    public let api: OpenAIBatchAPI?
    /// Anthropic Message Batches (the `anthropic` backend).
    public let anthropic: AnthropicBatchAPI?

    public init(
        store: RunStore, settings: BatchSettings, directory: URL, endpoint: String, runName: String, logger: Logger,
        api: OpenAIBatchAPI? = nil, anthropic: AnthropicBatchAPI? = nil
    ) {
        self.api = api
        self.anthropic = anthropic
        self.store = store
        self.settings = settings
        self.directory = directory
        self.endpoint = endpoint
        self.runName = runName
        self.logger = logger
    }

    /// The folder of the file backend: `file:DIR`, else `batches/` beside the run database.
    public static func directory(for settings: BatchSettings, store: RunStore) -> URL {
        switch settings.backend {
        case .file(let dir?): dir
        case .file(nil), .openAI, .anthropic: URL(fileURLWithPath: store.path).deletingLastPathComponent().appendingPathComponent("batches")
        }
    }

    /// The output file the file backend reads for `batch`: `<input stem>.output.jsonl` beside it.
    public static func outputURL(of batch: StoredBatch) -> URL {
        URL(fileURLWithPath: batch.localPath.replacingOccurrences(of: ".input.jsonl", with: ".output.jsonl"))
    }

    /// The optional error file the file backend reads for `batch`: `<input stem>.error.jsonl`.
    public static func errorURL(of batch: StoredBatch) -> URL {
        URL(fileURLWithPath: batch.localPath.replacingOccurrences(of: ".input.jsonl", with: ".error.jsonl"))
    }

    // MARK: Writing

    /// Writes every pending request into batch files of `wave` and stores their rows.
    ///
    /// The lines are streamed to each file as they are read from the store (a page of requests
    /// and a 1 MiB buffer held at a time), and a file is cut before a line that would pass the
    /// provider's line or byte limit.
    public func write(wave: Int) throws -> [StoredBatch] {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        var written: [StoredBatch] = []
        for (model, _) in try store.pendingByModel() {
            var after: Int64 = 0
            var part = 0
            var spool: (file: BatchSpool, tag: String, first: Int64, last: Int64)?
            func flush() throws {
                guard var open = spool else { return }
                spool = nil
                written.append(try store(&open.file, tag: open.tag, rows: open.first...open.last, wave: wave, part: part, model: model))
            }
            do {
                while true {
                    let page = try store.pendingLines(model: model, after: after, limit: 1000)
                    if page.isEmpty { break }
                    for pending in page {
                        let line = settings.backend == .anthropic
                            ? try AnthropicLines.requestLine(customID: pending.lineHash, body: pending.body)
                            : BatchLines.inputLine(customID: pending.lineHash, body: pending.body)
                        guard line.count <= settings.limits.maxBytes else {
                            throw AutoInterpError.invalidInput(
                                "batch: one request of \(line.count) bytes is larger than a batch may be (\(settings.limits.maxBytes) bytes)")
                        }
                        if let open = spool, open.file.lines == settings.limits.maxLines || open.file.bytes + line.count > settings.limits.maxBytes {
                            try flush()
                        }
                        if spool == nil {
                            part += 1
                            let tag = "\(runName)-w\(wave)-\(part)-\(UUID().uuidString.prefix(8).lowercased())"
                            spool = (try BatchSpool(temporary: directory.appendingPathComponent(".\(tag).partial")), tag, pending.rowID, pending.rowID)
                        }
                        try spool?.file.append(line)
                        spool?.last = pending.rowID
                    }
                    after = page[page.count - 1].rowID
                }
                try flush()
            } catch {
                spool?.file.discard()
                throw error
            }
        }
        return written
    }

    /// Moves the finished spool file into place as part `part` of `wave` and stores its row.
    private func store(
        _ spool: inout BatchSpool, tag: String, rows: ClosedRange<Int64>, wave: Int, part: Int, model: String
    ) throws -> StoredBatch {
        let url = directory.appendingPathComponent("wave\(wave)-part\(part)-\(Self.safe(model)).input.jsonl")
        let sha = try spool.finish(to: url)
        for old in [Self.outputURL(ofInput: url), Self.errorURL(ofInput: url)] where FileManager.default.fileExists(atPath: old.path) {
            // An output left from an earlier run of the same name is not this batch's.
            try FileManager.default.removeItem(at: old)
        }
        let batch = try store.addBatch(
            tag: tag, wave: wave, dialect: settings.backend.dialect, endpoint: endpoint, model: model, localPath: url.path,
            inputSHA256: sha, requestCount: spool.lines, bytes: spool.bytes, rows: rows)
        logger.info("batch written", metadata: ["file": "\(url.path)", "lines": "\(spool.lines)", "bytes": "\(spool.bytes)", "wave": "\(wave)"])
        return batch
    }

    private static func outputURL(ofInput url: URL) -> URL {
        URL(fileURLWithPath: url.path.replacingOccurrences(of: ".input.jsonl", with: ".output.jsonl"))
    }

    private static func errorURL(ofInput url: URL) -> URL {
        URL(fileURLWithPath: url.path.replacingOccurrences(of: ".input.jsonl", with: ".error.jsonl"))
    }

    /// A model name as a file-name part.
    static func safe(_ model: String) -> String {
        String(model.map { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "." ? $0 : "_" }.prefix(60))
    }

    // MARK: Settling

    /// Ingests every open batch whose results are there.
    ///
    /// - Returns: nil when no batch is left open; else the one line saying where the run waits
    ///   and how to go on.
    public func settle() async throws -> String? {
        var waiting: [StoredBatch] = []
        for batch in try store.batches() where !batch.isSettled {
            if batch.dialect == BatchSettings.Backend.openAI.dialect {
                try await settleOpenAI(batch)
            } else if batch.dialect == BatchSettings.Backend.anthropic.dialect {
                try await settleAnthropic(batch)
            } else if try ingestFile(batch) == false {
                waiting.append(batch)
            }
        }
        guard let first = waiting.first else { return nil }
        let lines = waiting.reduce(0) { $0 + $1.requestCount }
        let more = waiting.count > 1 ? " (and \(waiting.count - 1) more input file(s) beside it)" : ""
        return "batch: \(lines) request(s) wait in \(first.localPath)\(more); run them with an OpenAI-batch runner "
            + "(e.g. vllm run-batch -i \(first.localPath) -o \(Self.outputURL(of: first).path)), put the output lines at "
            + "\(Self.outputURL(of: first).lastPathComponent) beside the input, then rerun the same command to ingest them and go on"
    }

    /// The file backend: ingests `batch` from its output (and error) file; false when there is none yet.
    private func ingestFile(_ batch: StoredBatch, missingReason: String? = nil, status: BatchStatus = .ingested) throws -> Bool {
        let output = Self.outputURL(of: batch)
        guard FileManager.default.fileExists(atPath: output.path) else { return false }
        var unknown = 0
        var counts = (answered: 0, failed: 0)
        for url in [output, Self.errorURL(of: batch)] where FileManager.default.fileExists(atPath: url.path) {
            var page: [BatchLineResult] = []
            func flush() throws {
                let done = try store.ingest(page, batch: batch)
                counts.answered += done.answered
                counts.failed += done.failed
                unknown += done.unknown
                page.removeAll(keepingCapacity: true)
            }
            let anthropic = batch.dialect == BatchSettings.Backend.anthropic.dialect
            try BatchLines.forEachLine(of: url) { text, line in
                page.append(try anthropic ? Self.anthropicResult(text, path: url.path, line: line) : BatchLines.result(text, path: url.path, line: line))
                if page.count >= settings.ingestPage {
                    try flush()
                    try settings.stepHook?(.midIngest)
                }
            }
            try flush()
        }
        try store.finishIngest(
            batch, missingReason: missingReason ?? "no result line for this request in \(output.lastPathComponent)", status: status)
        if unknown > 0 {
            logger.warning("batch output lines not in the batch ignored", metadata: ["file": "\(output.path)", "lines": "\(unknown)"])
        }
        logger.info(
            "batch ingested",
            metadata: ["file": "\(output.path)", "answered": "\(counts.answered)", "failed": "\(counts.failed)", "unknown": "\(unknown)"])
        return true
    }

    // MARK: The OpenAI files + batches API

    /// Takes an OpenAI batch through its steps until its results are ingested, writing its row
    /// before and after each remote call: written → uploaded (file id) → submitted (batch id) →
    /// the provider's statuses → ingested. A rerun after a crash goes on from the stored step: it
    /// re-uploads only a file the provider lost, and adopts a batch created under this batch's tag
    /// whose id was never stored, so no batch is submitted twice.
    private func settleOpenAI(_ start: StoredBatch) async throws {
        guard let api else { throw AutoInterpError.invalidOption(.batch, "batch \(start.tag) was sent with \(Setting.batch) openai: rerun with it") }
        var batch = start
        while true {
            switch batch.status {
            case .written:
                let url = try checkedInput(batch)
                try settings.stepHook?(.beforeUpload)
                let fileID = try await api.upload(fileAt: url)
                try store.updateBatch(id: batch.id, status: .uploaded, inputFileID: fileID)
                try settings.stepHook?(.afterUpload)
            case .uploaded:
                if let orphan = try await adoptable(batch, api: api) {
                    logger.notice("adopting a batch created before a crash", metadata: ["batch": "\(orphan.id)", "tag": "\(batch.tag)"])
                    try store.updateBatch(id: batch.id, status: .submitted, providerBatchID: orphan.id)
                } else if let fileID = batch.inputFileID, try await api.fileExists(fileID) {
                    let created = try await api.create(
                        inputFileID: fileID, metadata: ["autointerp_run": String(runName.prefix(512)), "autointerp_batch": batch.tag])
                    try settings.stepHook?(.afterCreate)
                    try store.updateBatch(id: batch.id, status: .submitted, providerBatchID: created.id)
                } else {
                    try store.updateBatch(id: batch.id, status: .written)  // the provider lost the file: upload again
                }
            case .submitted, .validating, .inProgress, .finalizing, .cancelling:
                guard let id = batch.providerBatchID else {
                    throw AutoInterpError.database(store.path, "batch \(batch.tag) has no provider id")
                }
                let remote = try await api.batch(id)
                guard let status = BatchStatus(provider: remote.status) else {
                    throw AutoInterpError.invalidInput(
                        "batch \(id): the provider answered status '\(remote.status)', which is not a batch status of the OpenAI "
                            + "files + batches API; check that \(Setting.endpoint) speaks it, then rerun (the batch stays recorded)")
                }
                try store.updateBatch(
                    id: batch.id, status: status, outputFileID: remote.outputFileID, errorFileID: remote.errorFileID,
                    requestCountsJSON: remote.requestCountsJSON, usageJSON: remote.usageJSON, errorsJSON: remote.errorsJSON)
                try settings.stepHook?(.midPoll)
                if status.isOpen, settings.pollInterval > 0 {
                    try await Task.sleep(for: .seconds(settings.pollInterval * Double.random(in: 0.8...1.2)))
                }
                if status == .failed {
                    // Refused as a whole (a bug in the JSONL): its lines fail, with the provider's reasons.
                    let reasons = remote.errorLines.prefix(3).joined(separator: "; ")
                    logger.error("batch failed validation", metadata: ["batch": "\(id)", "errors": "\(reasons)"])
                    try store.finishIngest(batch, missingReason: "the batch failed validation (\(reasons))", status: .failed)
                    return
                }
            case .completed, .expired, .cancelled:
                var gone = false
                for (fileID, url) in [(batch.outputFileID, Self.outputURL(of: batch)), (batch.errorFileID, Self.errorURL(of: batch))] {
                    guard let fileID else { continue }
                    if try await !api.download(fileID, to: url) { gone = true }
                }
                if batch.outputFileID == nil, !FileManager.default.fileExists(atPath: Self.outputURL(of: batch).path) {
                    try OutputFile.write(Data(), to: Self.outputURL(of: batch))
                }
                if gone {
                    // The results expired at the provider: the lines go back to pending.
                    logger.warning("batch results are gone; its requests go in the next wave", metadata: ["batch": "\(batch.tag)"])
                    try store.releaseBatchLines(batch)
                }
                // An expired or cancelled batch keeps that status once ingested (`ingested_at` set).
                _ = try ingestFile(
                    batch, missingReason: "the batch \(batch.status.rawValue) before this request was answered",
                    status: batch.status == .completed ? .ingested : batch.status)
                return
            case .failed, .ingested:
                return
            }
            guard let next = try store.batch(id: batch.id) else { return }
            batch = next
        }
    }

    /// The input file of `batch`, checked against the hash stored when it was written (read in
    /// pieces; the upload then streams it from disk).
    private func checkedInput(_ batch: StoredBatch) throws -> URL {
        let url = URL(fileURLWithPath: batch.localPath)
        guard BatchSpool.sha256(ofFileAt: url) == batch.inputSHA256 else {
            throw AutoInterpError.invalidFile(
                batch.localPath,
                "batch input missing or changed since it was written (sha256 differs); restore it, or start over with \(Setting.forceNew)")
        }
        return url
    }

    /// A batch at the provider carrying `batch`'s tag (created before a crash, its id never stored).
    private func adoptable(_ batch: StoredBatch, api: OpenAIBatchAPI) async throws -> ProviderBatch? {
        var after: String?
        let since = Int(batch.createdAt.timeIntervalSince1970) - 60
        for _ in 0..<50 {
            let page = try await api.list(after: after)
            if let found = page.batches.first(where: { $0.metadata["autointerp_batch"] == batch.tag }) { return found }
            guard page.hasMore, let last = page.batches.last, (last.createdAt ?? 0) >= since else { return nil }
            after = last.id
        }
        return nil
    }

    // MARK: Money

    /// The line that stops the run when the pending requests, at batch prices, would take the
    /// run past `--max-cost`; nil when they fit (or no limit is set). Prompt tokens are estimated
    /// at 4 bytes of the body each, completions at their `max_tokens` (512 without one).
    public func overBudget(runID: Int64) throws -> String? {
        guard let limit = settings.maxCost, let stored = try store.prices(runID: runID) else { return nil }
        let prices = TokenPrices(stored)
        let paid = try store.modelUsage().reduce(0.0) { $0 + (prices.cost(of: $1) ?? 0) }
        let promptPrice = stored.batchPrompt ?? stored.prompt / 2
        let completionPrice = stored.batchCompletion ?? stored.completion / 2
        var estimate = 0.0
        var lines = 0
        for (model, _) in try store.pendingByModel() {
            var after: Int64 = 0
            while true {
                let page = try store.pendingLines(model: model, after: after, limit: 1000)
                guard let last = page.last else { break }
                for line in page {
                    let maxTokens = ((try? JSONSerialization.jsonObject(with: line.body)) as? [String: Any])?["max_tokens"] as? Int ?? 512
                    estimate += (Double(line.body.count) / 4 * promptPrice + Double(maxTokens) * completionPrice) / 1_000_000
                    lines += 1
                }
                after = last.rowID
            }
        }
        guard paid + estimate > limit else { return nil }
        return String(
            format: "batch: the next wave's %d request(s) would cost up to $%.4f at batch prices, with $%.4f paid so far: "
                + "over \(Setting.maxCost) $%.4f; "
                + "nothing was submitted (raise \(Setting.maxCost), or run fewer units, then rerun)", lines, estimate, paid, limit)
    }

    // MARK: Anthropic Message Batches

    /// An Anthropic result line as a ``BatchLineResult``.
    private static func anthropicResult(_ text: Substring, path: String, line: Int) throws -> BatchLineResult {
        guard let object = (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String: Any],
            object["custom_id"] is String
        else { throw AutoInterpError.invalidFile(path, "line \(line) is not an Anthropic batch result line") }
        let read = AnthropicLines.result(object)
        if let body = read.body { return BatchLineResult(customID: read.customID, outcome: .answered(body)) }
        return BatchLineResult(customID: read.customID, outcome: .failed(status: nil, error: read.error ?? "failed"))
    }

    /// Takes an Anthropic batch through its steps: written → submitted (its id stored after the
    /// create; a batch created before a crash is adopted when it is the one created since this
    /// batch was written with its number of requests) → ended → its results ingested.
    private func settleAnthropic(_ start: StoredBatch) async throws {
        guard let anthropic else {
            throw AutoInterpError.invalidOption(.batch, "batch \(start.tag) was sent with \(Setting.batch) anthropic: rerun with it")
        }
        var batch = start
        while true {
            switch batch.status {
            case .written, .uploaded:
                let url = try checkedInput(batch)
                let known = Set(try store.batches().compactMap(\.providerBatchID))
                let since = Int(batch.createdAt.timeIntervalSince1970) - 60
                let orphans = try await anthropic.list().filter { remote in
                    !known.contains(remote.id) && (remote.createdAt ?? 0) >= since
                        && Self.total(remote.requestCountsJSON) == batch.requestCount
                }
                if orphans.count == 1 {
                    try store.updateBatch(id: batch.id, status: .submitted, providerBatchID: orphans[0].id)
                } else {
                    try settings.stepHook?(.beforeUpload)
                    let created = try await anthropic.create(requestsFileAt: url)
                    try settings.stepHook?(.afterCreate)
                    try store.updateBatch(id: batch.id, status: .submitted, providerBatchID: created.id)
                }
            case .submitted, .validating, .inProgress, .finalizing, .cancelling:
                guard let id = batch.providerBatchID else {
                    throw AutoInterpError.database(store.path, "batch \(batch.tag) has no provider id")
                }
                let remote = try await anthropic.batch(id)
                let status = BatchStatus(provider: remote.status) ?? .inProgress
                try store.updateBatch(id: batch.id, status: status, requestCountsJSON: remote.requestCountsJSON)
                try settings.stepHook?(.midPoll)
                if status.isOpen, settings.pollInterval > 0 {
                    try await Task.sleep(for: .seconds(settings.pollInterval * Double.random(in: 0.8...1.2)))
                }
            case .completed, .expired, .cancelled:
                guard let id = batch.providerBatchID else { return }
                if try await !anthropic.results(id, to: Self.outputURL(of: batch)) {
                    logger.warning("batch results are gone; its requests go in the next wave", metadata: ["batch": "\(batch.tag)"])
                    try store.releaseBatchLines(batch)
                    try OutputFile.write(Data(), to: Self.outputURL(of: batch))
                }
                _ = try ingestFile(batch, missingReason: "no result line for this request in the batch's results")
                return
            case .failed, .ingested:
                return
            }
            guard let next = try store.batch(id: batch.id) else { return }
            batch = next
        }
    }

    /// The sum of Anthropic's `request_counts`.
    private static func total(_ json: String?) -> Int {
        guard let json, let object = (try? JSONSerialization.jsonObject(with: Data(json.utf8))) as? [String: Int] else { return -1 }
        return object.values.reduce(0, +)
    }
}
