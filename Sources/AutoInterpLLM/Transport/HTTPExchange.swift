import Foundation

// MARK: - Request and response of one HTTP exchange

/// One HTTP POST (or GET) handed to the curl loop. Holds the authorization header, so it is never logged.
struct HTTPRequest: Sendable {
    var url: String
    /// True for a GET without a body (a server's `/props`); false posts `body`.
    var isGet = false
    /// Header lines, `"Name: value"`.
    var headers: [String]
    var body: Data
    var connectTimeoutMs: Int
    var totalTimeoutMs: Int
    /// Abort when fewer than one byte per second arrives for this many seconds; nil = off.
    var lowSpeedTimeSeconds: Int?
    /// Most bytes of response body to receive; the transfer is aborted as soon as more arrive.
    var maxResponseBytes: Int = Int.max
}

/// What came back for one HTTP exchange.
struct HTTPResponse: Sendable {
    var status: Int
    /// Header fields of the final response, names lowercased.
    var headers: [(name: String, value: String)]
    var body: Data

    /// The first value of header `name` (case-insensitive).
    func header(_ name: String) -> String? {
        let lowered = name.lowercased()
        return headers.first { $0.name == lowered }?.value
    }
}

/// Why no complete HTTP response arrived.
struct TransportFailure: Error, Sendable {
    enum Kind: Sendable {
        /// Connect or total timeout, or the low-speed limit.
        case timeout
        /// Could not connect (refused, unreachable, DNS).
        case connect
        /// The connection broke or the body ended early.
        case dropped
        /// The body grew past `HTTPRequest.maxResponseBytes` and the transfer was aborted.
        case tooLarge
        /// Anything else curl reports.
        case other
    }

    var kind: Kind
    /// curl's text for the failure; never holds a URL with credentials or a header.
    var message: String
}
