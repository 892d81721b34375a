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

    @Option(help: "Fault to inject: 429, 500, 503, 401, hang, malformed, cut.")
    var fault = "503"

    func run() async throws {
        let injected: TestFault
        switch fault {
        case "429": injected = .tooManyRequests(retryAfter: 1)
        case "hang": injected = .hang
        case "malformed": injected = .malformedBody
        case "cut": injected = .cutMidBody
        default:
            guard let status = Int(fault) else { throw ValidationError("unknown --fault \(fault)") }
            injected = .status(status)
        }
        let endpoint = try TestEndpoint(TestEndpoint.Configuration(
            port: port, latency: .milliseconds(latencyMs),
            faults: faultRate > 0 ? .random(probability: faultRate, injected) : .none, keepRequests: false))
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
