import AutoInterpLLM
public import Foundation

/// A text file of a prompts folder that goes into a prompt verbatim (the few-shot examples), with its hash.
///
/// Nothing is parsed, trimmed or generated: the file's bytes are the text, so what a run sends is
/// what the file says, and its SHA-256 is recorded with the run like a template's.
public struct PromptText: Sendable, Equatable {
    /// The file the text came from (absolute path), or a label for text built in code.
    public var file: String
    /// Hex SHA-256 of the file's bytes.
    public var sha256: String
    public var text: String

    /// Text built in code (tests); `file` labels it.
    public init(text: String, file: String) {
        self.file = file
        self.text = text
        sha256 = SHA256.hex(text)
    }

    /// Loads a text file.
    ///
    /// - Throws: ``AutoInterpError`` naming the file when it cannot be read or is not UTF-8.
    public init(contentsOf url: URL) throws {
        try self.init(contentsOf: url, kind: "prompt file", remedy: "pass \(Setting.prompts) DIR with the prompt files")
    }

    /// Loads a text file; `kind` names it and `remedy` says what to do in the error messages.
    init(contentsOf url: URL, kind: String, remedy: String) throws {
        let data: Data
        do {
            data = try Data(contentsOf: url)
        } catch {
            throw AutoInterpError.io(url.path, "cannot read the \(kind) (\(error.localizedDescription)); \(remedy)")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw AutoInterpError.invalidFile(url.path, "the \(kind) is not UTF-8 text")
        }
        self.file = url.standardizedFileURL.path
        self.text = text
        sha256 = SHA256.hex(data)
    }
}

/// Reads the explanations a few-shot text illustrates (`Explanation: …` and
/// `Explanation of the unit: …` lines), so an answer that copies one is caught (``ExplanationCheck``).
public enum FewShotText {
    public static func explanations(in text: String) -> [String] {
        var found: [String] = []
        for line in text.split(separator: "\n") {
            for label in ["Explanation of the unit: ", "Explanation: "] where line.hasPrefix(label) {
                let value = line.dropFirst(label.count).trimmingCharacters(in: .whitespaces)
                if !value.isEmpty, !found.contains(value) { found.append(value) }
                break
            }
        }
        return found
    }
}
