import AutoInterp
import AutoInterpLLM
package import Foundation
import Synchronization

/// An OpenAI files + batches emulator for tests and `autointerp-dev serve-test --batch`: the
/// batch API of SCALE-OUT.md §1.1 over a local socket (``TestEndpoint``), each line answered by
/// an upstream (a test handler, or a real chat endpoint).
///
/// Faithful on: `file-…`/`batch_…` ids and their JSON objects; validation with line numbers
/// (JSON per line, unique `custom_id`, `method` POST, `url` equal to the batch's endpoint, one
/// model, no `stream`, the line and byte limits) ending in `failed` with `errors.data`; the status
/// machine `validating → in_progress → finalizing → completed` with time-scaled delays, `expired`
/// after the window with the finished lines kept, `cancelling → cancelled` with partial results;
/// output lines shuffled by a seed into an output file and an error file (an HTTP status with a
/// body, or `response: null` with an error); per-line faults; files that 404 after a TTL; a cap
/// on batch creations; and its state in a folder, so a restarted server goes on where it was.
package final class BatchTestServer: Sendable {
    /// A fault the upstream call of one line gets instead of its answer.
    package enum LineFault: String, Sendable, Codable {
        /// `response.status_code` 500 with an error body.
        case serverError
        /// `response: null`, `error: {code: server_error}`.
        case nullResponse
        /// HTTP 200 whose body is not a chat completion.
        case garbage
    }

    /// How the server behaves; times in seconds.
    package struct Options: Sendable {
        package var validateDelay: Double = 0.02
        package var finalizeDelay: Double = 0.02
        /// Each line's processing time.
        package var lineDelay: Double = 0
        /// The completion window: a batch still in progress after it expires.
        package var expireAfter: Double = 24 * 3600
        /// Tests: the window of the first `n` batches closes after this many lines each (however
        /// long they took), so an expiry with partial results does not depend on timing.
        package var expireAfterLines: (lines: Int, batches: Int)?
        /// Tests: each of the first `batches` batches runs this many lines and then holds (in
        /// progress) until it is cancelled.
        package var holdAfterLines: (lines: Int, batches: Int)?
        /// Output files 404 this long after they are written.
        package var fileTTL: Double = 30 * 24 * 3600
        package var maxLines = 50_000
        package var maxBytes = 200 * 1_000_000
        /// Batch creations accepted in all (then HTTP 429).
        package var maxCreations = 2_000
        /// Seeds the output order.
        package var seed: UInt64 = 1
        /// Which `response_format` types its chat route accepts (real-time calls and probes).
        package var structuredOutputs: TestStructuredOutputs = .jsonSchema
        /// Real-time chat completions (the client's capability probes, `--batch-retry realtime`)
        /// answered by this instead of the test handler: the same upstream as the batch lines, so a
        /// run through a real server probes that server (nil: the test handler answers).
        package var chatUpstream: Upstream?
        /// The fault of a line, from its 0-based number in the input and its body.
        package var fault: @Sendable (_ line: Int, _ body: [String: Any]) -> LineFault? = { _, _ in nil }

        package init() {}
    }

    /// The answer to one line's body: an HTTP status and a body.
    package typealias Upstream = @Sendable (Data) -> (status: Int, body: Data)

    private struct FileRecord: Codable {
        var id: String
        var purpose: String
        var filename: String
        var bytes: Int
        var createdAt: Double
    }

    private struct BatchRecord: Codable {
        var id: String
        var inputFileID: String
        var endpoint: String
        var status: String
        var metadata: [String: String]?
        var createdAt: Double
        var inProgressAt: Double?
        var finalizingAt: Double?
        var completedAt: Double?
        var failedAt: Double?
        var expiredAt: Double?
        var cancellingAt: Double?
        var cancelledAt: Double?
        var expiresAt: Double
        var total = 0
        var completed = 0
        var failed = 0
        var nextLine = 0
        var outputFileID: String?
        var errorFileID: String?
        var errors: [[String: String]]?
        var model: String?
        var inputTokens = 0
        var outputTokens = 0
        /// `anthropic` for a Message Batch (its JSON and results in Anthropic's shape).
        var dialect: String?
    }

    private struct State: Codable {
        var files: [String: FileRecord] = [:]
        var batches: [String: BatchRecord] = [:]
        var counter = 0
        var creations = 0
        /// Creations per input file (a test checks no wave was submitted twice).
        var creationsPerFile: [String: Int] = [:]
    }

    private let folder: URL
    private let options: Options
    private let upstream: Upstream
    private let state: Mutex<State>
    private let stopped = Mutex(false)
    private let endpointBox = Mutex<TestEndpoint?>(nil)
    /// Set by the worker thread when it ends (``stop()`` waits for it).
    private let workerDone = Mutex(false)
    private let target = RouteTarget()
    /// The split input lines of the batches in progress, by input file id.
    private let parsedInputs = Mutex<[String: [Substring]]>([:])

    /// Starts the server on `port` (0: any) with its state in `folder` (read back if there); its
    /// chat-completions route (real-time calls, the probes) answers with `chat`.
    package init(
        folder: URL, port: UInt16 = 0, options: Options = Options(), chat: @escaping @Sendable (ChatRequestSeen) -> TestReply = TestReply.echo,
        upstream: @escaping Upstream
    ) throws {
        self.folder = folder
        self.options = options
        self.upstream = upstream
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let saved = (try? Data(contentsOf: folder.appendingPathComponent("state.json"))).flatMap { try? JSONDecoder().decode(State.self, from: $0) }
        state = Mutex(saved ?? State())
        var configuration = TestEndpoint.Configuration(port: port, structuredOutputs: options.structuredOutputs, handler: chat)
        let target = self.target
        configuration.router = { seen in target.server.withLock { $0 }?.route(seen) }
        let endpoint = try TestEndpoint(configuration)
        endpointBox.withLock { $0 = endpoint }
        target.server.withLock { $0 = self }
        let thread = Thread { [weak self] in
            while let self, !self.isStopped {
                self.tick()
                usleep(5_000)
            }
            self?.workerDone.withLock { $0 = true }
        }
        thread.start()
    }

    /// A server whose lines are answered by a test handler (e.g. ``ScriptedLLM``).
    package convenience init(
        folder: URL, port: UInt16 = 0, options: Options = Options(), handler: @escaping @Sendable (ChatRequestSeen) -> TestReply
    ) throws {
        try self.init(folder: folder, port: port, options: options, chat: handler) { body in
            let seen = ChatRequestSeen(
                number: 0, method: "POST", path: "/v1/chat/completions", headers: [:], body: body,
                request: try? JSONDecoder().decode(ChatCompletionRequest.self, from: body))
            return (200, TestEndpoint.completionBody(for: seen, handler: handler))
        }
    }

    deinit { stop() }

    /// Where the endpoint's router finds the server: set once the server is made, cleared by
    /// ``stop()`` (which ends the cycle server → endpoint → router → server).
    private final class RouteTarget: Sendable {
        let server = Mutex<BatchTestServer?>(nil)
    }

    /// `http://127.0.0.1:<port>/v1`.
    package var baseURL: String { endpointBox.withLock { $0?.baseURL ?? "" } }
    package var port: Int { endpointBox.withLock { $0?.port ?? 0 } }

    /// Batches created in all, and per input file id.
    package var creations: Int { state.withLock { $0.creations } }
    package var creationsPerFile: [String: Int] { state.withLock { $0.creationsPerFile } }
    /// Lines run so far, by batch id.
    package var linesRun: [String: Int] { state.withLock { $0.batches.mapValues(\.nextLine) } }
    /// The status of every batch, by id.
    package var statuses: [String: String] { state.withLock { $0.batches.mapValues(\.status) } }

    private var isStopped: Bool { stopped.withLock { $0 } }

    /// Stops serving (the state stays in the folder for a restart).
    package func stop() {
        let first = stopped.withLock { s -> Bool in
            defer { s = true }
            return !s
        }
        guard first else { return }
        endpointBox.withLock { $0?.stop() }
        target.server.withLock { $0 = nil }
        for _ in 0..<200 where !workerDone.withLock({ $0 }) { usleep(5_000) }
    }

    // MARK: - Routes

    private func route(_ seen: ChatRequestSeen) -> (status: Int, body: Data)? {
        var path = seen.path
        if let query = path.firstIndex(of: "?") { path = String(path[..<query]) }
        if path.hasPrefix("/v1/messages/batches") { return anthropicRoute(seen, path: path) }
        if seen.method == "POST", path.hasSuffix("/chat/completions"), let forward = options.chatUpstream { return forward(seen.body) }
        guard path.hasPrefix("/v1/files") || path.hasPrefix("/v1/batches") else { return nil }
        let parts = path.split(separator: "/").map(String.init)  // ["v1", "files", id, "content"]
        switch (seen.method, parts.count) {
        case ("POST", 2) where parts[1] == "files": return upload(seen)
        case ("GET", 3) where parts[1] == "files": return fileObject(parts[2])
        case ("GET", 4) where parts[1] == "files" && parts[3] == "content": return fileContent(parts[2])
        case ("POST", 2) where parts[1] == "batches": return create(seen.body)
        case ("GET", 2) where parts[1] == "batches": return list()
        case ("GET", 3) where parts[1] == "batches": return batchObject(parts[2])
        case ("POST", 4) where parts[1] == "batches" && parts[3] == "cancel": return cancel(parts[2])
        default: return (404, Self.error("no route \(seen.method) \(seen.path)"))
        }
    }

    private func upload(_ seen: ChatRequestSeen) -> (Int, Data) {
        guard let type = seen.headers["content-type"], let range = type.range(of: "boundary=") else {
            return (400, Self.error("expected multipart/form-data"))
        }
        let boundary = String(type[range.upperBound...]).trimmingCharacters(in: CharacterSet(charactersIn: "\""))
        let parts = Self.multipart(seen.body, boundary: boundary)
        guard let file = parts["file"], parts["purpose"].map({ String(decoding: $0.data, as: UTF8.self) }) == "batch" else {
            return (400, Self.error("expected the fields file and purpose=batch"))
        }
        guard file.filename?.hasSuffix(".jsonl") == true else { return (400, Self.error("only .jsonl files are accepted for batch")) }
        guard file.data.count <= options.maxBytes else { return (400, Self.error("the file is larger than \(options.maxBytes) bytes")) }
        let record = state.withLock { s -> FileRecord in
            s.counter += 1
            let record = FileRecord(
                id: "file-\(String(format: "%06d", s.counter))", purpose: "batch", filename: file.filename ?? "input.jsonl",
                bytes: file.data.count, createdAt: Date().timeIntervalSince1970)
            s.files[record.id] = record
            return record
        }
        try? file.data.write(to: folder.appendingPathComponent(record.id))
        save()
        return (200, json(fileJSON(record)))
    }

    private func fileObject(_ id: String) -> (Int, Data) {
        guard let record = state.withLock({ $0.files[id] }), isAlive(record) else { return (404, Self.error("No such File object: \(id)")) }
        return (200, json(fileJSON(record)))
    }

    private func fileContent(_ id: String) -> (Int, Data) {
        guard let record = state.withLock({ $0.files[id] }), isAlive(record),
            let data = try? Data(contentsOf: folder.appendingPathComponent(id))
        else { return (404, Self.error("No such File object: \(id)")) }
        return (200, data)
    }

    private func isAlive(_ record: FileRecord) -> Bool {
        record.purpose == "batch" || Date().timeIntervalSince1970 - record.createdAt < options.fileTTL
    }

    private func create(_ body: Data) -> (Int, Data) {
        guard let object = (try? JSONSerialization.jsonObject(with: body)) as? [String: Any],
            let input = object["input_file_id"] as? String, let endpoint = object["endpoint"] as? String
        else { return (400, Self.error("expected input_file_id and endpoint")) }
        guard object["completion_window"] as? String == "24h" else { return (400, Self.error("completion_window must be 24h")) }
        let metadata = object["metadata"] as? [String: String]
        if let metadata, metadata.count > 16 || metadata.contains(where: { $0.key.count > 64 || $0.value.count > 512 }) {
            return (400, Self.error("metadata: at most 16 pairs, keys up to 64 and values up to 512 characters"))
        }
        let result = state.withLock { s -> (Int, BatchRecord?) in
            guard s.files[input] != nil else { return (404, nil) }
            guard s.creations < options.maxCreations else { return (429, nil) }
            s.counter += 1
            s.creations += 1
            s.creationsPerFile[input, default: 0] += 1
            let now = Date().timeIntervalSince1970
            let record = BatchRecord(
                id: "batch_\(String(format: "%06d", s.counter))", inputFileID: input, endpoint: endpoint, status: "validating",
                metadata: metadata, createdAt: now, expiresAt: now + options.expireAfter)
            s.batches[record.id] = record
            return (200, record)
        }
        save()
        guard let record = result.1 else {
            return (result.0, Self.error(result.0 == 429 ? "batch creation rate limit reached" : "No such File object: \(input)"))
        }
        return (200, json(batchJSON(record)))
    }

    private func list() -> (Int, Data) {
        let batches = state.withLock { $0.batches.values.filter { $0.dialect == nil }.sorted { $0.createdAt > $1.createdAt || ($0.createdAt == $1.createdAt && $0.id > $1.id) } }
        return (200, json(["object": "list", "data": batches.map(batchJSON), "has_more": false]))
    }

    private func batchObject(_ id: String) -> (Int, Data) {
        guard let record = state.withLock({ $0.batches[id] }) else { return (404, Self.error("No such Batch object: \(id)")) }
        return (200, json(batchJSON(record)))
    }

    private func cancel(_ id: String) -> (Int, Data) {
        let record = state.withLock { s -> BatchRecord? in
            guard var record = s.batches[id] else { return nil }
            if ["validating", "in_progress", "finalizing"].contains(record.status) {
                record.status = "cancelling"
                record.cancellingAt = Date().timeIntervalSince1970
                s.batches[id] = record
            }
            return record
        }
        save()
        guard let record else { return (404, Self.error("No such Batch object: \(id)")) }
        return (200, json(batchJSON(record)))
    }

    // MARK: - The status machine

    private func tick() {
        let now = Date().timeIntervalSince1970
        let ids = state.withLock { $0.batches.values.filter { !["completed", "failed", "expired", "cancelled"].contains($0.status) }.map(\.id) }
        for id in ids.sorted() {
            guard var record = state.withLock({ $0.batches[id] }) else { continue }
            let before = record
            switch record.status {
            case "validating" where now - record.createdAt >= options.validateDelay:
                validate(&record, now: now)
            case "in_progress":
                if now >= record.expiresAt {
                    finish(&record, as: "expired", now: now)
                } else {
                    // A few lines per tick, so that a cancel or the window's end can come in between.
                    let lines = inputLines(record)
                    let ordinal = state.withLock { s in s.batches.values.filter { $0.id <= record.id }.count }
                    let window = options.expireAfterLines.flatMap { ordinal <= $0.batches ? $0.lines : nil }
                    let hold = options.holdAfterLines.flatMap { ordinal <= $0.batches ? $0.lines : nil }
                    for _ in 0..<64 where record.nextLine < record.total && Date().timeIntervalSince1970 < record.expiresAt {
                        if let window, record.nextLine >= window { break }
                        if let hold, record.nextLine >= hold { break }
                        if state.withLock({ $0.batches[id]?.status }) == "cancelling" { break }
                        processLine(&record, lines: lines)
                    }
                    if let window, record.nextLine >= window, record.nextLine < record.total {
                        finish(&record, as: "expired", now: now)
                    } else if record.nextLine >= record.total {
                        record.status = "finalizing"
                        record.finalizingAt = now
                    }
                }
            case "finalizing" where now - (record.finalizingAt ?? now) >= options.finalizeDelay:
                finish(&record, as: "completed", now: now)
            case "cancelling":
                finish(&record, as: "cancelled", now: now)
            default:
                break
            }
            let changed = record.status != before.status || record.nextLine != before.nextLine
            guard changed else { continue }
            // A cancel that arrived meanwhile wins over the step just taken.
            state.withLock { s in
                if s.batches[id]?.status == "cancelling", record.status != "cancelled" {
                    record.status = "cancelling"
                    record.cancellingAt = s.batches[id]?.cancellingAt
                }
                s.batches[id] = record
            }
            save()
        }
    }

    private func inputLines(_ record: BatchRecord) -> [Substring] {
        if let cached = parsedInputs.withLock({ $0[record.inputFileID] }) { return cached }
        guard let data = try? Data(contentsOf: folder.appendingPathComponent(record.inputFileID)) else { return [] }
        let lines = String(decoding: data, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: true)
        // Kept while the batch runs: each tick runs a few lines, and a wave of 50,000 lines must
        // not be read and split again for each of them (the server's memory, not the client's).
        if record.status == "in_progress" { parsedInputs.withLock { $0[record.inputFileID] = lines } }
        return lines
    }

    private func validate(_ record: inout BatchRecord, now: Double) {
        var errors: [[String: String]] = []
        var seen = Set<String>()
        var models = Set<String>()
        let lines = inputLines(record)
        func fail(_ line: Int, _ code: String, _ message: String, _ param: String? = nil) {
            var error = ["code": code, "line": String(line), "message": message]
            if let param { error["param"] = param }
            errors.append(error)
        }
        if lines.isEmpty { fail(1, "empty_file", "The input file is empty or missing.") }
        if lines.count > options.maxLines { fail(lines.count, "too_many_requests", "More than \(options.maxLines) requests in one batch.") }
        for (index, line) in lines.enumerated() where errors.count < 10 {
            let number = index + 1
            guard let object = (try? JSONSerialization.jsonObject(with: Data(line.utf8))) as? [String: Any] else {
                fail(number, "invalid_json_line", "This line is not parseable as valid JSON.")
                continue
            }
            guard let id = object["custom_id"] as? String, !id.isEmpty else {
                fail(number, "missing_required_parameter", "Missing custom_id.", "custom_id")
                continue
            }
            if !seen.insert(id).inserted { fail(number, "duplicate_custom_id", "The custom_id for this request is a duplicate.", "custom_id") }
            if object["method"] as? String != "POST" { fail(number, "invalid_method", "The method must be POST.", "method") }
            if object["url"] as? String != record.endpoint { fail(number, "invalid_url", "The url must be \(record.endpoint).", "url") }
            let body = object["body"] as? [String: Any] ?? [:]
            if body["stream"] as? Bool == true { fail(number, "invalid_request", "Streaming is not supported in a batch.", "body.stream") }
            if let model = body["model"] as? String { models.insert(model) }
            if models.count > 1 { fail(number, "mismatched_model", "Every request of a batch must use the same model.", "body.model") }
        }
        if errors.isEmpty {
            record.status = "in_progress"
            record.inProgressAt = now
            record.total = lines.count
            record.model = models.first
        } else {
            record.status = "failed"
            record.failedAt = now
            record.errors = errors
        }
    }

    /// Runs the next line of `record` through the upstream, appending its result to the batch's
    /// pending results (a file per batch in the folder, so a restart keeps them).
    private func processLine(_ record: inout BatchRecord, lines: [Substring]) {
        guard record.nextLine < lines.count else { return }
        if options.lineDelay > 0 { usleep(UInt32(options.lineDelay * 1_000_000)) }
        let index = record.nextLine
        let object = (try? JSONSerialization.jsonObject(with: Data(lines[index].utf8))) as? [String: Any] ?? [:]
        let id = object["custom_id"] as? String ?? ""
        let body = object["body"] as? [String: Any] ?? [:]
        let bodyData = (try? JSONSerialization.data(withJSONObject: body, options: [.sortedKeys])) ?? Data()
        var entry: [String: Any] = ["id": "batch_req_\(record.id)_\(index)", "custom_id": id]
        var ok = false
        switch options.fault(index, body) {
        case .serverError?:
            entry["response"] = ["status_code": 500, "request_id": "req_\(index)", "body": ["error": ["message": "injected fault", "type": "server_error"]]]
            entry["error"] = NSNull()
        case .nullResponse?:
            entry["response"] = NSNull()
            entry["error"] = ["code": "server_error", "message": "injected fault"]
        case .garbage?:
            entry["response"] = ["status_code": 200, "request_id": "req_\(index)", "body": ["garbage": true]]
            entry["error"] = NSNull()
        case nil:
            let (status, answer) = upstream(bodyData)
            let parsed = (try? JSONSerialization.jsonObject(with: answer)) ?? ["error": ["message": String(decoding: answer.prefix(200), as: UTF8.self)]]
            entry["response"] = ["status_code": status, "request_id": "req_\(index)", "body": parsed]
            entry["error"] = NSNull()
            ok = status == 200
            if let usage = (parsed as? [String: Any])?["usage"] as? [String: Any] {
                record.inputTokens += usage["prompt_tokens"] as? Int ?? 0
                record.outputTokens += usage["completion_tokens"] as? Int ?? 0
            }
        }
        appendResult(record.id, ok: ok, entry)
        if ok { record.completed += 1 } else { record.failed += 1 }
        record.nextLine += 1
    }

    private func appendResult(_ batch: String, ok: Bool, _ entry: [String: Any]) {
        guard var line = try? JSONSerialization.data(withJSONObject: entry, options: [.sortedKeys]) else { return }
        line.append(0x0A)
        let url = folder.appendingPathComponent("\(batch).\(ok ? "ok" : "err").partial")
        if let handle = FileHandle(forWritingAtPath: url.path) {
            handle.seekToEndOfFile()
            handle.write(line)
            try? handle.close()
        } else {
            try? line.write(to: url)
        }
    }

    /// Ends `record` as `status`: lines not run get an error line (`batch_expired`, `batch_cancelled`);
    /// the results are shuffled into an output file and an error file.
    private func finish(_ record: inout BatchRecord, as status: String, now: Double) {
        let lines = inputLines(record)
        if status != "completed" {
            let code = status == "expired" ? "batch_expired" : "batch_cancelled"
            let message = status == "expired"
                ? "This request could not be executed before the completion window expired." : "This request was cancelled."
            for index in record.nextLine..<max(record.nextLine, lines.count) {
                let object = (try? JSONSerialization.jsonObject(with: Data(lines[index].utf8))) as? [String: Any] ?? [:]
                appendResult(record.id, ok: false, [
                    "id": "batch_req_\(record.id)_\(index)", "custom_id": object["custom_id"] as? String ?? "", "response": NSNull(),
                    "error": ["code": code, "message": message],
                ])
                record.failed += 1
            }
            record.nextLine = lines.count
            if record.total == 0 { record.total = lines.count }
        }
        var generator = SeededGenerator(seed: options.seed &+ record.id.utf8.reduce(0) { $0 &* 31 &+ UInt64($1) })
        for (ok, kind) in [(true, "batch_output"), (false, "batch_output")] {
            let partial = folder.appendingPathComponent("\(record.id).\(ok ? "ok" : "err").partial")
            guard let data = try? Data(contentsOf: partial), !data.isEmpty else { continue }
            var rows = String(decoding: data, as: UTF8.self).split(separator: "\n").map(String.init)
            rows.shuffle(using: &generator)
            let file = state.withLock { s -> FileRecord in
                s.counter += 1
                let file = FileRecord(
                    id: "file-\(String(format: "%06d", s.counter))", purpose: kind, filename: "\(record.id)_\(ok ? "output" : "error").jsonl",
                    bytes: 0, createdAt: now)
                s.files[file.id] = file
                return file
            }
            let content = Data((rows.joined(separator: "\n") + "\n").utf8)
            try? content.write(to: folder.appendingPathComponent(file.id))
            state.withLock { $0.files[file.id]?.bytes = content.count }
            if ok { record.outputFileID = file.id } else { record.errorFileID = file.id }
            try? FileManager.default.removeItem(at: partial)
        }
        record.status = status
        parsedInputs.withLock { $0[record.inputFileID] = nil }
        switch status {
        case "completed": record.completedAt = now
        case "expired": record.expiredAt = now
        default: record.cancelledAt = now
        }
    }

    // MARK: - JSON

    private func fileJSON(_ record: FileRecord) -> [String: Any] {
        ["id": record.id, "object": "file", "bytes": record.bytes, "created_at": Int(record.createdAt), "filename": record.filename,
         "purpose": record.purpose, "status": "processed"]
    }

    private func batchJSON(_ record: BatchRecord) -> [String: Any] {
        func stamp(_ value: Double?) -> Any { value.map { Int($0) } ?? NSNull() }
        var object: [String: Any] = [
            "id": record.id, "object": "batch", "endpoint": record.endpoint, "input_file_id": record.inputFileID,
            "completion_window": "24h", "status": record.status, "output_file_id": record.outputFileID ?? NSNull(),
            "error_file_id": record.errorFileID ?? NSNull(), "created_at": Int(record.createdAt), "in_progress_at": stamp(record.inProgressAt),
            "expires_at": Int(record.expiresAt), "finalizing_at": stamp(record.finalizingAt), "completed_at": stamp(record.completedAt),
            "failed_at": stamp(record.failedAt), "expired_at": stamp(record.expiredAt), "cancelling_at": stamp(record.cancellingAt),
            "cancelled_at": stamp(record.cancelledAt),
            "request_counts": ["total": record.total, "completed": record.completed, "failed": record.failed],
            "metadata": record.metadata ?? NSNull(), "model": record.model ?? NSNull(),
            "usage": [
                "input_tokens": record.inputTokens, "input_tokens_details": ["cached_tokens": 0], "output_tokens": record.outputTokens,
                "output_tokens_details": ["reasoning_tokens": 0], "total_tokens": record.inputTokens + record.outputTokens,
            ],
        ]
        object["errors"] = record.errors.map { errors in
            ["object": "list", "data": errors.map { e -> [String: Any] in
                ["code": e["code"] ?? "", "line": Int(e["line"] ?? "") ?? 0, "message": e["message"] ?? "", "param": e["param"] ?? NSNull()]
            }] as [String: Any]
        } ?? NSNull()
        return object
    }

    private func json(_ object: Any) -> Data {
        (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data("{}".utf8)
    }

    private static func error(_ message: String) -> Data {
        (try? JSONSerialization.data(withJSONObject: ["error": ["message": message, "type": "invalid_request_error"]])) ?? Data()
    }

    private func save() {
        guard let data = state.withLock({ try? JSONEncoder().encode($0) }) else { return }
        try? data.write(to: folder.appendingPathComponent("state.json"), options: .atomic)
    }

    /// The named parts of a multipart/form-data body.
    private static func multipart(_ body: Data, boundary: String) -> [String: (filename: String?, data: Data)] {
        let delimiter = Data("--\(boundary)".utf8)
        var parts: [String: (String?, Data)] = [:]
        var cursor = body.startIndex
        while let start = body.range(of: delimiter, in: cursor..<body.endIndex) {
            let after = start.upperBound
            guard let next = body.range(of: delimiter, in: after..<body.endIndex) else { break }
            let part = body[after..<next.lowerBound]
            if let split = part.range(of: Data("\r\n\r\n".utf8)) {
                let head = String(decoding: part[part.startIndex..<split.lowerBound], as: UTF8.self)
                var content = Data(part[split.upperBound...])
                if content.suffix(2) == Data("\r\n".utf8) { content.removeLast(2) }
                func attribute(_ name: String) -> String? {
                    guard let range = head.range(of: "\(name)=\"") else { return nil }
                    return head[range.upperBound...].split(separator: "\"", maxSplits: 1).first.map(String.init)
                }
                if let name = attribute("name") { parts[name] = (attribute("filename"), content) }
            }
            cursor = next.lowerBound
        }
        return parts
    }

    // MARK: - Anthropic Message Batches

    private func anthropicRoute(_ seen: ChatRequestSeen, path: String) -> (status: Int, body: Data) {
        let parts = path.split(separator: "/").map(String.init)  // ["v1", "messages", "batches", id, "results"|"cancel"]
        switch (seen.method, parts.count) {
        case ("POST", 3): return anthropicCreate(seen.body)
        case ("GET", 3):
            let batches = state.withLock { $0.batches.values.filter { $0.dialect == "anthropic" }.sorted { $0.id > $1.id } }
            return (200, json(["data": batches.map(anthropicJSON), "has_more": false]))
        case ("GET", 4):
            guard let record = state.withLock({ $0.batches[parts[3]] }) else { return (404, Self.error("not found: \(parts[3])")) }
            return (200, json(anthropicJSON(record)))
        case ("POST", 5) where parts[4] == "cancel":
            _ = cancel(parts[3])
            guard let record = state.withLock({ $0.batches[parts[3]] }) else { return (404, Self.error("not found: \(parts[3])")) }
            return (200, json(anthropicJSON(record)))
        case ("GET", 5) where parts[4] == "results":
            guard let record = state.withLock({ $0.batches[parts[3]] }),
                ["completed", "expired", "cancelled"].contains(record.status)
            else { return (404, Self.error("results are available once the batch has ended")) }
            return (200, anthropicResults(record))
        default:
            return (404, Self.error("no route \(seen.method) \(seen.path)"))
        }
    }

    /// A Message Batch: its requests validated (`custom_id` ^[a-zA-Z0-9_-]{1,64}$, unique) and kept
    /// as OpenAI lines, so the same status machine runs them.
    private func anthropicCreate(_ body: Data) -> (Int, Data) {
        guard let object = (try? JSONSerialization.jsonObject(with: body)) as? [String: Any],
            let requests = object["requests"] as? [[String: Any]], !requests.isEmpty
        else { return (400, Self.error("requests: expected a non-empty list")) }
        var seen = Set<String>()
        var lines = Data()
        for (index, request) in requests.enumerated() {
            let id = request["custom_id"] as? String ?? ""
            let allowed = !id.isEmpty && id.count <= 64 && id.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_" || $0 == "-") }
            guard allowed, seen.insert(id).inserted else { return (400, Self.error("requests.\(index).custom_id: invalid or duplicate")) }
            guard let params = request["params"] as? [String: Any], params["model"] is String, params["max_tokens"] is Int else {
                return (400, Self.error("requests.\(index).params: model and max_tokens are required"))
            }
            guard params["stream"] == nil else { return (400, Self.error("requests.\(index).params.stream is not allowed in a batch")) }
            var messages: [[String: Any]] = []
            if let system = params["system"] as? String { messages.append(["role": "system", "content": system]) }
            messages += params["messages"] as? [[String: Any]] ?? []
            var chat: [String: Any] = ["model": params["model"] ?? "", "messages": messages, "max_tokens": params["max_tokens"] ?? 1024]
            if let temperature = params["temperature"] { chat["temperature"] = temperature }
            let line: [String: Any] = ["custom_id": id, "method": "POST", "url": "/v1/chat/completions", "body": chat]
            guard let data = try? JSONSerialization.data(withJSONObject: line, options: [.sortedKeys]) else { continue }
            lines.append(data)
            lines.append(0x0A)
        }
        let record = state.withLock { s -> BatchRecord in
            s.counter += 1
            let file = FileRecord(
                id: "file-\(String(format: "%06d", s.counter))", purpose: "batch", filename: "requests.jsonl", bytes: lines.count,
                createdAt: Date().timeIntervalSince1970)
            s.files[file.id] = file
            s.counter += 1
            s.creations += 1
            s.creationsPerFile[file.id, default: 0] += 1
            let now = Date().timeIntervalSince1970
            var record = BatchRecord(
                id: "msgbatch_\(String(format: "%06d", s.counter))", inputFileID: file.id, endpoint: "/v1/chat/completions",
                status: "validating", metadata: nil, createdAt: now, expiresAt: now + options.expireAfter)
            record.dialect = "anthropic"
            s.batches[record.id] = record
            return record
        }
        try? lines.write(to: folder.appendingPathComponent(record.inputFileID))
        save()
        return (200, json(anthropicJSON(record)))
    }

    private func anthropicJSON(_ record: BatchRecord) -> [String: Any] {
        let ended = ["completed", "expired", "cancelled", "failed"].contains(record.status)
        let formatter = ISO8601DateFormatter()
        func stamp(_ value: Double?) -> Any { value.map { formatter.string(from: Date(timeIntervalSince1970: $0)) } ?? NSNull() }
        let processing = ended ? 0 : max(0, record.total - record.completed - record.failed) + (record.total == 0 ? 1 : 0)
        return [
            "id": record.id, "type": "message_batch",
            "processing_status": ended ? "ended" : record.status == "cancelling" ? "canceling" : "in_progress",
            "request_counts": [
                "processing": processing, "succeeded": ended ? record.completed : 0,
                "errored": ended && record.status == "completed" ? record.failed : 0,
                "canceled": record.status == "cancelled" ? record.failed : 0, "expired": record.status == "expired" ? record.failed : 0,
            ],
            "created_at": stamp(record.createdAt), "expires_at": stamp(record.expiresAt),
            "ended_at": stamp(record.completedAt ?? record.expiredAt ?? record.cancelledAt),
            "cancel_initiated_at": stamp(record.cancellingAt),
            "results_url": ended ? "/v1/messages/batches/\(record.id)/results" : NSNull(),
        ]
    }

    /// The ended batch's lines as Anthropic result lines, in the shuffled order of its files.
    private func anthropicResults(_ record: BatchRecord) -> Data {
        var out = Data()
        for fileID in [record.outputFileID, record.errorFileID].compactMap({ $0 }) {
            guard let data = try? Data(contentsOf: folder.appendingPathComponent(fileID)) else { continue }
            for line in String(decoding: data, as: UTF8.self).split(separator: "\n") {
                guard let entry = (try? JSONSerialization.jsonObject(with: Data(line.utf8))) as? [String: Any] else { continue }
                let id = entry["custom_id"] as? String ?? ""
                var result: [String: Any]
                let response = entry["response"] as? [String: Any]
                let body = response?["body"] as? [String: Any]
                if response?["status_code"] as? Int == 200, let choices = body?["choices"] as? [[String: Any]],
                    let message = choices.first?["message"] as? [String: Any] {
                    let usage = body?["usage"] as? [String: Any] ?? [:]
                    result = ["type": "succeeded", "message": [
                        "id": "msg_\(id.prefix(8))", "type": "message", "role": "assistant", "model": body?["model"] ?? "",
                        "content": [["type": "text", "text": message["content"] as? String ?? ""]],
                        "stop_reason": choices.first?["finish_reason"] as? String == "length" ? "max_tokens" : "end_turn",
                        "usage": ["input_tokens": usage["prompt_tokens"] ?? 0, "output_tokens": usage["completion_tokens"] ?? 0],
                    ]]
                } else if let error = entry["error"] as? [String: Any], let code = error["code"] as? String,
                    code == "batch_expired" || code == "batch_cancelled" {
                    result = ["type": code == "batch_expired" ? "expired" : "canceled"]
                } else {
                    result = ["type": "errored", "error": ["type": "error", "error": ["type": "api_error", "message": "injected fault"]]]
                }
                if let data = try? JSONSerialization.data(withJSONObject: ["custom_id": id, "result": result], options: [.sortedKeys]) {
                    out.append(data)
                    out.append(0x0A)
                }
            }
        }
        return out
    }
}
