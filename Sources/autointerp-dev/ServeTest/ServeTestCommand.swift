import ArgumentParser
import AutoInterpTestSupport
import Foundation

/// `autointerp-dev serve-test`: the local test endpoint in the foreground, for benchmarks by hand
/// (formerly `autointerp llm serve-test`).
struct ServeTestCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve-test",
        abstract: "Serve the local chat-completions test endpoint on 127.0.0.1 until interrupted."
    )

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
}
