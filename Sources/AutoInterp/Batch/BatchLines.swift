import AutoInterpLLM
public import Foundation

/// The JSONL line formats of the batch transport: OpenAI-batch input lines, and the result lines
/// read back (OpenAI's output and error files, and vLLM `run-batch`'s one file), one rule for all:
/// a line is answered when its `error` is null and `response.status_code` is 200.
public enum BatchLines {
    /// The URL every input line names (and the batch's endpoint).
    public static let chatCompletionsURL = "/v1/chat/completions"

    /// One input line: `{"custom_id", "method": "POST", "url", "body"}` and a newline. `body` is
    /// the canonical request JSON as the client hashed it (one line, no newline in it).
    public static func inputLine(customID: String, body: Data) -> Data {
        var line = Data("{\"custom_id\":\"\(customID)\",\"method\":\"POST\",\"url\":\"\(chatCompletionsURL)\",\"body\":".utf8)
        line.append(body)
        line.append(contentsOf: Array("}\n".utf8))
        return line
    }

    /// Reads one result line (`path:line` names it in errors).
    ///
    /// - Throws: ``AutoInterpError`` when the line is not a JSON object with a `custom_id`.
    public static func result(_ text: Substring, path: String, line: Int) throws -> BatchLineResult {
        guard let object = (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String: Any] else {
            throw AutoInterpError.invalidFile(path, "line \(line) is not a JSON object (expected an OpenAI batch output line)")
        }
        guard let customID = object["custom_id"] as? String, !customID.isEmpty else {
            throw AutoInterpError.invalidFile(path, "line \(line) has no custom_id (expected an OpenAI batch output line)")
        }
        let response = object["response"] as? [String: Any]
        let status = response?["status_code"] as? Int
        if let error = errorText(object["error"]) {
            return BatchLineResult(customID: customID, outcome: .failed(status: status, error: error))
        }
        guard let response else {
            return BatchLineResult(customID: customID, outcome: .failed(status: nil, error: "the line has neither a response nor an error"))
        }
        let body = response["body"]
        guard status == 200, let body = body as? [String: Any] else {
            let detail = errorText((body as? [String: Any])?["error"]) ?? "no chat completion in the response"
            let error = "HTTP \(status.map(String.init) ?? "?"): \(detail)"
            return BatchLineResult(customID: customID, outcome: .failed(status: status, error: error))
        }
        let data = try JSONSerialization.data(withJSONObject: body, options: [.sortedKeys])
        return BatchLineResult(customID: customID, outcome: .answered(data))
    }

    /// An error object's `code: message`, an error string (vLLM), or nil for none.
    static func errorText(_ value: Any?) -> String? {
        switch value {
        case let text as String: return text.isEmpty ? nil : String(text.prefix(300))
        case let object as [String: Any]:
            let message = (object["message"] as? String) ?? ""
            let code = (object["code"] as? String) ?? (object["type"] as? String)
            let text = [code, message].compactMap { $0 }.filter { !$0.isEmpty }.joined(separator: ": ")
            return String((text.isEmpty ? "the line failed" : text).prefix(300))
        default: return nil
        }
    }

    /// Calls `body` for each non-empty line of the file at `url` (1-based line numbers), reading
    /// it in pieces: a result file is never held whole.
    public static func forEachLine(of url: URL, _ body: (Substring, Int) throws -> Void) throws {
        guard let handle = FileHandle(forReadingAtPath: url.path) else {
            throw AutoInterpError.invalidFile(url.path, "cannot be opened for reading")
        }
        defer { try? handle.close() }
        var buffer = Data()
        var number = 0
        func emit(_ bytes: Data) throws {
            number += 1
            let text = String(decoding: bytes, as: UTF8.self)
            let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
            if !trimmed.isEmpty { try body(Substring(trimmed), number) }
        }
        while true {
            let piece = try handle.read(upToCount: 1 << 20) ?? Data()
            if piece.isEmpty { break }
            buffer.append(piece)
            var start = buffer.startIndex
            while let newline = buffer[start...].firstIndex(of: 0x0A) {
                try emit(buffer[start..<newline])
                start = buffer.index(after: newline)
            }
            buffer = Data(buffer[start...])
        }
        if !buffer.isEmpty { try emit(buffer) }
    }
}
