import ArgumentParser
import AutoInterp
import Foundation

/// Output helpers of the developer tools: lines on stderr, library errors as one line and exit code 1.
enum DevConsole {
    /// Runs a command body and turns an ``AutoInterpError`` into one line on stderr and exit code 1.
    static func reportingErrors<T>(_ body: () async throws -> T) async throws -> T {
        do {
            return try await body()
        } catch let error as AutoInterpError {
            note("autointerp-dev: error: \(error.description)")
            throw ExitCode.failure
        }
    }

    /// One line on stderr.
    static func note(_ text: String) {
        FileHandle.standardError.write(Data((text + "\n").utf8))
    }

    /// One unbuffered line on standard output (for commands that usually run in the background).
    static func say(_ line: String) {
        FileHandle.standardOutput.write(Data((line + "\n").utf8))
    }
}
