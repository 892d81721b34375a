import AutoInterpLLM
import Foundation

// MARK: - Schema

extension RunStore {
    /// The schema steps, in order; `PRAGMA user_version` counts those applied.
    ///
    /// Append new steps; never edit a released one (users' files already ran it).
    static let migrations: [SQLiteMigration] = [
        SQLiteMigration(version: 1, name: "initial schema", sql: schemaV1),
        SQLiteMigration(version: 2, name: "scores open to every stage's metrics", sql: schemaV2),
        SQLiteMigration(version: 3, name: "llm_calls: unit, stage, queue time, cached tokens, finish reason", sql: schemaV3),
        SQLiteMigration(version: 4, name: "failures kept and retried: simulation attempts, rubric failures", sql: schemaV4),
        SQLiteMigration(version: 5, name: "classification examples and answers (detection, fuzzing)", sql: schemaV5),
        SQLiteMigration(version: 6, name: "explanations.control_of: the random-explanation floor", sql: schemaV6),
        SQLiteMigration(version: 7, name: "run_state: what a run found and free settings, apart from its identity", body: migrateV7),
        SQLiteMigration(version: 8, name: "explanation_failures: refused explanations kept and re-asked", sql: schemaV8),
        SQLiteMigration(version: 9, name: "batch transport: llm_pending, llm_batches, llm_calls tier and batch", sql: schemaV9),
        SQLiteMigration(version: 10, name: "explanations.audit_of, audit_variant: the metric audit's variants", sql: schemaV10),
        SQLiteMigration(version: 11, name: "embedding_similarities: the embedding scorer's per-context similarities", sql: schemaV11),
        SQLiteMigration(version: 12, name: "examples: subset hard (hard negatives for detection and fuzzing)", body: migrateV12),
        SQLiteMigration(
            version: 13, name: "examples: token ids and activations as binary blobs, token strings in run_tokens",
            foreignKeysOff: true, sql: schemaV13),
        SQLiteMigration(version: 14, name: "intruder_prompts: the intruder scorer's prompts and answers", sql: schemaV14),
        SQLiteMigration(version: 15, name: "explanation_candidate_failures: best-of-K samples that were unusable", sql: schemaV15),
        SQLiteMigration(version: 16, name: "units.kind: neuron_negative, a neuron's negative side", foreignKeysOff: true, body: migrateV16),
    ]

    /// The SQL of every schema step, in order (for documentation and `sqlite3` users).
    public static var schemaSQL: String {
        [schemaV1, schemaV2, schemaV3, schemaV4, schemaV5, schemaV6, schemaV7, schemaV8, schemaV9, schemaV10, schemaV11, schemaV13,
         schemaV14, schemaV15, schemaV16].joined(separator: "\n")
    }

    /// Schema v1. The tables and columns of DESIGN.md keep their names and meanings;
    /// the rest are additions.
    static let schemaV1 = """
        CREATE TABLE runs (
            id          INTEGER PRIMARY KEY,
            name        TEXT NOT NULL UNIQUE,
            created_at  TEXT NOT NULL,                  -- ISO-8601, UTC
            config_json TEXT NOT NULL,
            config_hash TEXT NOT NULL,                  -- hex SHA-256 of config_json's UTF-8
            status      TEXT NOT NULL DEFAULT 'created'
        );

        CREATE TABLE units (
            id             INTEGER PRIMARY KEY,
            run_id         INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
            kind           TEXT NOT NULL CHECK (kind IN ('feature', 'neuron')),
            idx            INTEGER NOT NULL CHECK (idx >= 0),
            max_activation REAL,
            density        REAL,
            token_count    INTEGER,
            histogram_json TEXT                         -- {"max":…, "counts":[…], "zeroCount":…}
        );
        \(unitsByRun)

        CREATE TABLE examples (
            id             INTEGER PRIMARY KEY,
            unit_id        INTEGER NOT NULL REFERENCES units(id) ON DELETE CASCADE,
            role           TEXT NOT NULL CHECK (role IN ('explain', 'score')),
            subset         TEXT NOT NULL CHECK (subset IN ('top', 'quantile', 'random')),
            record_idx     INTEGER NOT NULL,            -- position within (unit, role, subset)
            context_idx    INTEGER NOT NULL,            -- row of the dataset
            bin            INTEGER,                     -- quantile bin, NULL otherwise
            max_activation REAL NOT NULL,
            tokens_json    TEXT NOT NULL,               -- token strings
            token_ids_json TEXT NOT NULL,
            acts_json      TEXT NOT NULL                -- raw activations
        );
        \(examplesByUnit)

        CREATE TABLE explanations (
            id           INTEGER PRIMARY KEY,
            unit_id      INTEGER NOT NULL REFERENCES units(id) ON DELETE CASCADE,
            explainer    TEXT NOT NULL,
            model        TEXT NOT NULL,
            text         TEXT NOT NULL,
            prompt_file  TEXT,
            prompt_hash  TEXT,
            request_hash TEXT,                          -- llm_calls.request_hash
            created_at   TEXT NOT NULL
        );
        CREATE INDEX explanations_by_unit ON explanations(unit_id);

        CREATE TABLE simulations (
            id             INTEGER PRIMARY KEY,
            explanation_id INTEGER NOT NULL REFERENCES explanations(id) ON DELETE CASCADE,
            subset         TEXT NOT NULL CHECK (subset IN ('top', 'random', 'quantile')),
            record_idx     INTEGER NOT NULL,            -- examples.record_idx of the score example
            tokens_json    TEXT NOT NULL,
            true_json      TEXT NOT NULL,               -- raw true activations
            pred_json      TEXT,                        -- NULL when failed
            status         TEXT NOT NULL CHECK (status IN ('ok', 'failed')),
            error          TEXT,
            mode           TEXT,
            created_at     TEXT NOT NULL,
            CHECK ((status = 'ok' AND pred_json IS NOT NULL) OR (status = 'failed' AND pred_json IS NULL)),
            UNIQUE (explanation_id, subset, record_idx)
        );

        CREATE TABLE scores (
            id               INTEGER PRIMARY KEY,
            explanation_id   INTEGER NOT NULL REFERENCES explanations(id) ON DELETE CASCADE,
            metric           TEXT NOT NULL CHECK (metric IN ('spearman', 'pearson')),
            subset           TEXT NOT NULL CHECK (subset IN ('all', 'top', 'random')),
            value            REAL,                      -- NULL exactly when undefined
            undefined_reason TEXT,
            n                INTEGER NOT NULL,
            CHECK ((value IS NULL) = (undefined_reason IS NOT NULL)),
            UNIQUE (explanation_id, metric, subset)
        );

        CREATE TABLE rubric_ratings (
            id             INTEGER PRIMARY KEY,
            explanation_id INTEGER NOT NULL REFERENCES explanations(id) ON DELETE CASCADE,
            record_idx     INTEGER NOT NULL,            -- position in the rubric sample
            bin            INTEGER NOT NULL CHECK (bin >= 0), -- 0 = non-activating example, 1..n = activation bins
            activation     REAL NOT NULL,
            rating         INTEGER NOT NULL CHECK (rating BETWEEN 0 AND 3),
            context_idx    INTEGER,
            tokens_json    TEXT NOT NULL,
            acts_json      TEXT NOT NULL,
            judge_model    TEXT,
            reason         TEXT,
            created_at     TEXT NOT NULL,
            UNIQUE (explanation_id, record_idx)
        );
        CREATE INDEX rubric_ratings_by_bin ON rubric_ratings(explanation_id, bin, rating);

        CREATE TABLE llm_calls (
            id                INTEGER PRIMARY KEY,
            request_hash      TEXT NOT NULL,
            endpoint          TEXT NOT NULL,
            model             TEXT NOT NULL,
            status_code       INTEGER,                  -- NULL when no response arrived
            latency_ms        REAL NOT NULL,
            prompt_tokens     INTEGER,
            completion_tokens INTEGER,
            error             TEXT,
            created_at        TEXT NOT NULL,
            cached            INTEGER NOT NULL CHECK (cached IN (0, 1)),
            attempts          INTEGER NOT NULL
        );
        CREATE INDEX llm_calls_by_hash ON llm_calls(request_hash);

        CREATE TABLE llm_cache (
            request_hash TEXT PRIMARY KEY,
            response     BLOB NOT NULL,
            created_at   TEXT NOT NULL
        );

        CREATE VIEW rubric_histogram AS
            SELECT u.run_id AS run_id, u.id AS unit_id, u.kind AS kind, u.idx AS idx,
                   r.explanation_id AS explanation_id, r.bin AS bin, r.rating AS rating, COUNT(*) AS count
            FROM rubric_ratings r
            JOIN explanations e ON e.id = r.explanation_id
            JOIN units u ON u.id = e.unit_id
            GROUP BY u.run_id, u.id, u.kind, u.idx, r.explanation_id, r.bin, r.rating;
        """

    /// Schema v2: `scores.metric` and `scores.subset` take any stage's names (the score stage
    /// writes `spearman`/`pearson` × `all`/`top`/`random`; other stages add theirs), so the
    /// table is rebuilt without the v1 lists (SQLite cannot drop a CHECK in place).
    static let schemaV2 = """
        CREATE TABLE scores_v2 (
            id               INTEGER PRIMARY KEY,
            explanation_id   INTEGER NOT NULL REFERENCES explanations(id) ON DELETE CASCADE,
            metric           TEXT NOT NULL CHECK (metric <> ''),
            subset           TEXT NOT NULL CHECK (subset <> ''),
            value            REAL,                      -- NULL exactly when undefined
            undefined_reason TEXT,
            n                INTEGER NOT NULL,
            CHECK ((value IS NULL) = (undefined_reason IS NOT NULL)),
            UNIQUE (explanation_id, metric, subset)
        );
        \(rebuild("scores", from: "scores_v2", columns: [["id", "explanation_id", "metric", "subset", "value", "undefined_reason", "n"]]))
        """

    /// Schema v3: each LLM call says which unit and stage it was for, how long it queued in the
    /// client apart from its own latency, how many prompt tokens the server had cached, and why
    /// the answer ended.
    static let schemaV3 = """
        ALTER TABLE llm_calls ADD COLUMN unit TEXT;              -- e.g. 'feature 12'; NULL when not for one unit
        ALTER TABLE llm_calls ADD COLUMN stage TEXT;             -- e.g. 'explain', 'simulate', 'rubric'
        ALTER TABLE llm_calls ADD COLUMN queue_ms REAL;          -- waiting for the client's limits, not in latency_ms
        ALTER TABLE llm_calls ADD COLUMN cached_tokens INTEGER;  -- prompt tokens from the server's prefix cache
        ALTER TABLE llm_calls ADD COLUMN finish_reason TEXT;     -- 'stop', 'length', …
        CREATE INDEX llm_calls_by_stage ON llm_calls(stage);
        """

    /// Schema v4: a failed simulation counts its attempts (a rerun asks again until
    /// ``SimulateStage/maxAttempts``), and a rubric example the judge could not rate is a row of
    /// `rubric_failures` with the reason, retried the same way; its rating replaces it.
    static let schemaV4 = """
        ALTER TABLE simulations ADD COLUMN attempts INTEGER NOT NULL DEFAULT 1;
        CREATE TABLE rubric_failures (
            id             INTEGER PRIMARY KEY,
            explanation_id INTEGER NOT NULL REFERENCES explanations(id) ON DELETE CASCADE,
            record_idx     INTEGER NOT NULL,
            bin            INTEGER NOT NULL CHECK (bin >= 0),
            error          TEXT NOT NULL,
            attempts       INTEGER NOT NULL DEFAULT 1,
            created_at     TEXT NOT NULL,
            UNIQUE (explanation_id, record_idx)
        );
        """

    /// Schema v5: the detection and fuzzing scorers. `examples` takes the role `classify` with
    /// the subsets `activating` (bin = activation decile 1..10) and `silent` (rebuilt: SQLite
    /// cannot widen a CHECK in place), and `classifications` holds one answer per (explanation,
    /// scorer, example): the true label, the answer and p(1) when known, the fuzzing highlight,
    /// or a failure with its reason and attempts, like `simulations`.
    static let schemaV5 = """
        CREATE TABLE examples_v5 (
            id             INTEGER PRIMARY KEY,
            unit_id        INTEGER NOT NULL REFERENCES units(id) ON DELETE CASCADE,
            role           TEXT NOT NULL CHECK (role IN ('explain', 'score', 'classify')),
            subset         TEXT NOT NULL CHECK (subset IN ('top', 'quantile', 'random', 'activating', 'silent')),
            record_idx     INTEGER NOT NULL,            -- position within (unit, role, subset)
            context_idx    INTEGER NOT NULL,            -- row of the dataset
            bin            INTEGER,                     -- quantile bin or activation decile, NULL otherwise
            max_activation REAL NOT NULL,
            tokens_json    TEXT NOT NULL,               -- token strings
            token_ids_json TEXT NOT NULL,
            acts_json      TEXT NOT NULL                -- raw activations
        );
        \(rebuild("examples", from: "examples_v5", columns: examplesColumnsV1, indexes: [examplesByUnit]))

        CREATE TABLE classifications (
            id             INTEGER PRIMARY KEY,
            explanation_id INTEGER NOT NULL REFERENCES explanations(id) ON DELETE CASCADE,
            scorer         TEXT NOT NULL CHECK (scorer <> ''),     -- 'detection', 'fuzzing'
            example_id     INTEGER NOT NULL REFERENCES examples(id) ON DELETE CASCADE,
            label          INTEGER NOT NULL CHECK (label IN (0, 1)),
            predicted      INTEGER CHECK (predicted IN (0, 1)),    -- NULL when failed
            probability    REAL CHECK (probability BETWEEN 0 AND 1), -- p(1); NULL without logprobs
            highlighted    TEXT,                                   -- fuzzing: JSON token positions shown <<highlighted>>
            status         TEXT NOT NULL CHECK (status IN ('ok', 'failed')),
            error          TEXT,
            attempts       INTEGER NOT NULL DEFAULT 1,
            created_at     TEXT NOT NULL,
            CHECK ((status = 'ok' AND predicted IS NOT NULL AND error IS NULL)
                OR (status = 'failed' AND predicted IS NULL AND probability IS NULL AND error IS NOT NULL)),
            UNIQUE (explanation_id, scorer, example_id)
        );
        CREATE INDEX classifications_by_example ON classifications(example_id);
        """

    /// Schema v6: a *control* explanation (`explainer = 'control'`) is another unit's explanation
    /// of the same kind, scored on this unit's records (the random-explanation floor); its
    /// `control_of` names the donor explanation. A unit's own explanations have `control_of` NULL,
    /// and every headline query (progress, summary, reports, export) reads only those.
    static let schemaV6 = """
        ALTER TABLE explanations ADD COLUMN control_of INTEGER REFERENCES explanations(id);  -- donor of a control; NULL for the unit's own
        CREATE INDEX explanations_by_control ON explanations(unit_id, control_of);
        """

    /// Schema v7: a run's discovered state and free settings, kept apart from its identity
    /// (`runs.config_json`, whose hash identifies the run).
    static let schemaV7 = """
        CREATE TABLE run_state (
            run_id            INTEGER PRIMARY KEY REFERENCES runs(id) ON DELETE CASCADE,
            capabilities_json TEXT,   -- PinnedCapabilities: what the endpoint was found to serve at the first probe
            prices_json       TEXT    -- StoredPrices: USD per million prompt / completion tokens (free to change)
        );
        """

    /// v7: creates `run_state`, and moves `prices` and `pipeline.pinned` out of each run's
    /// config into it, re-hashing the config (what is left is the run's identity).
    @Sendable static func migrateV7(_ db: SQLiteConnection) throws {
        try db.execute(schemaV7)
        for row in try db.query("SELECT id, config_json FROM runs") {
            guard let id = row.int64("id"), let json = row.string("config_json"),
                var object = (try? JSONSerialization.jsonObject(with: Data(json.utf8))) as? [String: Any]
            else { continue }
            let prices = object.removeValue(forKey: "prices")
            var pipeline = object["pipeline"] as? [String: Any]
            let pinned = pipeline?.removeValue(forKey: "pinned")
            guard prices != nil || pinned != nil else { continue }
            if let pipeline { object["pipeline"] = pipeline }
            func text(_ value: Any?) throws -> String? {
                guard let value, !(value is NSNull) else { return nil }
                return String(decoding: try JSONSerialization.data(withJSONObject: value, options: [.sortedKeys]), as: UTF8.self)
            }
            _ = try db.run(
                "INSERT INTO run_state (run_id, capabilities_json, prices_json) VALUES (?, ?, ?)", [id, try text(pinned), try text(prices)])
            // The identity re-encoded as the run would write it, so a resume finds the same config.
            let rest = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
            let identity = (try? JSONDecoder().decode(RunConfig.self, from: rest)).flatMap { try? $0.canonicalJSON() }
                ?? String(decoding: rest, as: UTF8.self)
            _ = try db.run("UPDATE runs SET config_json = ?, config_hash = ? WHERE id = ?", [identity, SHA256.hex(identity), id])
        }
    }

    /// Schema v8: a unit's refused explanation (not a description, a copy of the prompt, the same
    /// answer as too many other units, or a stored one that an older run kept and a check now
    /// refuses) is a row of `explanation_failures` with the refused answer and the reason; the
    /// next run asks again until ``ExplainStage/maxAttempts``. One row per unit: the last refusal.
    static let schemaV8 = """
        CREATE TABLE explanation_failures (
            id         INTEGER PRIMARY KEY,
            unit_id    INTEGER NOT NULL REFERENCES units(id) ON DELETE CASCADE,
            answer     TEXT,                            -- the refused answer (control characters stripped); NULL when none came
            reason     TEXT NOT NULL,
            attempts   INTEGER NOT NULL DEFAULT 1,      -- refusals so far
            created_at TEXT NOT NULL,                   -- of the last refusal
            UNIQUE (unit_id)
        );
        """

    /// Schema v9: the batch transport (`run --batch`). `llm_pending` holds the requests a wave
    /// collected (one row per request hash the stages ask for; a retry re-sends it with another
    /// seed under a new `line_hash`); `llm_batches` one row per batch file, written before and
    /// after each step (written → submitted → … → ingested), so a killed run resumes; every
    /// ingested line is an `llm_calls` row with `tier` `batch` and its batch.
    static let schemaV9 = """
        ALTER TABLE llm_calls ADD COLUMN tier TEXT NOT NULL DEFAULT 'realtime';   -- realtime | batch
        ALTER TABLE llm_calls ADD COLUMN batch_id INTEGER;                        -- llm_batches.id of a batch line
        CREATE TABLE llm_batches (
            id                  INTEGER PRIMARY KEY,
            tag                 TEXT NOT NULL UNIQUE,   -- local id, also sent as provider metadata (adopting an orphan)
            wave                INTEGER NOT NULL,
            dialect             TEXT NOT NULL,          -- file | openai | anthropic
            endpoint            TEXT NOT NULL,
            model               TEXT NOT NULL,
            local_path          TEXT NOT NULL,          -- the JSONL input
            input_sha256        TEXT NOT NULL,
            request_count       INTEGER NOT NULL,
            bytes               INTEGER NOT NULL,
            status              TEXT NOT NULL,          -- written, uploaded, submitted, validating, in_progress, finalizing,
                                                        -- completed, failed, expired, cancelling, cancelled, ingested
            input_file_id       TEXT,
            provider_batch_id   TEXT UNIQUE,
            output_file_id      TEXT,
            error_file_id       TEXT,
            request_counts_json TEXT,
            usage_json          TEXT,
            errors_json         TEXT,
            answered            INTEGER NOT NULL DEFAULT 0,   -- lines ingested with an answer
            failed              INTEGER NOT NULL DEFAULT 0,   -- lines ingested as failed (or missing)
            created_at          TEXT NOT NULL,
            submitted_at        TEXT,
            ended_at            TEXT,
            ingested_at         TEXT
        );
        CREATE TABLE llm_pending (
            request_hash TEXT PRIMARY KEY,              -- the cache key the stages ask for
            line_hash    TEXT NOT NULL,                 -- custom_id of the line sent (differs on a retry)
            model        TEXT NOT NULL,
            body         BLOB NOT NULL,                 -- the canonical chat-completions body of the line
            attempt      INTEGER NOT NULL,
            state        TEXT NOT NULL CHECK (state IN ('pending', 'submitted', 'answered', 'failed')),
            batch_id     INTEGER REFERENCES llm_batches(id),
            wave         INTEGER NOT NULL,
            unit         TEXT,
            stage        TEXT,
            error        TEXT,                          -- the failed line's error
            response     BLOB,                          -- the answer of an answered line
            created_at   TEXT NOT NULL
        );
        CREATE INDEX llm_pending_line ON llm_pending (line_hash);
        CREATE INDEX llm_pending_batch ON llm_pending (state, batch_id);
        """

    /// Schema v10: the metric audit (``MetricAudit``) stores a broader and a narrower variant of a
    /// unit's explanation as explanations of the unit with `explainer = 'audit'`, `audit_of` = the
    /// explanation varied and `audit_variant` = `broader` or `narrower`, scored by the same stages.
    /// Every headline query reads only rows with `control_of` and `audit_of` NULL.
    static let schemaV10 = """
        ALTER TABLE explanations ADD COLUMN audit_of INTEGER REFERENCES explanations(id);  -- the explanation an audit variant varies
        ALTER TABLE explanations ADD COLUMN audit_variant TEXT;                          -- broader | narrower (NULL unless audit_of)
        CREATE INDEX explanations_by_audit ON explanations(unit_id, audit_of);
        """

    /// Schema v11: the embedding scorer (``EmbeddingStage``). One row per (explanation, `classify`
    /// example): the example's label (1 activating, 0 silent) and the cosine similarity of its
    /// embedding to the explanation's; the metrics go to `scores` (`embedding_*`).
    static let schemaV11 = """
        CREATE TABLE embedding_similarities (
            id             INTEGER PRIMARY KEY,
            explanation_id INTEGER NOT NULL REFERENCES explanations(id) ON DELETE CASCADE,
            example_id     INTEGER NOT NULL REFERENCES examples(id) ON DELETE CASCADE,
            label          INTEGER NOT NULL CHECK (label IN (0, 1)),
            similarity     REAL NOT NULL CHECK (similarity BETWEEN -1.000001 AND 1.000001),  -- cosine
            created_at     TEXT NOT NULL,
            UNIQUE (explanation_id, example_id)
        );
        CREATE INDEX embedding_similarities_by_example ON embedding_similarities(example_id);
        """

    /// Schema v12: `examples.subset` takes `hard` (``ExampleSubset/hard``: a context where the
    /// unit is silent and one of its nearest units fires; `bin` = that unit's index). SQLite cannot
    /// widen a CHECK in place and dropping `examples` would cascade into every table whose rows
    /// reference an example, so those tables (whichever exist: `classifications`,
    /// `embedding_similarities`, …) are copied aside with their definitions and indexes, dropped,
    /// and restored unchanged around the rebuild, in the migration's one transaction.
    @Sendable static func migrateV12(_ db: SQLiteConnection) throws {
        let children = try db.query(
            """
            SELECT m.name AS name, m.sql AS sql FROM sqlite_master m
            WHERE m.type = 'table' AND EXISTS (SELECT 1 FROM pragma_foreign_key_list(m.name) f WHERE f."table" = 'examples')
            ORDER BY m.name
            """
        ).compactMap { row in row.string("name").flatMap { name in row.string("sql").map { (name: name, sql: $0) } } }
        // The indexes of `examples` itself (its unique one and any a later version added) come back too.
        var indexes = try db.query("SELECT sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'examples' AND sql IS NOT NULL")
            .compactMap { $0.string("sql") }
        for child in children {
            indexes += try db.query("SELECT sql FROM sqlite_master WHERE type = 'index' AND tbl_name = ? AND sql IS NOT NULL", [child.name])
                .compactMap { $0.string("sql") }
            try db.execute("CREATE TEMP TABLE \"v12_\(child.name)\" AS SELECT * FROM \"\(child.name)\"; DROP TABLE \"\(child.name)\";")
        }
        try db.execute(schemaV12Examples)
        for child in children {
            let kept = "temp.\"v12_\(child.name)\""
            try db.execute("\(child.sql); INSERT INTO \"\(child.name)\" SELECT * FROM \(kept); DROP TABLE \(kept);")
        }
        for index in indexes { try db.execute(index) }
    }

    /// The columns of `examples` before its payload (token strings, ids and activations) as v12
    /// defines them (`subset` takes `hard`); v13 keeps them and changes only the payload.
    static let examplesKeysV12 = """
            id             INTEGER PRIMARY KEY,
            unit_id        INTEGER NOT NULL REFERENCES units(id) ON DELETE CASCADE,
            role           TEXT NOT NULL CHECK (role IN ('explain', 'score', 'classify')),
            subset         TEXT NOT NULL CHECK (subset IN ('top', 'quantile', 'random', 'activating', 'silent', 'hard')),
            record_idx     INTEGER NOT NULL,            -- position within (unit, role, subset)
            context_idx    INTEGER NOT NULL,            -- row of the dataset
            bin            INTEGER,                     -- quantile bin, activation decile or (hard) the neighbour unit, NULL otherwise
            max_activation REAL NOT NULL,
        """

    /// The `examples` table of v12 (``migrateV12(_:)``), its rows copied.
    static let schemaV12Examples = """
        CREATE TABLE examples_v12 (
        \(examplesKeysV12)
            tokens_json    TEXT NOT NULL,               -- token strings
            token_ids_json TEXT NOT NULL,
            acts_json      TEXT NOT NULL                -- raw activations
        );
        \(rebuild("examples", from: "examples_v12", columns: examplesColumnsV1))
        """

    /// Schema v13: example rows cheap to write and read. New rows keep token ids and activations
    /// as binary blobs (`token_ids`: little-endian Int32 per token; `acts`: little-endian IEEE-754
    /// binary32 per token, the exact bits; see ``ExampleBlob``) and no token strings: a run's
    /// token texts are stored once, in `run_tokens`, and read back through the ids. `tokens_json`
    /// is kept for a row whose strings are not those of its ids (given by a caller), and rows
    /// written before v13 keep their JSON columns and are read as before. The table is rebuilt
    /// (SQLite cannot drop a NOT NULL in place) with foreign keys off, so the rows that point at
    /// examples (`classifications`, `embedding_similarities`) stay.
    static let schemaV13 = """
        CREATE TABLE examples_v13 (
        \(examplesKeysV12)
            tokens_json    TEXT,                        -- token strings: rows before v13, or strings that are not run_tokens' texts
            token_ids_json TEXT,                        -- rows before v13
            acts_json      TEXT,                        -- rows before v13: raw activations
            token_ids      BLOB,                        -- v13: little-endian Int32 per token
            acts           BLOB,                        -- v13: little-endian IEEE-754 binary32 per token
            CHECK ((token_ids_json IS NULL) <> (token_ids IS NULL)),
            CHECK ((acts_json IS NULL) <> (acts IS NULL)),
            CHECK (tokens_json IS NOT NULL OR token_ids IS NOT NULL)
        );
        \(rebuild("examples", from: "examples_v13", columns: examplesColumnsV1, indexes: [examplesByUnit]))

        CREATE TABLE run_tokens (
            run_id   INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
            token_id INTEGER NOT NULL,
            text     TEXT NOT NULL,                     -- the string examples show for token_id
            PRIMARY KEY (run_id, token_id)
        );
        """

    /// Schema v14: the intruder scorer (``IntruderStage``). One row per (unit, prompt): the decile
    /// group its four activating contexts come from, the five `classify` examples in the order shown,
    /// the intruder's position (1-based) and the answer, or a failure with its reason and attempts.
    /// Keyed by unit, not explanation: the scorer never sees one. The metrics go to `scores`
    /// (`intruder_accuracy`) under the unit's headline explanation, where the reports read every scorer.
    static let schemaV14 = """
        CREATE TABLE intruder_prompts (
            id               INTEGER PRIMARY KEY,
            unit_id          INTEGER NOT NULL REFERENCES units(id) ON DELETE CASCADE,
            prompt_idx       INTEGER NOT NULL CHECK (prompt_idx >= 0),
            decile_low       INTEGER NOT NULL CHECK (decile_low >= 1),
            decile_high      INTEGER NOT NULL CHECK (decile_high >= decile_low),
            example_ids_json TEXT NOT NULL,                          -- examples.id of the contexts, in the order shown
            intruder         INTEGER NOT NULL CHECK (intruder >= 1), -- 1-based position of the silent context
            answer           INTEGER CHECK (answer >= 1),            -- the position named; NULL when failed
            status           TEXT NOT NULL CHECK (status IN ('ok', 'failed')),
            error            TEXT,
            attempts         INTEGER NOT NULL DEFAULT 1,
            created_at       TEXT NOT NULL,
            CHECK ((status = 'ok' AND answer IS NOT NULL AND error IS NULL) OR (status = 'failed' AND answer IS NULL AND error IS NOT NULL)),
            UNIQUE (unit_id, prompt_idx)
        );
        """

    /// Schema v15: a best-of-K sample (`--explainer-samples`) that gave no usable explanation (a
    /// choice cut off, empty, an echo, …): one row per sample beside the winner it lost to, with
    /// the answer and the reason. A failure is stored as a failure: it never becomes a candidate row.
    static let schemaV15 = """
        CREATE TABLE explanation_candidate_failures (
            id             INTEGER PRIMARY KEY,
            explanation_id INTEGER NOT NULL REFERENCES explanations(id) ON DELETE CASCADE,  -- the unit's winner
            sample         INTEGER NOT NULL CHECK (sample >= 0),
            answer         TEXT,                            -- the unusable answer (control characters stripped); NULL when none came
            reason         TEXT NOT NULL,
            created_at     TEXT NOT NULL,
            UNIQUE (explanation_id, sample)
        );
        """

    /// Schema v16: `units.kind` also admits `neuron_negative` (``UnitKind/negativeNeuron``, a neuron
    /// studied on its negative side). SQLite cannot widen a CHECK in place, so `units` is rebuilt
    /// with foreign keys off (as v13 rebuilds `examples`): every row and id is kept, so the tables
    /// that reference a unit still do, and a database that holds no such unit reads as before. The
    /// views (`rubric_histogram` joins `units`) are dropped around the rebuild and made again as
    /// they were (``migrateV16(_:)``).
    static let schemaV16 = """
        CREATE TABLE units_v16 (
            id             INTEGER PRIMARY KEY,
            run_id         INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
            kind           TEXT NOT NULL CHECK (kind IN ('feature', 'neuron', 'neuron_negative')),
            idx            INTEGER NOT NULL CHECK (idx >= 0),
            max_activation REAL,
            density        REAL,
            token_count    INTEGER,
            histogram_json TEXT                         -- {"max":…, "counts":[…], "zeroCount":…}
        );
        \(rebuild("units", from: "units_v16", columns: unitsColumnsV1, indexes: [unitsByRun]))
        """

    @Sendable static func migrateV16(_ db: SQLiteConnection) throws {
        let views = try db.query("SELECT name, sql FROM sqlite_master WHERE type = 'view' AND sql IS NOT NULL ORDER BY name")
            .compactMap { row in row.string("name").flatMap { name in row.string("sql").map { (name: name, sql: $0) } } }
        for view in views { try db.execute("DROP VIEW \"\(view.name)\"") }
        try db.execute(schemaV16)
        for view in views { try db.execute(view.sql) }
    }

    // MARK: Table rebuilds

    /// The unique index of `units` (v1, made again by the v16 rebuild).
    static let unitsByRun = "CREATE UNIQUE INDEX units_by_run ON units(run_id, kind, idx);"

    /// The unique index of `examples` (v1, made again by the v5 and v13 rebuilds).
    static let examplesByUnit = "CREATE UNIQUE INDEX examples_by_unit ON examples(unit_id, role, subset, record_idx);"

    /// The columns of the v1 `units` table, which the v16 rebuild copies.
    static let unitsColumnsV1 = [["id", "run_id", "kind", "idx", "max_activation", "density", "token_count", "histogram_json"]]

    /// The columns of the v1 `examples` table, which every rebuild copies (each inner list a line of the statement).
    static let examplesColumnsV1 = [
        ["id", "unit_id", "role", "subset", "record_idx", "context_idx", "bin", "max_activation"],
        ["tokens_json", "token_ids_json", "acts_json"],
    ]

    /// The statements that end a table rebuild (SQLite cannot change a column's CHECK or NOT NULL in
    /// place): copy `columns` of every row of `table` into `rebuilt` (already created with the new
    /// definition), drop `table`, give `rebuilt` its name and make `indexes` again. `columns` holds
    /// the column names a line of the statement each, as the released steps wrote them.
    static func rebuild(_ table: String, from rebuilt: String, columns: [[String]], indexes: [String] = []) -> String {
        let insert = "INSERT INTO \(rebuilt) (", select = "    SELECT "
        func list(_ indent: Int) -> String {
            columns.map { $0.joined(separator: ", ") }.joined(separator: ",\n" + String(repeating: " ", count: indent))
        }
        return ([insert + list(insert.count) + ")", select + list(select.count) + " FROM \(table);", "DROP TABLE \(table);",
                 "ALTER TABLE \(rebuilt) RENAME TO \(table);"] + indexes).joined(separator: "\n")
    }
}
