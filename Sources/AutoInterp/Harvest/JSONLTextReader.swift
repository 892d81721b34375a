import AutoInterpLLM
package import Foundation

/// Reads `{"text": …}` lines from a JSONL file, one text per non-blank line, without loading the file whole.
package struct JSONLTextReader: Sendable {
    package let url: URL

    package init(url: URL) {
        self.url = url
    }

    /// Calls `body` with each text and its 1-based line number, in file order; blank lines are skipped.
    /// Returns the SHA-256 (hex) of the file's bytes, the corpus hash a dataset records.
    ///
    /// - Throws: `AutoInterpError.invalidFile` as `"<file>: line N: …"` for a line that is not a JSON
    ///   object with a string `text`, or that is not UTF-8; `.io` if the file cannot be read;
    ///   anything `body` throws.
    @discardableResult
    package func forEachText(_ body: (_ text: String, _ line: Int) throws -> Void) throws -> String {
        guard let handle = FileHandle(forReadingAtPath: url.path) else {
            throw AutoInterpError.io(url.path, "cannot open the texts file (check the path)")
        }
        defer { try? handle.close() }
        var pending: [UInt8] = []
        var hasher = SHA256.Hasher()
        var lineNumber = 0
        func handleLine(_ bytes: ArraySlice<UInt8>) throws {
            lineNumber += 1
            var slice = bytes
            if slice.last == 0x0D { slice = slice.dropLast() }
            if slice.allSatisfy({ $0 == 0x20 || $0 == 0x09 }) { return }
            try body(try parse(slice, line: lineNumber), lineNumber)
        }
        while true {
            let chunk: Data?
            do {
                chunk = try handle.read(upToCount: 1 << 20)
            } catch {
                throw AutoInterpError.io(url.path, "read failed: \(error.localizedDescription)")
            }
            guard let chunk, !chunk.isEmpty else { break }
            hasher.update(chunk)
            pending.append(contentsOf: chunk)
            var start = pending.startIndex
            while let newline = pending[start...].firstIndex(of: 0x0A) {
                try handleLine(pending[start..<newline])
                start = newline + 1
            }
            pending.removeSubrange(pending.startIndex..<start)
        }
        if !pending.isEmpty { try handleLine(pending[...]) }
        return SHA256.hex(digest: hasher.finalize())
    }

    private func parse(_ bytes: ArraySlice<UInt8>, line: Int) throws -> String {
        let object: Any
        do {
            object = try JSONSerialization.jsonObject(with: Data(bytes), options: [.fragmentsAllowed])
        } catch {
            throw AutoInterpError.invalidFile(url.path, "line \(line): not valid JSON; each line must be an object like {\"text\": \"...\"}")
        }
        guard let dictionary = object as? [String: Any] else {
            throw AutoInterpError.invalidFile(url.path, "line \(line): not a JSON object; each line must be an object like {\"text\": \"...\"}")
        }
        guard let text = dictionary["text"] as? String else {
            throw AutoInterpError.invalidFile(url.path, "line \(line): no string \"text\" field; each line must be an object like {\"text\": \"...\"}")
        }
        return text
    }
}
