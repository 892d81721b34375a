import AutoInterp
import AutoInterpLLM
package import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
package import Darwin
#endif

// MARK: - Test endpoint

/// A real HTTP/1.1 chat-completions server on 127.0.0.1 for tests and benchmarks.
///
/// One thread accepts, one thread serves each connection (keep-alive, Content-Length bodies).
/// Answers come from a handler closure after a fixed latency, unless the fault plan injects a
/// failure for that request number. It counts requests, connections and the peak number of
/// requests being handled at once. Start it in a test, point a client at `baseURL`, `stop()` it.
package final class TestEndpoint: Sendable {
    /// How the endpoint behaves.
    package struct Configuration: Sendable {
        /// Port to listen on; 0 picks a free ephemeral port.
        package var port: UInt16
        /// Time spent on each request before answering (faults included, hangs excepted).
        package var latency: Duration
        package var faults: TestFaultPlan
        package var handler: @Sendable (ChatRequestSeen) -> TestReply
        /// Keep every request seen (set false for long benchmarks).
        package var keepRequests: Bool
        /// Which `response_format` types are accepted (the rest get HTTP 400).
        package var structuredOutputs: TestStructuredOutputs
        /// Answered at `GET /props` as llama.cpp's `total_slots` (no latency, no faults); nil = 404 there.
        package var totalSlots: Int?
        /// Answers other routes first (the batch test server's files and batches): a status and a
        /// JSON body, or nil to go on as a chat endpoint. Such requests are neither counted nor faulted.
        package var router: (@Sendable (ChatRequestSeen) -> (status: Int, body: Data)?)?

        package init(
            port: UInt16 = 0, latency: Duration = .zero, faults: TestFaultPlan = .none,
            keepRequests: Bool = true, structuredOutputs: TestStructuredOutputs = .jsonSchema, totalSlots: Int? = nil,
            handler: @escaping @Sendable (ChatRequestSeen) -> TestReply = TestReply.echo
        ) {
            self.totalSlots = totalSlots
            self.port = port
            self.latency = latency
            self.faults = faults
            self.handler = handler
            self.keepRequests = keepRequests
            self.structuredOutputs = structuredOutputs
        }
    }

    private struct State {
        var stopped = false
        var requests = 0
        var connections = 0
        var handling = 0
        var peak = 0
        var seen: [ChatRequestSeen] = []
        var openSockets: Set<Int32> = []
        var threads = 0
        var closedByClient = 0
    }

    /// The port the endpoint listens on.
    package let port: Int
    private let configuration: Configuration
    private let listener: Int32
    private let state = Mutex(State())

    /// Starts listening on 127.0.0.1 and serving in background threads.
    ///
    /// - Throws: `AutoInterpError.io` when the socket cannot be bound.
    package init(_ configuration: Configuration = Configuration()) throws {
        self.configuration = configuration
        signal(SIGPIPE, SIG_IGN)
        #if canImport(Glibc)
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        #else
        let fd = socket(AF_INET, SOCK_STREAM, 0)
        #endif
        guard fd >= 0 else { throw AutoInterpError.io("127.0.0.1", "socket() failed: errno \(errno)") }
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = configuration.port.bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0, listen(fd, 1024) == 0 else {
            let code = errno
            close(fd)
            throw AutoInterpError.io("127.0.0.1:\(configuration.port)", "cannot listen (errno \(code)); pick another port")
        }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        listener = fd
        port = Int(UInt16(bigEndian: address.sin_port))
        spawn { [self] in acceptLoop() }
    }

    /// Starts an endpoint with the given latency, faults and handler.
    package convenience init(
        latency: Duration, faults: TestFaultPlan = .none,
        handler: @escaping @Sendable (ChatRequestSeen) -> TestReply = TestReply.echo
    ) throws {
        try self.init(Configuration(latency: latency, faults: faults, handler: handler))
    }

    deinit { stop() }

    // MARK: - Observing

    /// `http://127.0.0.1:<port>/v1`: the base URL to configure a client with.
    package var baseURL: String { "http://127.0.0.1:\(port)/v1" }
    /// Complete requests received so far.
    package var requestCount: Int { state.withLock { $0.requests } }
    /// TCP connections accepted so far.
    package var connectionCount: Int { state.withLock { $0.connections } }
    /// The most requests being handled at one time.
    package var peakConcurrency: Int { state.withLock { $0.peak } }
    /// Connections the client closed while a request on them was still being answered (a hang
    /// or a long body): how a server learns that nobody waits for its answer any more.
    package var clientClosedCount: Int { state.withLock { $0.closedByClient } }
    /// Every request seen, in arrival order (empty when `keepRequests` is false).
    package var seenRequests: [ChatRequestSeen] { state.withLock { $0.seen } }

    // MARK: - Stopping

    /// Closes the listener and every connection, and waits (up to 2 s) for the threads to end.
    package func stop() {
        let first = state.withLock { s -> Bool in
            if s.stopped { return false }
            s.stopped = true
            for fd in s.openSockets { shutdown(fd, Int32(SHUT_RDWR)) }
            return true
        }
        guard first else { return }
        shutdown(listener, Int32(SHUT_RDWR))
        let deadline = ContinuousClock.now + .seconds(2)
        while state.withLock({ $0.threads }) > 0, ContinuousClock.now < deadline { usleep(2000) }
        close(listener)
    }

    private var isStopped: Bool { state.withLock { $0.stopped } }

    // MARK: - Threads

    private func spawn(_ body: @escaping @Sendable () -> Void) {
        state.withLock { $0.threads += 1 }
        let thread = Thread { [self] in
            body()
            state.withLock { $0.threads -= 1 }
        }
        thread.stackSize = 256 * 1024
        thread.start()
    }

    private func acceptLoop() {
        while true {
            let client = accept(listener, nil, nil)
            if client < 0 {
                if errno == EINTR, !isStopped { continue }
                return
            }
            let accepted = state.withLock { s -> Bool in
                if s.stopped { return false }
                s.connections += 1
                s.openSockets.insert(client)
                return true
            }
            guard accepted else {
                close(client)
                return
            }
            var one: Int32 = 1
            setsockopt(client, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
            spawn { [self] in
                serve(client)
                state.withLock { s in
                    s.openSockets.remove(client)
                    close(client)
                }
            }
        }
    }

    // MARK: - Serving one connection

    private func serve(_ fd: Int32) {
        var reader = SocketReader(fd: fd)
        while !isStopped {
            guard let head = reader.readHead() else { return }
            let lines = head.split(separator: "\r\n", omittingEmptySubsequences: false)
            let requestLine = lines.first?.split(separator: " ") ?? []
            var headers: [String: String] = [:]
            for line in lines.dropFirst() {
                guard let colon = line.firstIndex(of: ":") else { continue }
                headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            }
            let length = Int(headers["content-length"] ?? "0") ?? 0
            guard let body = reader.read(count: length) else { return }
            if requestLine.first == "GET", requestLine.count > 1, requestLine[1] == "/props" {
                // Not a chat request: neither counted nor faulted.
                guard let slots = configuration.totalSlots else {
                    if !send(fd, status: 404, body: Self.errorBody("no route GET /props")) { return }
                    continue
                }
                if !send(fd, status: 200, body: Data(#"{"total_slots":\#(slots),"model_path":"test.gguf"}"#.utf8)) { return }
                continue
            }
            if let router = configuration.router, requestLine.count > 1,
                let routed = router(ChatRequestSeen(
                    number: 0, method: String(requestLine[0]), path: String(requestLine[1]), headers: headers, body: body, request: nil)) {
                if !send(fd, status: routed.status, body: routed.body) { return }
                continue
            }

            let number = state.withLock { s -> Int in
                s.requests += 1
                s.handling += 1
                s.peak = max(s.peak, s.handling)
                return s.requests
            }
            var seen = ChatRequestSeen(
                number: number, method: requestLine.first.map(String.init) ?? "", path: requestLine.count > 1 ? String(requestLine[1]) : "",
                headers: headers, body: body, request: try? JSONDecoder().decode(ChatCompletionRequest.self, from: body))
            if configuration.keepRequests { state.withLock { $0.seen.append(seen) } }
            let keepOpen = respond(fd, to: &seen)
            state.withLock { $0.handling -= 1 }
            if !keepOpen || headers["connection"]?.lowercased() == "close" { return }
        }
    }

    /// Answers one request; false when the connection must close afterwards.
    private func respond(_ fd: Int32, to seen: inout ChatRequestSeen) -> Bool {
        let fault = configuration.faults.fault(forRequest: seen.number)
        if fault == .hang {
            if waitForCloseOrStop(fd) { state.withLock { $0.closedByClient += 1 } }
            return false
        }
        if configuration.latency > .zero {
            let c = configuration.latency.components
            usleep(UInt32(c.seconds * 1_000_000 + c.attoseconds / 1_000_000_000_000))
        }
        guard seen.method == "POST", seen.path.hasSuffix("/chat/completions") else {
            return send(fd, status: 404, body: Self.errorBody("no route \(seen.method) \(seen.path)"))
        }
        if let format = seen.request?.responseFormat?.type {
            let accepted: Bool
            switch (format, configuration.structuredOutputs) {
            case ("json_schema", .jsonObjectOnly), ("json_schema", .none), ("json_object", .none): accepted = false
            default: accepted = true
            }
            if !accepted {
                return send(fd, status: 400, body: Self.errorBody("response_format type \(format) is not supported"))
            }
        }
        switch fault {
        case .hugeBody(let bytes, let declareLength)?:
            if !sendHugeBody(fd, bytes: bytes, declareLength: declareLength) { state.withLock { $0.closedByClient += 1 } }
            return false
        case .tooManyRequests(let retryAfter)?:
            return send(fd, status: 429, extraHeaders: retryAfter.map { ["Retry-After: \($0)"] } ?? [], body: Self.errorBody("rate limited"))
        case .status(let code)?:
            let message = code == 401 || code == 400
                ? "Incorrect API key provided: \(seen.headers["authorization"] ?? "none")" : "test fault \(code)"
            return send(fd, status: code, body: Self.errorBody(message))
        case .malformedBody?:
            return send(fd, status: 200, body: Data(#"{"id":"x","choices":[{"index":0,"message":{"role":"assistant","content":"trunc"#.utf8))
        case .cutMidBody?:
            let body = answer(seen)
            let head = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: \(body.count)\r\nConnection: keep-alive\r\n\r\n"
            _ = sendAll(fd, Data(head.utf8) + body.prefix(body.count / 2))
            return false
        case .hang?, nil:
            return send(fd, status: 200, body: answer(seen))
        }
    }

    private func answer(_ seen: ChatRequestSeen) -> Data {
        Self.completionBody(for: seen, handler: configuration.handler)
    }

    /// The chat-completion body `handler` answers `seen` with (as the endpoint sends it): also
    /// what a test's batch runner writes into a batch output line.
    package static func completionBody(for seen: ChatRequestSeen, handler: (ChatRequestSeen) -> TestReply) -> Data {
        let reply = handler(seen)
        let contents = reply.choices ?? Array(repeating: reply.content, count: max(1, seen.request?.n ?? 1))
        let choices = contents.enumerated().map { index, content in
            ChatCompletionResponse.Choice(
                index: index, message: .init(role: "assistant", content: content),
                logprobs: reply.logprobs.map { .init(content: $0) },
                finishReason: index < reply.choiceFinishReasons.count ? reply.choiceFinishReasons[index] : reply.finishReason)
        }
        let response = ChatCompletionResponse(
            id: "chatcmpl-test-\(seen.number)", model: seen.request?.model ?? "test", choices: choices,
            usage: .init(
                promptTokens: reply.promptTokens,
                completionTokens: reply.completionTokens * (reply.usageOfFirstChoiceOnly ? 1 : contents.count),
                promptTokensDetails: reply.cachedTokens.map { .init(cachedTokens: $0) }),
            timings: reply.timingsCacheN.map { .init(cacheN: $0, promptN: max(0, reply.promptTokens - $0)) })
        return (try? JSONEncoder().encode(response)) ?? Data("{}".utf8)
    }

    private static func errorBody(_ message: String) -> Data {
        (try? JSONSerialization.data(withJSONObject: ["error": ["message": message, "type": "test_fault"]])) ?? Data()
    }

    private func send(_ fd: Int32, status: Int, extraHeaders: [String] = [], body: Data) -> Bool {
        var head = "HTTP/1.1 \(status) \(Self.reason(status))\r\nContent-Type: application/json\r\nContent-Length: \(body.count)\r\nConnection: keep-alive\r\n"
        for line in extraHeaders { head += line + "\r\n" }
        head += "\r\n"
        return sendAll(fd, Data(head.utf8) + body)
    }

    private func sendAll(_ fd: Int32, _ data: Data) -> Bool {
        data.withUnsafeBytes { raw in
            var offset = 0
            while offset < raw.count {
                let n = systemSend(fd, raw.baseAddress! + offset, raw.count - offset)
                if n < 0, errno == EINTR { continue }
                if n <= 0 { return false }
                offset += n
            }
            return true
        }
    }

    /// Blocks until the peer closes the connection (true) or the endpoint stops (false).
    private func waitForCloseOrStop(_ fd: Int32) -> Bool {
        var byte: UInt8 = 0
        while !isStopped {
            var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            let ready = poll(&pfd, 1, 20)
            if ready > 0 {
                let n = recv(fd, &byte, 1, Int32(MSG_PEEK | MSG_DONTWAIT))
                if n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR) { return true }
                usleep(20_000)
            }
        }
        return false
    }

    /// Streams a 200 answer of `bytes` bytes in 64 KiB pieces; false when the client closed first.
    private func sendHugeBody(_ fd: Int32, bytes: Int, declareLength: Bool) -> Bool {
        let prefix = Data(#"{"id":"chatcmpl-huge","choices":[{"index":0,"finish_reason":"stop","message":{"role":"assistant","content":""#.utf8)
        let suffix = Data(#""}}]}"#.utf8)
        let total = max(bytes, prefix.count + suffix.count)
        var head = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n"
        head += declareLength ? "Content-Length: \(total)\r\n\r\n" : "Transfer-Encoding: chunked\r\n\r\n"
        guard sendAll(fd, Data(head.utf8)) else { return false }
        func piece(_ data: Data) -> Bool {
            declareLength ? sendAll(fd, data) : sendAll(fd, Data((String(data.count, radix: 16) + "\r\n").utf8) + data + Data("\r\n".utf8))
        }
        guard piece(prefix) else { return false }
        let filler = Data(repeating: UInt8(ascii: "x"), count: 65_536)
        var left = total - prefix.count - suffix.count
        while left > 0 {
            if isStopped { return true }
            let count = min(left, filler.count)
            guard piece(count == filler.count ? filler : filler.prefix(count)) else { return false }
            left -= count
        }
        guard piece(suffix) else { return false }
        if !declareLength { _ = sendAll(fd, Data("0\r\n\r\n".utf8)) }
        return true
    }

    private static func reason(_ status: Int) -> String {
        switch status {
        case 200: "OK"
        case 400: "Bad Request"
        case 401: "Unauthorized"
        case 403: "Forbidden"
        case 404: "Not Found"
        case 429: "Too Many Requests"
        case 500: "Internal Server Error"
        case 502: "Bad Gateway"
        case 503: "Service Unavailable"
        case 504: "Gateway Timeout"
        default: "Status"
        }
    }
}

// MARK: - Socket helpers

/// `send(2)` without SIGPIPE.
private func systemSend(_ fd: Int32, _ bytes: UnsafeRawPointer, _ count: Int) -> Int {
    #if canImport(Glibc)
    return send(fd, bytes, count, Int32(MSG_NOSIGNAL))
    #else
    return send(fd, bytes, count, 0)
    #endif
}

/// Buffered reads of HTTP heads and fixed-length bodies from a blocking socket.
private struct SocketReader {
    let fd: Int32
    var buffer: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 65_536)

    init(fd: Int32) { self.fd = fd }

    /// The head up to (not including) the blank line, or nil at end of stream.
    mutating func readHead() -> String? {
        var searchFrom = 0
        while true {
            if buffer.count >= 4 {
                var i = max(0, searchFrom - 3)
                while i + 3 < buffer.count {
                    if buffer[i] == 13, buffer[i + 1] == 10, buffer[i + 2] == 13, buffer[i + 3] == 10 {
                        let head = String(decoding: buffer[0..<i], as: UTF8.self)
                        buffer.removeFirst(i + 4)
                        return head
                    }
                    i += 1
                }
                searchFrom = buffer.count
            }
            guard fill() else { return nil }
        }
    }

    /// Exactly `count` bytes, or nil at end of stream.
    mutating func read(count: Int) -> Data? {
        while buffer.count < count {
            guard fill() else { return nil }
        }
        let data = Data(buffer[0..<count])
        buffer.removeFirst(count)
        return data
    }

    private mutating func fill() -> Bool {
        while true {
            let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n < 0, errno == EINTR { continue }
            if n <= 0 { return false }
            buffer.append(contentsOf: chunk[0..<n])
            return true
        }
    }
}
