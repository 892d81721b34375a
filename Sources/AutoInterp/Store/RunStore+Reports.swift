import Foundation

// MARK: - Queries for reports and exports

/// An explanation with its unit's row, as reports and exports list them.
public struct ExplanationListing: Sendable, Equatable {
    public var id: Int64
    public var unitID: Int64
    public var unit: UnitRef
    public var maxActivation: Double?
    public var density: Double?
    public var explainer: String
    public var model: String
    public var text: String
    /// `explanations.created_at` as stored (ISO-8601).
    public var createdAt: String
    /// Whether it is the unit's latest explanation by its explainer.
    public var latest: Bool
}

/// How many simulations an explanation has, and how many of them failed.
public struct SimulationCount: Sendable, Equatable {
    public var failed: Int
    public var total: Int
}

/// Failed simulations of one explanation with one error text.
public struct SimulationFailureCount: Sendable, Equatable {
    public var explanationID: Int64
    public var kind: UnitKind
    public var error: String?
    public var count: Int
}

/// What one stage's LLM calls cost: calls, how many were answered from the cache, and the
/// tokens of the calls that reached the endpoint (prompt, of which served from the server's
/// prefix cache, and completion).
public struct StageUsage: Sendable, Equatable, Codable {
    public var stage: String
    public var calls: Int
    public var cachedCalls: Int
    /// Units with at least one call of this stage.
    public var units: Int
    public var promptTokens: Int
    public var cachedPromptTokens: Int
    public var completionTokens: Int
    /// Network time of the calls that reached the endpoint.
    public var latencyMs: Double
}

/// The calls one endpoint (a replica of a pool, by URL) answered: how the work was spread.
public struct EndpointUsage: Sendable, Equatable, Codable {
    public var endpoint: String
    /// Calls that reached this endpoint (cached answers excluded).
    public var calls: Int
    /// Of which failed (after their retries).
    public var failed: Int
    /// Mean network time of the answered calls, milliseconds.
    public var meanLatencyMs: Double
}

/// A unit's top explanation example as stored JSON text (parsed by the report's fast readers).
public struct StoredExampleText: Sendable, Equatable {
    public var unitID: Int64
    /// The token strings (from `tokens_json`, or the ids' texts in `run_tokens`).
    public var tokens: [String]
    public var activations: [Float]
}

extension RunStore {
    /// Every unit's own explanation of a run (controls left out) with its unit, by kind, index, then explanation id.
    public func explanationListings(runID: Int64) throws -> [ExplanationListing] {
        try database.query(
            """
            SELECT e.id, e.unit_id, e.explainer, e.model, e.text, e.created_at, u.kind, u.idx, u.max_activation, u.density,
                   e.id = (SELECT MAX(e2.id) FROM explanations e2 WHERE e2.unit_id = e.unit_id AND e2.explainer = e.explainer)
                   AS latest
            FROM explanations e JOIN units u ON u.id = e.unit_id
            WHERE u.run_id = ? AND e.control_of IS NULL AND e.audit_of IS NULL ORDER BY u.kind, u.idx, e.id
            """, [runID]
        ).map { row in
            ExplanationListing(
                id: row.int64("id") ?? 0, unitID: row.int64("unit_id") ?? 0, unit: try unitRef(row),
                maxActivation: row.double("max_activation"), density: row.double("density"),
                explainer: row.string("explainer") ?? "", model: row.string("model") ?? "", text: row.string("text") ?? "",
                createdAt: row.string("created_at") ?? "", latest: row.bool("latest") ?? false)
        }
    }

    /// Simulation counts of every explanation of a run, by explanation id.
    public func simulationCounts(runID: Int64) throws -> [Int64: SimulationCount] {
        var counts: [Int64: SimulationCount] = [:]
        for row in try database.query(
            """
            SELECT s.explanation_id AS id, SUM(s.status = 'failed') AS failed, COUNT(*) AS total FROM simulations s
            JOIN explanations e ON e.id = s.explanation_id JOIN units u ON u.id = e.unit_id
            WHERE u.run_id = ? GROUP BY s.explanation_id
            """, [runID])
        {
            counts[row.int64("id") ?? 0] = SimulationCount(failed: row.int("failed") ?? 0, total: row.int("total") ?? 0)
        }
        return counts
    }

    /// Failed simulations of a run grouped by explanation, unit kind and error.
    public func simulationFailures(runID: Int64) throws -> [SimulationFailureCount] {
        try database.query(
            """
            SELECT s.explanation_id AS id, u.kind AS kind, s.error AS error, COUNT(*) AS count FROM simulations s
            JOIN explanations e ON e.id = s.explanation_id JOIN units u ON u.id = e.unit_id
            WHERE u.run_id = ? AND s.status = 'failed' GROUP BY s.explanation_id, u.kind, s.error
            """, [runID]
        ).compactMap { row in
            guard let kind = row.string("kind").flatMap(UnitKind.init(rawValue:)) else { return nil }
            return SimulationFailureCount(
                explanationID: row.int64("id") ?? 0, kind: kind, error: row.string("error"), count: row.int("count") ?? 0)
        }
    }

    /// The `limit` strongest `explain/top` examples of every unit of a run, strongest first.
    public func topExampleTexts(runID: Int64, limit: Int) throws -> [StoredExampleText] {
        let keep = !database.inTransaction
        return try database.withConnection { db in
            let rows = try db.query(
                """
                WITH ranked AS (
                    SELECT x.id,
                           ROW_NUMBER() OVER (PARTITION BY x.unit_id ORDER BY x.max_activation DESC, x.record_idx) AS rank
                    FROM examples x JOIN units u ON u.id = x.unit_id
                    WHERE u.run_id = ? AND x.role = 'explain' AND x.subset = 'top'
                )
                SELECT x.* FROM ranked r JOIN examples x ON x.id = r.id
                WHERE r.rank <= ? ORDER BY x.unit_id, r.rank
                """, [runID, limit])
            let records = try exampleRecords(rows, key: try tokenKey(runID: runID, db), keep: keep, db)
            return zip(rows, records).map { row, record in
                StoredExampleText(unitID: row.int64("unit_id") ?? 0, tokens: record.tokens, activations: record.activations)
            }
        }
    }

    /// The call log summed by stage (`llm_calls.stage`; calls made before stages were logged, and
    /// probes, under their own names or `other`): the cost of each stage of the runs in this database.
    public func stageUsage() throws -> [StageUsage] {
        try database.query(
            """
            SELECT COALESCE(stage, 'other') AS stage, COUNT(*) AS calls, TOTAL(cached) AS cached,
                   COUNT(DISTINCT unit) AS units,
                   TOTAL(CASE WHEN cached = 0 THEN prompt_tokens END) AS prompt,
                   TOTAL(CASE WHEN cached = 0 THEN cached_tokens END) AS cached_prompt,
                   TOTAL(CASE WHEN cached = 0 THEN completion_tokens END) AS completion,
                   TOTAL(CASE WHEN cached = 0 THEN latency_ms END) AS latency
            FROM llm_calls GROUP BY COALESCE(stage, 'other') ORDER BY stage
            """
        ).map { row in
            StageUsage(
                stage: row.string("stage") ?? "other", calls: row.int("calls") ?? 0, cachedCalls: Int(row.double("cached") ?? 0),
                units: row.int("units") ?? 0, promptTokens: Int(row.double("prompt") ?? 0),
                cachedPromptTokens: Int(row.double("cached_prompt") ?? 0), completionTokens: Int(row.double("completion") ?? 0),
                latencyMs: row.double("latency") ?? 0)
        }
    }

    /// The calls that reached an endpoint, summed by `llm_calls.endpoint` (the replica's URL in a pool).
    public func endpointUsage() throws -> [EndpointUsage] {
        try database.query(
            """
            SELECT endpoint, COUNT(*) AS calls,
                   SUM(error IS NOT NULL OR status_code IS NULL OR status_code NOT BETWEEN 200 AND 299) AS failed,
                   AVG(CASE WHEN error IS NULL THEN latency_ms END) AS latency
            FROM llm_calls WHERE cached = 0 GROUP BY endpoint ORDER BY endpoint
            """
        ).map { row in
            EndpointUsage(
                endpoint: row.string("endpoint") ?? "", calls: row.int("calls") ?? 0, failed: row.int("failed") ?? 0,
                meanLatencyMs: row.double("latency") ?? 0)
        }
    }

    /// The call log summed by model.
    public func modelUsage() throws -> [ModelUsage] {
        try database.query(
            """
            SELECT model, COUNT(*) AS calls, SUM(cached) AS cached,
                   SUM(error IS NOT NULL OR status_code IS NULL OR status_code NOT BETWEEN 200 AND 299) AS failed,
                   TOTAL(prompt_tokens) AS prompt, TOTAL(completion_tokens) AS completion,
                   TOTAL(CASE WHEN cached = 0 THEN prompt_tokens END) AS billed_prompt,
                   TOTAL(CASE WHEN cached = 0 THEN completion_tokens END) AS billed_completion,
                   TOTAL(CASE WHEN cached = 0 AND tier = 'batch' THEN prompt_tokens END) AS batch_prompt,
                   TOTAL(CASE WHEN cached = 0 AND tier = 'batch' THEN completion_tokens END) AS batch_completion,
                   TOTAL(latency_ms) AS latency
            FROM llm_calls GROUP BY model ORDER BY model
            """
        ).map { row in
            var usage = ModelUsage(model: row.string("model") ?? "")
            usage.calls = row.int("calls") ?? 0
            usage.cached = row.int("cached") ?? 0
            usage.failed = row.int("failed") ?? 0
            usage.promptTokens = Int(row.double("prompt") ?? 0)
            usage.completionTokens = Int(row.double("completion") ?? 0)
            usage.billedPromptTokens = Int(row.double("billed_prompt") ?? 0)
            usage.billedCompletionTokens = Int(row.double("billed_completion") ?? 0)
            usage.batchPromptTokens = Int(row.double("batch_prompt") ?? 0)
            usage.batchCompletionTokens = Int(row.double("batch_completion") ?? 0)
            usage.latencyMs = row.double("latency") ?? 0
            return usage
        }
    }
}
