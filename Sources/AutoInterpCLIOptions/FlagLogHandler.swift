package import Logging
import AutoInterpLLM
import Foundation

/// A log handler that shows the settings library messages mention (``Setting``) as the CLI's
/// flags, then hands the line to the wrapped handler (stderr).
package struct FlagLogHandler: LogHandler {
    private var wrapped: any LogHandler

    package init(wrapping handler: any LogHandler) { self.wrapped = handler }

    package var logLevel: Logger.Level {
        get { wrapped.logLevel }
        set { wrapped.logLevel = newValue }
    }

    package var metadata: Logger.Metadata {
        get { wrapped.metadata }
        set { wrapped.metadata = newValue }
    }

    package subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { wrapped[metadataKey: key] }
        set { wrapped[metadataKey: key] = newValue }
    }

    package func log(event: LogEvent) {
        var event = event
        event.message = "\(Console.render(event.message.description))"
        if let metadata = event.metadata {
            event.metadata = metadata.mapValues { value in
                if case .string(let text) = value { return .string(Console.render(text)) }
                return value
            }
        }
        wrapped.log(event: event)
    }
}

extension Console {
    /// Logs to stderr at `AUTOINTERP_LOG_LEVEL` (trace … critical; default `warning`), with the
    /// flags of the settings library messages mention. Call once, first thing in `main`.
    package static func bootstrapLogging() {
        let level = ProcessInfo.processInfo.environment["AUTOINTERP_LOG_LEVEL"].flatMap(Logger.Level.init(rawValue:)) ?? .warning
        LoggingSystem.bootstrap { label in
            var handler = FlagLogHandler(wrapping: StreamLogHandler.standardError(label: label))
            handler.logLevel = level
            return handler
        }
    }
}
