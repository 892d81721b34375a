package import Logging

extension Logger {
    /// What a library type logs to when its caller gave no logger: nothing. The library accepts a
    /// logger and never decides on its own where log lines go (swift-log's "accept a logger" practice);
    /// the executables pass theirs.
    package static let silent = Logger(label: "autointerp.silent") { _ in SwiftLogNoOpLogHandler() }
}
