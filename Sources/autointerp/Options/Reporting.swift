import ArgumentParser
import AutoInterp
import AutoInterpCLIOptions
import AutoInterpLLM
import Foundation
import Logging

/// Logs go to stderr at `warning` unless AUTOINTERP_LOG_LEVEL says otherwise (``Console/bootstrapLogging()``).
let loggingBootstrap: Void = Console.bootstrapLogging()

/// Runs a command body and turns library errors (`AutoInterpError`, `LLMError`) into one line on stderr and exit code 1.
func reportingErrors<T>(_ body: () async throws -> T) async throws -> T {
    _ = loggingBootstrap
    return try await Console.reportingErrors(tool: "autointerp", body)
}

/// Prints a line on stderr.
func note(_ text: String) { Console.note(text) }

/// Bytes as `1.23 GB`.
func formatBytes(_ bytes: Int) -> String { Console.formatBytes(bytes) }
