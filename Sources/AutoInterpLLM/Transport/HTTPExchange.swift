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
    /// A body streamed from a file instead of `body` (a batch input of up to hundreds of MB is
    /// never held in memory); a POST.
    var upload: HTTPUpload?
    /// Write the response body into this file instead of memory (created or truncated). A
    /// response that is not 2xx is read back into `HTTPResponse.body` (at most 64 KiB) and the
    /// file removed.
    var responseFile: String?
}

/// A POST body read piece by piece by libcurl's read callback: `prefix`, the bytes of the file at
/// `path`, then `suffix` (a multipart upload's head and tail around a JSONL file).
struct HTTPUpload: Sendable {
    var prefix: Data
    var path: String
    var suffix: Data
    /// The file's newlines become commas and its last newline is dropped: JSONL lines as the
    /// items of a JSON array between `prefix` and `suffix` (every line non-empty, the last one
    /// ending in a newline).
    var joinLinesWithCommas: Bool
    /// The file's size in bytes when the request was made (the body's length is fixed up front).
    var fileBytes: Int

    /// The body's length.
    var length: Int { prefix.count + fileBytes - (joinLinesWithCommas && fileBytes > 0 ? 1 : 0) + suffix.count }

    /// The upload of the file at `path` (its size read now).
    ///
    /// - Throws: `TransportFailure` when the file cannot be read.
    init(prefix: Data, path: String, suffix: Data, joinLinesWithCommas: Bool = false) throws {
        guard let size = (try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? Int else {
            throw TransportFailure(kind: .other, message: "cannot read \(path)")
        }
        self.prefix = prefix
        self.path = path
        self.suffix = suffix
        self.joinLinesWithCommas = joinLinesWithCommas
        self.fileBytes = size
    }
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
