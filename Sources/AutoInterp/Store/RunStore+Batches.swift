public import AutoInterpLLM
public import Foundation

// MARK: - Batch transport: pending requests and batches

/// Where a batch stands (`llm_batches.status`): the provider's statuses, and the tool's own
/// `written` (the input file is on disk), `uploaded`, `submitted` and `ingested`.
public enum BatchStatus: String, Sendable, Codable, CaseIterable {
    case written, uploaded, submitted
    case validating
    case inProgress = "in_progress"
    case finalizing, completed, failed, expired, cancelling, cancelled, ingested

    /// Still waiting for the provider (not ended, not ingested).
    public var isOpen: Bool { ![.completed, .failed, .expired, .cancelled, .ingested].contains(self) }
    /// Ended with results that can be ingested (all, or the partial results of an expiry or cancel).
    public var hasResults: Bool { [.completed, .expired, .cancelled].contains(self) }

    /// A provider's status word: OpenAI's, any case (Together sends `COMPLETED`), with the one-l
    /// spellings `canceled`/`canceling`; nil for a word that is none of them.
    public init?(provider text: String) {
        let word = text.lowercased()
        switch word {
        case "canceled": self = .cancelled
        case "canceling": self = .cancelling
        case "written", "uploaded", "submitted", "ingested": return nil
        default: self.init(rawValue: word)
        }
    }
}

/// One batch of a run (`llm_batches`): its input file and what the provider said about it.
public struct StoredBatch: Sendable, Equatable {
    public var id: Int64
    /// The local id, also sent to the provider as metadata (adopting an orphan on resume).
    public var tag: String
    public var wave: Int
    public var dialect: String
    public var endpoint: String
    public var model: String
    public var localPath: String
    public var inputSHA256: String
    public var requestCount: Int
    public var bytes: Int
    public var status: BatchStatus
    public var inputFileID: String?
    public var providerBatchID: String?
    public var outputFileID: String?
    public var errorFileID: String?
    public var requestCountsJSON: String?
    public var usageJSON: String?
    public var errorsJSON: String?
    /// Lines ingested with an answer, and as failed (or missing from the results).
    public var answered: Int
    public var failed: Int
    public var createdAt: Date
    /// When its results were ingested (or its requests given up): nothing more to do for it.
    public var ingestedAt: Date?

    /// Nothing more to do for it: its results are ingested, or its requests given up.
    public var isSettled: Bool { ingestedAt != nil }
}

/// One line of a batch's results, as ingested: an answer (the chat-completion body) or an error.
public struct BatchLineResult: Sendable, Equatable {
    public enum Outcome: Sendable, Equatable {
        case answered(Data)
        case failed(status: Int?, error: String)
    }

    /// The line's `custom_id` (the line hash).
    public var customID: String
    public var outcome: Outcome

    public init(customID: String, outcome: Outcome) {
        self.customID = customID
        self.outcome = outcome
    }
}

/// One line of a batch input file, as read back from `llm_pending`.
public struct PendingLine: Sendable, Equatable {
    public var rowID: Int64
    public var lineHash: String
    public var body: Data
    public var stage: String?
}

extension RunStore {
    // MARK: Pending requests (collect mode)

    /// What `llm_pending` holds for the request `hash`.
    public func pendingState(forHash hash: String) throws -> LLMDeferredState {
        guard let row = try database.query("SELECT state, attempt, error, response FROM llm_pending WHERE request_hash = ?", [hash]).first
        else { return .unknown }
        switch row.string("state") {
        case "answered": return row.data("response").map { .answered($0) } ?? .unknown
        case "failed": return .failed(attempts: row.int("attempt") ?? 1, error: row.string("error") ?? "the batch line failed")
        default: return .waiting
        }
    }

    /// Records a request for the next batch of `wave`: a new one, or the next attempt of a failed one
    /// (a request already pending or submitted is left as it is).
    public func enqueuePending(_ request: LLMDeferredRequest, wave: Int) throws {
        try database.run(
            """
            INSERT INTO llm_pending (request_hash, line_hash, model, body, attempt, state, wave, unit, stage, created_at)
            VALUES (?, ?, ?, ?, ?, 'pending', ?, ?, ?, ?)
            ON CONFLICT (request_hash) DO UPDATE SET
                line_hash = excluded.line_hash, body = excluded.body, attempt = excluded.attempt, state = 'pending',
                batch_id = NULL, wave = excluded.wave, error = NULL, response = NULL, created_at = excluded.created_at
            WHERE llm_pending.state IN ('failed', 'answered') AND excluded.attempt > llm_pending.attempt
            """,
            [
                request.requestHash, request.lineHash, request.model, request.body, request.attempt, wave, request.unit, request.stage,
                StoreFormat.string(from: Date()),
            ])
    }

    /// Requests collected and not in a batch yet, by model (models sorted).
    public func pendingByModel() throws -> [(model: String, count: Int)] {
        try database.query("SELECT model, COUNT(*) AS n FROM llm_pending WHERE state = 'pending' GROUP BY model ORDER BY model")
            .map { ($0.string("model") ?? "", $0.int("n") ?? 0) }
    }

    /// Up to `limit` pending lines of `model` after row `after`, in row order (a batch file is
    /// written page by page, never held whole).
    public func pendingLines(model: String, after: Int64, limit: Int) throws -> [PendingLine] {
        try database.query(
            """
            SELECT rowid, line_hash, body, stage FROM llm_pending WHERE state = 'pending' AND model = ? AND rowid > ?
            ORDER BY rowid LIMIT ?
            """, [model, after, limit]
        ).map { row in
            PendingLine(
                rowID: row.int64("rowid") ?? 0, lineHash: row.string("line_hash") ?? "", body: row.data("body") ?? Data(),
                stage: row.string("stage"))
        }
    }

    /// Counts of `llm_pending` rows by state.
    public func pendingCounts() throws -> [String: Int] {
        var counts: [String: Int] = [:]
        for row in try database.query("SELECT state, COUNT(*) AS n FROM llm_pending GROUP BY state") {
            counts[row.string("state") ?? ""] = row.int("n") ?? 0
        }
        return counts
    }

    /// Forgets the pending rows that are settled (answered, or failed): once a batch run has no
    /// request waiting, a rerun asks its failed requests afresh.
    public func clearSettledPending() throws {
        try database.run("DELETE FROM llm_pending WHERE state IN ('answered', 'failed')")
    }

    /// Forgets the requests collected but not in a batch yet: a new invocation's first pass collects
    /// again what its stages ask, so nothing an older run (or config) collected is ever sent.
    public func dropUnsentPending() throws {
        try database.run("DELETE FROM llm_pending WHERE state = 'pending'")
    }

    // MARK: Batches

    /// Stores a batch whose input file is written, and moves its lines (the pending rows of `model`
    /// with row ids in `rows`) into it, in one transaction.
    public func addBatch(
        tag: String, wave: Int, dialect: String, endpoint: String, model: String, localPath: String, inputSHA256: String,
        requestCount: Int, bytes: Int, rows: ClosedRange<Int64>
    ) throws -> StoredBatch {
        let now = Date()
        let id = try database.transaction { db -> Int64 in
            _ = try db.run(
                """
                INSERT INTO llm_batches (tag, wave, dialect, endpoint, model, local_path, input_sha256, request_count, bytes,
                                         status, created_at)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'written', ?)
                """,
                [tag, wave, dialect, endpoint, model, localPath, inputSHA256, requestCount, bytes, StoreFormat.string(from: now)])
            let id = try db.scalar("SELECT last_insert_rowid()").flatMap(Int64.init(sqliteValue:)) ?? 0
            let moved = try db.run(
                "UPDATE llm_pending SET state = 'submitted', batch_id = ? WHERE state = 'pending' AND model = ? AND rowid BETWEEN ? AND ?",
                [id, model, rows.lowerBound, rows.upperBound])
            guard moved == requestCount else {
                throw AutoInterpError.database(
                    path, "batch \(tag): \(moved) pending rows for \(requestCount) lines written (bug: report it)")
            }
            return id
        }
        guard let batch = try batch(id: id) else { throw AutoInterpError.database(path, "batch \(tag) was not stored") }
        return batch
    }

    /// The batch with row id `id`.
    public func batch(id: Int64) throws -> StoredBatch? {
        try database.query("SELECT * FROM llm_batches WHERE id = ?", [id]).first.map(storedBatch)
    }

    /// Every batch of the run database, oldest first.
    public func batches() throws -> [StoredBatch] {
        try database.query("SELECT * FROM llm_batches ORDER BY id").map(storedBatch)
    }

    /// The highest wave number stored (0 before the first batch).
    public func lastBatchWave() throws -> Int {
        try database.scalar("SELECT MAX(wave) FROM llm_batches").flatMap(Int.init(sqliteValue:)) ?? 0
    }

    /// Writes what a remote step learned about a batch (only the fields given; nil leaves one as it is).
    public func updateBatch(
        id: Int64, status: BatchStatus, inputFileID: String? = nil, providerBatchID: String? = nil, outputFileID: String? = nil,
        errorFileID: String? = nil, requestCountsJSON: String? = nil, usageJSON: String? = nil, errorsJSON: String? = nil
    ) throws {
        let now = StoreFormat.string(from: Date())
        try database.run(
            """
            UPDATE llm_batches SET status = ?, input_file_id = COALESCE(?, input_file_id),
                provider_batch_id = COALESCE(?, provider_batch_id), output_file_id = COALESCE(?, output_file_id),
                error_file_id = COALESCE(?, error_file_id), request_counts_json = COALESCE(?, request_counts_json),
                usage_json = COALESCE(?, usage_json), errors_json = COALESCE(?, errors_json),
                submitted_at = CASE WHEN ? = 'submitted' AND submitted_at IS NULL THEN ? ELSE submitted_at END,
                ended_at = CASE WHEN ? IN ('completed', 'failed', 'expired', 'cancelled') AND ended_at IS NULL THEN ? ELSE ended_at END
            WHERE id = ?
            """,
            [
                status.rawValue, inputFileID, providerBatchID, outputFileID, errorFileID, requestCountsJSON, usageJSON, errorsJSON,
                status.rawValue, now, status.rawValue, now, id,
            ])
    }

    /// Ingests result lines of `batch`, in one transaction: an answer goes into `llm_cache` under
    /// the request hash the stages ask for (a cut-off one only into its pending row, as in real
    /// time), a failure marks the request failed; each line is one `llm_calls` row (tier `batch`).
    /// A line whose `custom_id` is not one of the batch's is skipped and counted.
    ///
    /// - Returns: The lines ingested as answered and as failed, and the unknown ones.
    @discardableResult
    public func ingest(_ lines: [BatchLineResult], batch: StoredBatch) throws -> (answered: Int, failed: Int, unknown: Int) {
        let now = Date()
        return try database.transaction { db in
            var answered = 0, failed = 0, unknown = 0
            for line in lines {
                guard let row = try db.query(
                    "SELECT request_hash, unit, stage, attempt, state FROM llm_pending WHERE line_hash = ? AND batch_id = ?",
                    [line.customID, batch.id]
                ).first, let hash = row.string("request_hash") else {
                    unknown += 1
                    continue
                }
                // Stored by an ingest a crash interrupted (the rerun reads the whole file again).
                guard row.string("state") == "submitted" else { continue }
                var call = LLMCallRecord(
                    requestHash: hash, endpoint: batch.endpoint, model: batch.model, statusCode: nil, latencyMs: 0, promptTokens: nil,
                    completionTokens: nil, error: nil, cached: false, attempts: row.int("attempt") ?? 1, createdAt: now,
                    unit: row.string("unit"), stage: row.string("stage"))
                call.tier = "batch"
                call.batchID = batch.id
                switch line.outcome {
                case .answered(let body):
                    let response = try? ChatCompletionResponse.decode(body)
                    guard let response else {
                        failed += 1
                        call.statusCode = 200
                        call.error = "batch line \(line.customID.prefix(12)): the answer is not a chat completion"
                        _ = try db.run(
                            "UPDATE llm_pending SET state = 'failed', error = ? WHERE request_hash = ?", [call.error, hash])
                        try Self.insert(call, db)
                        continue
                    }
                    answered += 1
                    _ = try db.run(
                        "UPDATE llm_pending SET state = 'answered', response = ?, error = NULL WHERE request_hash = ?", [body, hash])
                    if response.finishReason != "length" {
                        _ = try db.run(
                            """
                            INSERT INTO llm_cache (request_hash, response, created_at) VALUES (?, ?, ?)
                            ON CONFLICT (request_hash) DO UPDATE SET response = excluded.response, created_at = excluded.created_at
                            """, [hash, body, StoreFormat.string(from: now)])
                    }
                    call.statusCode = 200
                    call.promptTokens = response.usage?.promptTokens
                    call.completionTokens = response.completionTokensOfAllChoices
                    call.cachedTokens = response.cachedPromptTokens
                    call.finishReason = response.finishReason
                case .failed(let status, let error):
                    failed += 1
                    call.statusCode = status
                    call.error = error
                    _ = try db.run("UPDATE llm_pending SET state = 'failed', error = ? WHERE request_hash = ?", [error, hash])
                }
                try Self.insert(call, db)
            }
            _ = try db.run(
                "UPDATE llm_batches SET answered = answered + ?, failed = failed + ? WHERE id = ?", [answered, failed, batch.id])
            return (answered, failed, unknown)
        }
    }

    /// Ends the ingest of `batch`: lines that had no result line fail (`reason`), and the batch is
    /// `ingested` (or `status`: `failed` for a batch refused as a whole).
    public func finishIngest(_ batch: StoredBatch, missingReason: String, status: BatchStatus = .ingested) throws {
        let now = StoreFormat.string(from: Date())
        try database.transaction { db in
            let missing = try db.run(
                "UPDATE llm_pending SET state = 'failed', error = ? WHERE batch_id = ? AND state = 'submitted'", [missingReason, batch.id])
            _ = try db.run(
                "UPDATE llm_batches SET status = ?, failed = failed + ?, ingested_at = ? WHERE id = ?",
                [status.rawValue, missing, now, batch.id])
        }
    }

    /// Puts the lines of a batch the provider refused as a whole (validation failed) back to pending.
    public func releaseBatchLines(_ batch: StoredBatch) throws {
        try database.run("UPDATE llm_pending SET state = 'pending', batch_id = NULL WHERE batch_id = ? AND state = 'submitted'", [batch.id])
    }

    private static func insert(_ call: LLMCallRecord, _ db: SQLiteConnection) throws {
        _ = try db.run(
            """
            INSERT INTO llm_calls (request_hash, endpoint, model, status_code, latency_ms, prompt_tokens, completion_tokens, error,
                                   created_at, cached, attempts, unit, stage, queue_ms, cached_tokens, finish_reason, tier, batch_id)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """,
            [
                call.requestHash, call.endpoint, call.model, call.statusCode, call.latencyMs, call.promptTokens, call.completionTokens,
                call.error, StoreFormat.string(from: call.createdAt), call.cached, call.attempts, call.unit, call.stage, call.queueMs,
                call.cachedTokens, call.finishReason, call.tier, call.batchID,
            ])
    }

    private func storedBatch(_ row: SQLiteRow) throws -> StoredBatch {
        StoredBatch(
            id: row.int64("id") ?? 0, tag: row.string("tag") ?? "", wave: row.int("wave") ?? 0, dialect: row.string("dialect") ?? "",
            endpoint: row.string("endpoint") ?? "", model: row.string("model") ?? "", localPath: row.string("local_path") ?? "",
            inputSHA256: row.string("input_sha256") ?? "", requestCount: row.int("request_count") ?? 0, bytes: row.int("bytes") ?? 0,
            status: BatchStatus(rawValue: row.string("status") ?? "") ?? .failed, inputFileID: row.string("input_file_id"),
            providerBatchID: row.string("provider_batch_id"), outputFileID: row.string("output_file_id"),
            errorFileID: row.string("error_file_id"), requestCountsJSON: row.string("request_counts_json"),
            usageJSON: row.string("usage_json"), errorsJSON: row.string("errors_json"), answered: row.int("answered") ?? 0,
            failed: row.int("failed") ?? 0, createdAt: try StoreFormat.date(row.string("created_at"), path: path),
            ingestedAt: try row.string("ingested_at").map { try StoreFormat.date($0, path: path) })
    }
}

/// The run database as the LLM client's collector in a batch wave.
public struct RunStoreCollector: LLMBatchCollector {
    public let store: RunStore
    public let wave: Int
    public let maxAttempts: Int
    public let lastAttemptRealtime: Bool

    public init(store: RunStore, wave: Int, maxAttempts: Int, lastAttemptRealtime: Bool) {
        self.store = store
        self.wave = wave
        self.maxAttempts = maxAttempts
        self.lastAttemptRealtime = lastAttemptRealtime
    }

    public func state(forHash hash: String) throws -> LLMDeferredState { try store.pendingState(forHash: hash) }
    public func enqueue(_ request: LLMDeferredRequest) throws { try store.enqueuePending(request, wave: wave) }
}
