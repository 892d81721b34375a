internal import CCurl
import Foundation
import Synchronization

// MARK: - Curl loop

/// One libcurl multi event loop on a dedicated thread that serves every HTTP request of the process.
///
/// Callers `await perform(_:)`; the request is queued, the loop is woken with
/// `curl_multi_wakeup`, and the continuation resumes when the transfer completes. All `CURL*`
/// handles live on the loop thread only. The multi handle keeps a pool of HTTP/1.1 keep-alive
/// connections, so consecutive requests to one host reuse sockets.
final class CurlLoop: @unchecked Sendable {
    // @unchecked: `multi` is only used on the loop thread except for `curl_multi_wakeup`,
    // which libcurl documents as thread-safe; the loop-only state below is never touched elsewhere.

    /// The process-wide loop.
    static let shared = CurlLoop()

    private struct Job {
        var id: UInt64
        var request: HTTPRequest
        var continuation: CheckedContinuation<HTTPResponse, any Error>
    }

    private struct Inbox {
        var starts: [Job] = []
        var cancels: [UInt64] = []
        var nextID: UInt64 = 1
    }

    private let multi: UnsafeMutableRawPointer
    private let inbox = Mutex(Inbox())

    // MARK: Loop-thread-only state
    private var active: [UInt64: Transfer] = [:]
    private var freeHandles: [UnsafeMutableRawPointer] = []
    private var cancelledBeforeStart: Set<UInt64> = []

    private init() {
        let code = ccurl_global_init_all()
        precondition(code == CURLE_OK, "curl_global_init failed: \(code)")
        guard let multi = curl_multi_init() else { fatalError("curl_multi_init failed") }
        self.multi = multi
        _ = ccurl_multi_setopt_long(multi, CURLMOPT_MAXCONNECTS, 512)
        let thread = Thread { [unowned(unsafe) self] in self.run() }
        thread.name = "autointerp.curl"
        thread.stackSize = 1 << 20
        thread.start()
    }

    // MARK: - Submitting

    /// Performs `request` on the loop and returns the complete response.
    ///
    /// - Throws: `TransportFailure` when no complete response arrived; `CancellationError`
    ///   when the calling task is cancelled (the transfer is aborted).
    func perform(_ request: HTTPRequest) async throws -> HTTPResponse {
        let id = inbox.withLock { inbox in
            defer { inbox.nextID += 1 }
            return inbox.nextID
        }
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { continuation in
                inbox.withLock { $0.starts.append(Job(id: id, request: request, continuation: continuation)) }
                curl_multi_wakeup(multi)
            }
        } onCancel: {
            inbox.withLock { $0.cancels.append(id) }
            curl_multi_wakeup(multi)
        }
    }

    // MARK: - Loop

    private func run() {
        var running: Int32 = 0
        while true {
            let (starts, cancels) = inbox.withLock { inbox in
                defer { inbox.starts.removeAll(keepingCapacity: true); inbox.cancels.removeAll(keepingCapacity: true) }
                return (inbox.starts, inbox.cancels)
            }
            for job in starts {
                if cancelledBeforeStart.remove(job.id) != nil {
                    job.continuation.resume(throwing: CancellationError())
                } else {
                    start(job)
                }
            }
            for id in cancels {
                if let transfer = active[id] {
                    finish(transfer, with: .failure(CancellationError()))
                } else {
                    // Not started yet (or, rarely, already finished: then the id just lingers here).
                    cancelledBeforeStart.insert(id)
                }
            }

            _ = curl_multi_perform(multi, &running)
            var queued: Int32 = 0
            while let message = curl_multi_info_read(multi, &queued) {
                guard ccurl_msg_is_done(message) != 0, let easy = message.pointee.easy_handle else { continue }
                let result = ccurl_msg_result(message)
                var raw: UnsafeMutableRawPointer?
                _ = ccurl_easy_getinfo_pointer(easy, CURLINFO_PRIVATE, &raw)
                guard let raw else { continue }
                let transfer = Unmanaged<Transfer>.fromOpaque(raw).takeUnretainedValue()
                if transfer.exceeded || result == CURLE_FILESIZE_EXCEEDED {
                    finish(transfer, with: .failure(TransportFailure(
                        kind: .tooLarge, message: "the body exceeded \(transfer.limit) bytes")))
                } else if result == CURLE_OK {
                    var status = 0
                    _ = ccurl_easy_getinfo_long(easy, CURLINFO_RESPONSE_CODE, &status)
                    if transfer.sink != nil { transfer.closeSink(keep: (200..<300).contains(status)) }
                    let response = HTTPResponse(status: status, headers: transfer.headers, body: transfer.body)
                    finish(transfer, with: .success(response))
                } else {
                    finish(transfer, with: .failure(Self.failure(for: result)))
                }
            }
            _ = curl_multi_poll(multi, nil, 0, 1000, nil)
        }
    }

    private func start(_ job: Job) {
        guard let easy = freeHandles.popLast() ?? curl_easy_init() else {
            job.continuation.resume(throwing: TransportFailure(kind: .other, message: "curl_easy_init failed"))
            return
        }
        let transfer = Transfer(id: job.id, easy: easy, limit: job.request.maxResponseBytes, continuation: job.continuation)
        let request = job.request
        if let path = request.responseFile {
            guard let file = fopen(path, "wb") else {
                freeHandles.append(easy)
                job.continuation.resume(throwing: TransportFailure(kind: .other, message: "cannot open \(path) for writing"))
                return
            }
            transfer.sink = file
            transfer.sinkPath = path
        }
        let opaque = Unmanaged.passUnretained(transfer).toOpaque()

        _ = ccurl_easy_setopt_string(easy, CURLOPT_URL, request.url)
        _ = ccurl_easy_setopt_long(easy, CURLOPT_NOSIGNAL, 1)
        if let upload = request.upload {
            // A body streamed from its file by the read callback: never held in memory.
            guard let file = fopen(upload.path, "rb") else {
                transfer.closeSink(keep: false)
                curl_easy_reset(easy)
                freeHandles.append(easy)
                job.continuation.resume(throwing: TransportFailure(kind: .other, message: "cannot open \(upload.path) for reading"))
                return
            }
            transfer.source = UploadSource(upload, file: file)
            _ = ccurl_easy_setopt_long(easy, CURLOPT_POST, 1)
            _ = ccurl_easy_setopt_off_t(easy, CURLOPT_POSTFIELDSIZE_LARGE, Int64(upload.length))
            _ = ccurl_easy_setopt_read_callback(easy, curlReadCallback)
            _ = ccurl_easy_setopt_pointer(easy, CURLOPT_READDATA, opaque)
        } else if request.isGet {
            _ = ccurl_easy_setopt_long(easy, CURLOPT_HTTPGET, 1)
        } else {
            _ = ccurl_easy_setopt_long(easy, CURLOPT_POST, 1)
            _ = ccurl_easy_setopt_long(easy, CURLOPT_POSTFIELDSIZE, request.body.count)
            request.body.withUnsafeBytes { bytes in
                _ = ccurl_easy_setopt_copypostfields(easy, bytes.baseAddress ?? UnsafeRawPointer(bitPattern: 1))
            }
        }
        var list: UnsafeMutablePointer<curl_slist>?
        // "Expect:" stops curl from waiting for 100-continue on bodies over 1 KiB.
        for line in request.headers + ["Expect:"] { list = curl_slist_append(list, line) }
        transfer.headerList = list
        _ = ccurl_easy_setopt_slist(easy, CURLOPT_HTTPHEADER, list)
        _ = ccurl_easy_setopt_long(easy, CURLOPT_HTTP_VERSION, Int(CURL_HTTP_VERSION_1_1))
        _ = ccurl_easy_setopt_long(easy, CURLOPT_TCP_NODELAY, 1)
        _ = ccurl_easy_setopt_long(easy, CURLOPT_CONNECTTIMEOUT_MS, max(1, request.connectTimeoutMs))
        _ = ccurl_easy_setopt_long(easy, CURLOPT_TIMEOUT_MS, max(1, request.totalTimeoutMs))
        if let seconds = request.lowSpeedTimeSeconds, seconds > 0 {
            _ = ccurl_easy_setopt_long(easy, CURLOPT_LOW_SPEED_LIMIT, 1)
            _ = ccurl_easy_setopt_long(easy, CURLOPT_LOW_SPEED_TIME, seconds)
        }
        if request.maxResponseBytes < Int.max {
            // Refuses up front a body whose Content-Length is too long; the write callback catches the rest.
            _ = ccurl_easy_setopt_long(easy, CURLOPT_MAXFILESIZE, request.maxResponseBytes)
        }
        _ = ccurl_easy_setopt_write_callback(easy, curlWriteCallback)
        _ = ccurl_easy_setopt_pointer(easy, CURLOPT_WRITEDATA, opaque)
        _ = ccurl_easy_setopt_header_callback(easy, curlHeaderCallback)
        _ = ccurl_easy_setopt_pointer(easy, CURLOPT_HEADERDATA, opaque)
        _ = ccurl_easy_setopt_pointer(easy, CURLOPT_PRIVATE, opaque)

        active[job.id] = transfer
        let added = curl_multi_add_handle(multi, easy)
        if added != CURLM_OK {
            finish(transfer, with: .failure(TransportFailure(kind: .other, message: "curl_multi_add_handle failed (\(added.rawValue))")))
        }
    }

    private func finish(_ transfer: Transfer, with result: Result<HTTPResponse, any Error>) {
        active[transfer.id] = nil
        let easy = transfer.easy
        if transfer.sink != nil { transfer.closeSink(keep: false) }
        transfer.source?.close()
        transfer.source = nil
        if case .failure = result {
            // An abandoned transfer (timeout, cancellation, cap, broken body) must not leave its
            // connection in the pool: closing it is how a server learns to stop generating.
            _ = ccurl_easy_setopt_long(easy, CURLOPT_FORBID_REUSE, 1)
        }
        _ = curl_multi_remove_handle(multi, easy)
        curl_slist_free_all(transfer.headerList)
        transfer.headerList = nil
        curl_easy_reset(easy)
        if freeHandles.count < 256 { freeHandles.append(easy) } else { curl_easy_cleanup(easy) }
        transfer.continuation.resume(with: result)
    }

    private static func failure(for code: CURLcode) -> TransportFailure {
        let text = curl_easy_strerror(code).map { String(cString: $0) } ?? "curl error"
        let kind: TransportFailure.Kind
        switch code {
        case CURLE_OPERATION_TIMEDOUT: kind = .timeout
        case CURLE_COULDNT_CONNECT, CURLE_COULDNT_RESOLVE_HOST, CURLE_COULDNT_RESOLVE_PROXY: kind = .connect
        case CURLE_PARTIAL_FILE, CURLE_RECV_ERROR, CURLE_SEND_ERROR, CURLE_GOT_NOTHING, CURLE_WEIRD_SERVER_REPLY:
            kind = .dropped
        default: kind = .other
        }
        return TransportFailure(kind: kind, message: "\(text) (curl \(code.rawValue))")
    }
}

// MARK: - Transfer

/// The state of one in-flight transfer; owned by the loop thread.
private final class Transfer {
    let id: UInt64
    let easy: UnsafeMutableRawPointer
    let continuation: CheckedContinuation<HTTPResponse, any Error>
    var headerList: UnsafeMutablePointer<curl_slist>?
    var body = Data()
    var headers: [(name: String, value: String)] = []
    /// Most body bytes to keep; more aborts the transfer.
    let limit: Int
    /// Set when the body grew past `limit`.
    var exceeded = false
    /// Body bytes received (into `body` or `sink`).
    var received = 0
    /// The file the body goes to (``HTTPRequest/responseFile``), open while the transfer runs.
    var sink: UnsafeMutablePointer<FILE>?
    var sinkPath: String?
    /// The streamed request body (``HTTPRequest/upload``).
    var source: UploadSource?

    /// Closes the response file; unless `keep`, reads its start into `body` (an error answer)
    /// and removes it.
    func closeSink(keep: Bool) {
        guard let sink else { return }
        fclose(sink)
        self.sink = nil
        guard !keep, let path = sinkPath else { return }
        if let handle = FileHandle(forReadingAtPath: path) {
            body = (try? handle.read(upToCount: 64 << 10)) ?? Data()
            try? handle.close()
        }
        unlink(path)
    }

    init(id: UInt64, easy: UnsafeMutableRawPointer, limit: Int, continuation: CheckedContinuation<HTTPResponse, any Error>) {
        self.id = id
        self.easy = easy
        self.limit = limit
        self.continuation = continuation
    }
}

// MARK: - Callbacks

private let curlWriteCallback: @convention(c) (UnsafeMutablePointer<CChar>?, Int, Int, UnsafeMutableRawPointer?) -> Int = {
    data, size, count, user in
    let length = size * count
    guard let data, let user, length > 0 else { return length }
    let transfer = Unmanaged<Transfer>.fromOpaque(user).takeUnretainedValue()
    if length > transfer.limit - transfer.received {
        // Returning less than `length` makes curl abort the transfer with CURLE_WRITE_ERROR.
        transfer.exceeded = true
        return 0
    }
    transfer.received += length
    if let sink = transfer.sink {
        return fwrite(data, 1, length, sink)  // a short write (disk full) aborts the transfer
    }
    transfer.body.append(UnsafeRawPointer(data).assumingMemoryBound(to: UInt8.self), count: length)
    return length
}

private let curlReadCallback: @convention(c) (UnsafeMutablePointer<CChar>?, Int, Int, UnsafeMutableRawPointer?) -> Int = {
    buffer, size, count, user in
    guard let buffer, let user else { return ccurl_readfunc_abort() }
    let transfer = Unmanaged<Transfer>.fromOpaque(user).takeUnretainedValue()
    guard let source = transfer.source else { return ccurl_readfunc_abort() }
    return source.read(into: buffer, capacity: size * count) ?? ccurl_readfunc_abort()
}

// MARK: - Upload source

/// The pieces of an ``HTTPUpload`` handed to libcurl in order; owned by the loop thread.
private final class UploadSource {
    private let prefix: [UInt8]
    private let suffix: [UInt8]
    private var file: UnsafeMutablePointer<FILE>?
    private let join: Bool
    /// File bytes still to send (its last newline is never sent when lines are joined).
    private var fileLeft: Int
    private var prefixSent = 0
    private var suffixSent = 0

    init(_ upload: HTTPUpload, file: UnsafeMutablePointer<FILE>) {
        prefix = Array(upload.prefix)
        suffix = Array(upload.suffix)
        self.file = file
        join = upload.joinLinesWithCommas
        fileLeft = upload.fileBytes - (upload.joinLinesWithCommas && upload.fileBytes > 0 ? 1 : 0)
    }

    /// Fills up to `capacity` bytes of `buffer`; 0 at the end; nil when the file ended early.
    func read(into buffer: UnsafeMutablePointer<CChar>, capacity: Int) -> Int? {
        guard capacity > 0 else { return 0 }
        if prefixSent < prefix.count {
            let n = Self.copy(prefix, from: prefixSent, into: buffer, capacity: capacity)
            prefixSent += n
            return n
        }
        if fileLeft > 0 {
            guard let file else { return nil }
            let n = fread(buffer, 1, min(capacity, fileLeft), file)
            guard n > 0 else { return nil }  // the file shrank since its size was read
            if join {
                for i in 0..<n where buffer[i] == 0x0A { buffer[i] = 0x2C }
            }
            fileLeft -= n
            return n
        }
        if suffixSent < suffix.count {
            let n = Self.copy(suffix, from: suffixSent, into: buffer, capacity: capacity)
            suffixSent += n
            return n
        }
        return 0
    }

    /// Copies bytes of `bytes` from `offset` into `buffer` (at most `capacity`): how many.
    private static func copy(_ bytes: [UInt8], from offset: Int, into buffer: UnsafeMutablePointer<CChar>, capacity: Int) -> Int {
        let n = min(capacity, bytes.count - offset)
        bytes.withUnsafeBytes { raw in
            UnsafeMutableRawBufferPointer(start: buffer, count: n).copyMemory(from: UnsafeRawBufferPointer(rebasing: raw[offset..<(offset + n)]))
        }
        return n
    }

    func close() {
        if let file { fclose(file) }
        file = nil
    }

    deinit { close() }
}

private let curlHeaderCallback: @convention(c) (UnsafeMutablePointer<CChar>?, Int, Int, UnsafeMutableRawPointer?) -> Int = {
    data, size, count, user in
    let length = size * count
    guard let data, let user, length > 0 else { return length }
    let transfer = Unmanaged<Transfer>.fromOpaque(user).takeUnretainedValue()
    let bytes = UnsafeRawBufferPointer(start: data, count: length)
    let line = String(decoding: bytes, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    if line.hasPrefix("HTTP/") {
        // A new status line (after 100 Continue or a redirect): keep only the final header block.
        transfer.headers.removeAll()
    } else if let colon = line.firstIndex(of: ":") {
        let name = line[..<colon].lowercased()
        let value = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        transfer.headers.append((name: name, value: value))
    }
    return length
}
