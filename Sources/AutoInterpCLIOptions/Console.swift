import ArgumentParser
package import AutoInterp
package import AutoInterpLLM
import Foundation

/// The console of both executables: lines on stderr, library errors as one line naming the
/// flag, byte counts. A test captures the lines with ``capturing(_:_:)`` instead of stderr.
package enum Console {
    /// Where the current task's lines go instead of stderr while ``capturing(_:_:)`` runs
    /// (in-process tests; task-local, so captures in concurrent tasks stay apart).
    @TaskLocal private static var sink: (@Sendable (String) -> Void)?

    /// One line on stderr (or to the capture in progress).
    package static func note(_ text: String) {
        if let capture = sink { capture(text) } else { FileHandle.standardError.write(Data((text + "\n").utf8)) }
    }

    /// Runs `body` with every line its task (and its child tasks) writes sent to `capture` instead
    /// of stderr: for tests that run a command in process.
    package static func capturing<T>(_ capture: @escaping @Sendable (String) -> Void, _ body: () async throws -> T) async rethrows -> T {
        try await $sink.withValue(capture) { try await body() }
    }

    /// The one-line message of a library error (`AutoInterpError`, `LLMError`), with the CLI's
    /// flags for the settings it mentions; nil for other errors.
    package static func message(for error: any Error) -> String? {
        switch error {
        case let error as AutoInterpError: render(error.message)
        case let error as LLMError: render(error.message)
        default: nil
        }
    }

    /// Library text (a message, the run summary) with the CLI's flag for each setting it mentions.
    package static func render(_ text: String) -> String { Setting.render(text, as: flag(for:)) }

    /// The command-line flag of a library setting.
    package static func flag(for setting: Setting) -> String {
        switch setting {
        case .unitsInFlight: "--concurrency"
        default: "--" + setting.rawValue.replacingOccurrences(of: " ", with: "-")
        }
    }

    /// Runs a command body; a library error becomes one line `<tool>: error: …` and exit code 1.
    package static func reportingErrors<T>(tool: String, _ body: () async throws -> T) async throws -> T {
        do {
            return try await body()
        } catch let error where message(for: error) != nil {
            note("\(tool): error: \(message(for: error) ?? "\(error)")")
            throw ExitCode.failure
        }
    }

    /// Bytes as `1.23 GB`.
    package static func formatBytes(_ bytes: Int) -> String {
        let units = ["B", "KB", "MB", "GB", "TB"]
        var value = Double(bytes)
        var unit = 0
        while value >= 1000 && unit < units.count - 1 {
            value /= 1000
            unit += 1
        }
        return String(format: unit == 0 ? "%.0f %@" : "%.2f %@", value, units[unit])
    }
}
