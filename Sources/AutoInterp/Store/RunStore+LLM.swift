public import AutoInterpLLM
public import Foundation

// MARK: - LLM cache and call log

extension RunStore: LLMResponseStore {
    /// The raw response body cached under `hash` (`llm_cache`), or nil.
    public func cachedResponse(forHash hash: String) throws -> Data? {
        try database.scalar("SELECT response FROM llm_cache WHERE request_hash = ?", [hash])
            .flatMap(Data.init(sqliteValue:))
    }

    /// Caches a raw response body under `hash`, replacing any earlier one.
    public func storeResponse(_ body: Data, forHash hash: String) throws {
        try database.run(
            """
            INSERT INTO llm_cache (request_hash, response, created_at) VALUES (?, ?, ?)
            ON CONFLICT (request_hash) DO UPDATE SET response = excluded.response, created_at = excluded.created_at
            """, [hash, body, StoreFormat.string(from: Date())])
    }

    /// Removes the response cached under `hash` (`llm_cache`), if any.
    public func removeResponse(forHash hash: String) throws {
        try database.run("DELETE FROM llm_cache WHERE request_hash = ?", [hash])
    }

    /// Appends one row to `llm_calls`.
    public func record(_ call: LLMCallRecord) throws {
        try database.run(
            """
            INSERT INTO llm_calls (request_hash, endpoint, model, status_code, latency_ms, prompt_tokens,
                                   completion_tokens, error, created_at, cached, attempts, unit, stage, queue_ms,
                                   cached_tokens, finish_reason, tier, batch_id)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """,
            [
                call.requestHash, call.endpoint, call.model, call.statusCode, call.latencyMs, call.promptTokens,
                call.completionTokens, call.error, StoreFormat.string(from: call.createdAt), call.cached,
                call.attempts, call.unit, call.stage, call.queueMs, call.cachedTokens, call.finishReason, call.tier, call.batchID,
            ])
    }

    /// The call log, oldest first.
    public func llmCalls() throws -> [LLMCallRecord] {
        try database.query("SELECT * FROM llm_calls ORDER BY id").map { row in
            var record = LLMCallRecord(
                requestHash: row.string("request_hash") ?? "", endpoint: row.string("endpoint") ?? "",
                model: row.string("model") ?? "", statusCode: row.int("status_code"),
                latencyMs: row.double("latency_ms") ?? 0, promptTokens: row.int("prompt_tokens"),
                completionTokens: row.int("completion_tokens"), error: row.string("error"),
                cached: row.bool("cached") ?? false, attempts: row.int("attempts") ?? 0,
                createdAt: try StoreFormat.date(row.string("created_at"), path: path), unit: row.string("unit"),
                stage: row.string("stage"), queueMs: row.double("queue_ms") ?? 0, cachedTokens: row.int("cached_tokens"),
                finishReason: row.string("finish_reason"))
            record.tier = row.string("tier") ?? "realtime"
            record.batchID = row.int64("batch_id")
            return record
        }
    }
}
