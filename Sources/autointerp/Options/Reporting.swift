import ArgumentParser
import AutoInterp
import AutoInterpLLM
import Foundation
import Logging

/// Logs go to stderr at `warning` unless AUTOINTERP_LOG_LEVEL says otherwise (trace … critical).
let loggingBootstrap: Void = {
    let level = ProcessInfo.processInfo.environment["AUTOINTERP_LOG_LEVEL"].flatMap(Logger.Level.init(rawValue:)) ?? .warning
    LoggingSystem.bootstrap { label in
        var handler = StreamLogHandler.standardError(label: label)
        handler.logLevel = level
        return handler
    }
}()

/// Runs a command body and turns library errors (`AutoInterpError`, `LLMError`) into one line on stderr and exit code 1.
func reportingErrors<T>(_ body: () async throws -> T) async throws -> T {
    _ = loggingBootstrap
    do {
        return try await body()
    } catch let error as AutoInterpError {
        FileHandle.standardError.write(Data("autointerp: error: \(error.description)\n".utf8))
        throw ExitCode.failure
    } catch let error as LLMError {
        FileHandle.standardError.write(Data("autointerp: error: \(error.description)\n".utf8))
        throw ExitCode.failure
    }
}

/// Prints a line on stderr.
func note(_ text: String) {
    FileHandle.standardError.write(Data((text + "\n").utf8))
}

/// Bytes as `1.23 GB`.
func formatBytes(_ bytes: Int) -> String {
    let units = ["B", "KB", "MB", "GB", "TB"]
    var value = Double(bytes)
    var unit = 0
    while value >= 1000 && unit < units.count - 1 {
        value /= 1000
        unit += 1
    }
    return String(format: unit == 0 ? "%.0f %@" : "%.2f %@", value, units[unit])
}
