import AutoInterpCLIOptions
import Foundation

/// Output helpers of the developer tools: lines on stderr, library errors as one line and exit code 1.
enum DevConsole {
    /// Runs a command body and turns a library error into one line on stderr and exit code 1.
    static func reportingErrors<T>(_ body: () async throws -> T) async throws -> T {
        try await Console.reportingErrors(tool: "autointerp-dev", body)
    }

    /// One line on stderr.
    static func note(_ text: String) { Console.note(text) }

    /// One unbuffered line on standard output (for commands that usually run in the background).
    static func say(_ line: String) {
        FileHandle.standardOutput.write(Data((line + "\n").utf8))
    }
}
