package import AutoInterp
import AutoInterpLLM
package import Foundation

/// The "external runner" of the file batch backend in tests: reads a batch input file
/// (OpenAI-batch JSONL), answers each line through a test handler (e.g. ``ScriptedLLM``) and
/// writes OpenAI-shaped output lines, in shuffled order, with the lines `fail` picks in the
/// error file instead (both error kinds by turns: an HTTP 500 with a body, and `response: null`
/// with `batch_expired`); `fail` sees the line number and the request body.
package enum FileBatchRunner {
    /// Answers `input` into `output` (and `errors`, when a line fails); returns the lines answered.
    @discardableResult
    package static func run(
        input: URL, output: URL, errors: URL? = nil, seed: UInt64 = 1, handler: @escaping @Sendable (ChatRequestSeen) -> TestReply,
        fail: (_ line: Int, _ body: [String: Any]) -> Bool = { _, _ in false }
    ) throws -> Int {
        var answered: [Data] = []
        var failed: [Data] = []
        let text = try String(contentsOf: input, encoding: .utf8)
        for (index, line) in text.split(separator: "\n").enumerated() {
            let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] ?? [:]
            let customID = object["custom_id"] as? String ?? ""
            let body = try JSONSerialization.data(withJSONObject: object["body"] ?? [:], options: [.sortedKeys])
            if fail(index + 1, object["body"] as? [String: Any] ?? [:]) {
                let entry: [String: Any] = index % 2 == 0
                    ? ["id": "batch_req_\(index)", "custom_id": customID,
                       "response": ["status_code": 500, "request_id": "req_\(index)", "body": ["error": ["message": "test fault", "type": "server_error"]]],
                       "error": NSNull()]
                    : ["id": "batch_req_\(index)", "custom_id": customID, "response": NSNull(),
                       "error": ["code": "batch_expired", "message": "This request could not be executed before the completion window expired."]]
                failed.append(try JSONSerialization.data(withJSONObject: entry, options: [.sortedKeys]))
                continue
            }
            let seen = ChatRequestSeen(
                number: index + 1, method: "POST", path: "/v1/chat/completions", headers: [:], body: body,
                request: try? JSONDecoder().decode(ChatCompletionRequest.self, from: body))
            let completion = try JSONSerialization.jsonObject(with: TestEndpoint.completionBody(for: seen, handler: handler))
            let entry: [String: Any] = [
                "id": "batch_req_\(index)", "custom_id": customID,
                "response": ["status_code": 200, "request_id": "req_\(index)", "body": completion], "error": NSNull(),
            ]
            answered.append(try JSONSerialization.data(withJSONObject: entry, options: [.sortedKeys]))
        }
        var generator = SeededGenerator(seed: seed)
        answered.shuffle(using: &generator)
        try write(answered, to: output)
        if let errors, !failed.isEmpty { try write(failed, to: errors) }
        return answered.count
    }

    /// Answers every batch of `store` that is written and has no output yet; returns the files answered.
    @discardableResult
    package static func answerOpenBatches(
        of store: RunStore, handler: @escaping @Sendable (ChatRequestSeen) -> TestReply,
        fail: (_ line: Int, _ body: [String: Any]) -> Bool = { _, _ in false }
    ) throws -> Int {
        var files = 0
        for batch in try store.batches() where batch.status == .written {
            let output = BatchWaves.outputURL(of: batch)
            guard !FileManager.default.fileExists(atPath: output.path) else { continue }
            try run(
                input: URL(fileURLWithPath: batch.localPath), output: output, errors: BatchWaves.errorURL(of: batch), handler: handler,
                fail: fail)
            files += 1
        }
        return files
    }

    private static func write(_ lines: [Data], to url: URL) throws {
        var data = Data()
        for line in lines {
            data.append(line)
            data.append(0x0A)
        }
        try data.write(to: url, options: .atomic)
    }
}
