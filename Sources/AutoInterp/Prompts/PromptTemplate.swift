public import AutoInterpLLM
public import Foundation

/// A prompt template loaded from a text file: a system part and a user part with `{{name}}` placeholders.
///
/// The file holds a line `=== system ===` followed by the system text, then a line `=== user ===`
/// followed by the user text. Placeholders are `{{name}}` (letters, digits, `_`); rendering fills
/// each with its value and refuses a placeholder it has no value for, so a typo in an edited
/// template is caught before any call is made.
public struct PromptTemplate: Sendable, Equatable {
    /// The file the template came from (absolute path), or a label for templates built in code.
    public var file: String
    /// Hex SHA-256 of the file's bytes, as recorded in the run config.
    public var sha256: String
    public var system: String
    public var user: String
    /// The worked examples that fill `{{few_shot}}`, from their own file (``PromptSet`` loads
    /// them beside the template); ``render(_:)`` uses them unless given a `few_shot` value.
    public var fewShot: PromptText?

    /// Parses template text.
    ///
    /// - Parameters:
    ///   - text: the file content.
    ///   - file: where it came from, for error messages and the run record.
    ///   - required: placeholders the caller fills and the template must use.
    /// - Throws: ``AutoInterpError/invalidFile(_:_:)`` when a section is missing or a required
    ///   placeholder is absent.
    public init(text: String, file: String, required: [String] = []) throws {
        self.file = file
        sha256 = SHA256.hex(text)
        var sections: [String: [Substring]] = [:]
        var current: String?
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            if trimmed.hasPrefix("==="), trimmed.hasSuffix("==="), trimmed.count > 6 {
                let name = trimmed.dropFirst(3).dropLast(3).trimmingCharacters(in: .whitespaces).lowercased()
                guard name == "system" || name == "user" else {
                    throw AutoInterpError.invalidFile(file, "unknown section '=== \(name) ===' (use '=== system ===' and '=== user ===')")
                }
                guard sections[name] == nil else {
                    throw AutoInterpError.invalidFile(file, "section '=== \(name) ===' appears twice")
                }
                current = name
                sections[name] = []
                continue
            }
            if let current { sections[current]?.append(line) }
        }
        guard let system = sections["system"], let user = sections["user"] else {
            throw AutoInterpError.invalidFile(file, "a prompt template needs a '=== system ===' and a '=== user ===' section")
        }
        self.system = system.joined(separator: "\n").trimmingCharacters(in: .whitespacesAndNewlines)
        self.user = user.joined(separator: "\n").trimmingCharacters(in: .whitespacesAndNewlines)
        let used = Set(Self.placeholders(in: self.system) + Self.placeholders(in: self.user))
        for name in required where !used.contains(name) {
            throw AutoInterpError.invalidFile(file, "the template must contain the placeholder {{\(name)}}")
        }
    }

    /// Loads and parses a template file.
    public init(contentsOf url: URL, required: [String] = []) throws {
        let loaded = try PromptText(contentsOf: url, kind: "prompt template", remedy: "pass \(Setting.prompts) DIR with the template files")
        try self.init(text: loaded.text, file: loaded.file, required: required)
        sha256 = loaded.sha256
    }

    /// The placeholder names used in `text`, in order of appearance.
    public static func placeholders(in text: String) -> [String] {
        var names: [String] = []
        var rest = text[...]
        while let open = rest.range(of: "{{") {
            guard let close = rest[open.upperBound...].range(of: "}}") else { break }
            let name = String(rest[open.upperBound..<close.lowerBound])
            if !name.isEmpty, name.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" }) { names.append(name) }
            rest = rest[close.upperBound...]
        }
        return names
    }

    /// The system and user messages with every placeholder filled (`{{few_shot}}` from ``fewShot``
    /// when `values` has no `few_shot`).
    ///
    /// - Throws: ``AutoInterpError/invalidFile(_:_:)`` naming a placeholder that has no value.
    public func render(_ values: [String: String]) throws -> [ChatCompletionRequest.Message] {
        var values = values
        if let fewShot, values["few_shot"] == nil { values["few_shot"] = fewShot.text }
        return [.system(try fill(system, values)), .user(try fill(user, values))]
    }

    private func fill(_ text: String, _ values: [String: String]) throws -> String {
        var output = ""
        var rest = text[...]
        while let open = rest.range(of: "{{"), let close = rest[open.upperBound...].range(of: "}}") {
            let name = String(rest[open.upperBound..<close.lowerBound])
            output += rest[..<open.lowerBound]
            if name.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" }), !name.isEmpty {
                guard let value = values[name] else {
                    throw AutoInterpError.invalidFile(
                        file, "unknown placeholder {{\(name)}} (known here: \(values.keys.sorted().map { "{{\($0)}}" }.joined(separator: ", ")))")
                }
                output += value
            } else {
                output += rest[open.lowerBound..<close.upperBound]
            }
            rest = rest[close.upperBound...]
        }
        output += rest
        return output
    }
}
