import ArgumentParser
import AutoInterpLLM
import AutoInterpTestSupport
import Foundation
import Logging
import Synchronization

/// `autointerp-dev serve-test`: the local test endpoint in the foreground, for benchmarks by hand
/// (formerly `autointerp llm serve-test`).
struct ServeTestCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve-test",
        abstract: "Serve the local chat-completions test endpoint on 127.0.0.1 until interrupted.",
        discussion: """
            --batch serves the OpenAI files + batches API instead (the batch test server): each batch line (and each \
            real-time chat completion, e.g. a capability probe) is answered by --upstream (a chat-completions base URL, e.g. \
            a llama-server), or by the scripted model of the built-in example without one; its state is kept in --state, so \
            a restart goes on where it was.
            """
    )

    @Flag(help: "Serve the OpenAI files + batches API (the batch test server).")
    var batch = false

    @Option(help: "With --batch: the chat-completions base URL that answers each line (default: the scripted model).")
    var upstream: String?

    @Option(help: "With --batch: the model asked upstream (default: each line's own).")
    var upstreamModel: String?

    @Option(help: "With --batch: the folder the server keeps its files and batches in.")
    var state = "batch-server-state"

    @Option(help: "With --batch: seconds a batch stays validating.")
    var validateDelay = 0.5

    @Option(help: "With --batch: seconds a batch stays finalizing.")
    var finalizeDelay = 0.5

    @Option(help: "With --batch: the completion window in seconds (lines not run by then expire).")
    var expireAfter = 86_400.0

    @Option(help: "With --batch: share of lines answered with an HTTP 500 line (0...1, the same lines every time).")
    var lineFaultRate = 0.0

    @Option(help: "Port to listen on (0 = any free port).")
    var port: UInt16 = 18080

    @Option(help: "Fixed latency of each answer, milliseconds.")
    var latencyMs = 100

    @Option(help: "Share of requests that get --fault (0...1).")
    var faultRate = 0.0

    @Option(help: "Fault to inject: 429, 500, 503, 401, hang, malformed, cut, huge (a 50 MB answer).")
    var fault = "503"

    @Option(help: "response_format types accepted: json_schema (and json_object), json_object, none (the rest get HTTP 400).")
    var structuredOutputs = "json_schema"

    func run() async throws {
        if batch { return try await serveBatches() }
        let injected: TestFault
        switch fault {
        case "429": injected = .tooManyRequests(retryAfter: 1)
        case "hang": injected = .hang
        case "malformed": injected = .malformedBody
        case "cut": injected = .cutMidBody
        case "huge": injected = .hugeBody(bytes: 50 << 20, declareLength: false)
        default:
            guard let status = Int(fault) else { throw ValidationError("unknown --fault \(fault)") }
            injected = .status(status)
        }
        let structured: TestStructuredOutputs
        switch structuredOutputs {
        case "json_schema": structured = .jsonSchema
        case "json_object": structured = .jsonObjectOnly
        case "none": structured = .none
        default: throw ValidationError("unknown --structured-outputs \(structuredOutputs) (json_schema, json_object, none)")
        }
        let endpoint = try TestEndpoint(TestEndpoint.Configuration(
            port: port, latency: .milliseconds(latencyMs),
            faults: faultRate > 0 ? .random(probability: faultRate, injected) : .none, keepRequests: false,
            structuredOutputs: structured))
        DevConsole.say("test endpoint listening on \(endpoint.baseURL) (latency \(latencyMs) ms); Ctrl-C to stop")
        var last = 0
        while true {
            try await Task.sleep(for: .seconds(5))
            let count = endpoint.requestCount
            if count != last {
                DevConsole.say("requests \(count), connections \(endpoint.connectionCount), peak concurrency \(endpoint.peakConcurrency)")
                last = count
            }
        }
    }

    /// `--batch`: the batch test server in the foreground.
    private func serveBatches() async throws {
        var options = BatchTestServer.Options()
        options.validateDelay = validateDelay
        options.finalizeDelay = finalizeDelay
        options.expireAfter = expireAfter
        guard (0...1).contains(lineFaultRate) else { throw ValidationError("--line-fault-rate must be within 0...1") }
        let rate = lineFaultRate
        options.fault = { line, _ in Self.unit(line) < rate ? .serverError : nil }
        let folder = URL(fileURLWithPath: state)
        let server: BatchTestServer
        if let upstream {
            let config = LLMEndpointConfig(baseURL: upstream, model: upstreamModel ?? "upstream", apiKeyEnv: "AUTOINTERP_UPSTREAM_KEY")
            let client = try LLMClient(config: config, store: nil, logger: Logger(label: "serve-test.upstream"))
            let model = upstreamModel
            // The probes and real-time retries go to the same upstream as the lines.
            options.chatUpstream = { body in Self.forward(body, to: client, model: model) }
            server = try BatchTestServer(folder: folder, port: port, options: options) { body in Self.forward(body, to: client, model: model) }
        } else {
            server = try BatchTestServer(folder: folder, port: port, options: options, handler: ScriptedLLM().handler)
        }
        DevConsole.say("batch test server listening on \(server.baseURL) (state in \(folder.path)); Ctrl-C to stop")
        var last: [String: String] = [:]
        while true {
            try await Task.sleep(for: .seconds(2))
            let statuses = server.statuses
            for (id, status) in statuses.sorted(by: { $0.key < $1.key }) where last[id] != status { DevConsole.say("\(id): \(status)") }
            last = statuses
        }
    }

    /// A number in 0..<1 fixed by `line` (which lines fault).
    private static func unit(_ line: Int) -> Double {
        var z = UInt64(line) &+ 0x9E37_79B9_7F4A_7C15
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return Double((z ^ (z >> 31)) >> 11) / Double(UInt64(1) << 53)
    }

    /// One line's body sent to the upstream in real time (called on the server's worker thread).
    private static func forward(_ body: Data, to client: LLMClient, model: String?) -> (status: Int, body: Data) {
        guard var request = try? JSONDecoder().decode(ChatCompletionRequest.self, from: body) else {
            return (400, Data(#"{"error":{"message":"not a chat-completions request"}}"#.utf8))
        }
        if let model { request.model = model }
        let result = Mutex<(status: Int, body: Data)?>(nil)
        let done = DispatchSemaphore(value: 0)
        let sent = request
        Task {
            do {
                let answer = try await client.complete(sent, useCache: false)
                let encoded = (try? JSONEncoder().encode(answer.response)) ?? Data()
                result.withLock { $0 = (200, encoded) }
            } catch {
                let message = (try? JSONSerialization.data(withJSONObject: ["error": ["message": String(describing: error)]])) ?? Data()
                let status = (error as? LLMError)?.statusCode ?? 502
                result.withLock { $0 = (status, message) }
            }
            done.signal()
        }
        done.wait()
        return result.withLock { $0 } ?? (502, Data())
    }
}
