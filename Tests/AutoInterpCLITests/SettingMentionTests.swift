import AutoInterp
import AutoInterpCLIOptions
@testable import AutoInterpLLM
import Foundation
import Testing

/// Issue 24, item 4: the library names the setting, the CLI turns it into its flag.
struct SettingMentionTests {
    @Test func theCLIShowsFlagsAndTheLibraryShowsNames() {
        let error = AutoInterpError.invalidInput("features were requested but no SAE was given (pass \(Setting.sae) DIR or \(Setting.features) none)")
        #expect(Console.message(for: error) == "features were requested but no SAE was given (pass --sae DIR or --features none)")
        #expect(error.description == "features were requested but no SAE was given (pass `sae` DIR or `features` none)")
        #expect(Setting.mentions(in: error.message) == [.sae, .features])

        let option = AutoInterpError.invalidOption(.unitsInFlight, "must be between 1 and 4096, got 0")
        #expect(Console.message(for: option) == "--concurrency: must be between 1 and 4096, got 0")
        #expect(option.option == .unitsInFlight && option.description == "`units in flight`: must be between 1 and 4096, got 0")

        let llm = LLMError.invalidConfiguration(endpoint: "http://h/v1", "\(Setting.maxInFlight) must be between 1 and 4096, got 0")
        #expect(Console.message(for: llm)?.contains("--max-in-flight must be between") == true)
        #expect(!llm.description.contains("--"))
    }

    @Test func strayDelimitersAreDroppedNotTrusted() {
        // A quoted value (an LLM answer, a file name) holding the private-use delimiters cannot
        // make a half mention swallow the rest of the line.
        #expect(Setting.render("a \u{E000}b", as: { "<\($0.rawValue)>" }) == "a b")
        #expect(Setting.render("a \u{E001} b \u{E000}c\u{E001}", as: { "<\($0.rawValue)>" }) == "a  b <c>")
        #expect(Setting.render("plain text", as: { _ in "x" }) == "plain text")
    }

    /// No string literal of the library targets spells a flag: messages mention settings.
    @Test func libraryTextSpellsNoFlag() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        var offenders: [String] = []
        for target in ["AutoInterp", "AutoInterpLLM"] {
            let folder = root.appendingPathComponent("Sources/\(target)")
            let files = FileManager.default.enumerator(at: folder, includingPropertiesForKeys: nil)?.compactMap { $0 as? URL } ?? []
            for file in files where file.pathExtension == "swift" && file.lastPathComponent != "HTMLReport+Assets.swift" {
                let lines = try String(contentsOf: file, encoding: .utf8).split(separator: "\n", omittingEmptySubsequences: false)
                for (number, line) in lines.enumerated() where !line.trimmingCharacters(in: .whitespaces).hasPrefix("//") {
                    if Self.literalSpellsFlag(String(line)) { offenders.append("\(file.lastPathComponent):\(number + 1)") }
                }
            }
        }
        #expect(offenders.isEmpty, "flags in library text (mention a Setting instead): \(offenders)")
        #expect(Self.literalSpellsFlag(#"throw AutoInterpError.invalidInput("pass --sae DIR")"#))
        #expect(!Self.literalSpellsFlag(#"let a = "(a Slurm array is --array=0-3)", b = x--y"#))
    }

    /// Whether a string literal on `line` holds `--name` (a flag), not `--array=` (Slurm's).
    static func literalSpellsFlag(_ line: String) -> Bool {
        var inside = false
        var previous: Character = " "
        let characters = Array(line)
        var i = 0
        while i < characters.count {
            let c = characters[i]
            if c == "\\" && inside { i += 2; previous = " "; continue }
            if c == "\"" { inside.toggle() }
            if inside, c == "-", i + 2 < characters.count, characters[i + 1] == "-", characters[i + 2].isLetter,
               " (`/,'[\"".contains(previous) {
                var j = i + 2
                while j < characters.count, characters[j].isLetter || characters[j] == "-" { j += 1 }
                if j >= characters.count || characters[j] != "=" { return true }
            }
            previous = c
            i += 1
        }
        return false
    }
}
