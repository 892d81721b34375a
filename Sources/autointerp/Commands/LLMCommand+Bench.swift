import ArgumentParser
import AutoInterpLLM
import Logging

// MARK: - llm bench

extension LLMCommand {
    /// `autointerp llm bench`: throughput, latency percentiles and client CPU per request.
    struct Bench: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Send many small distinct chat requests and report requests/s, latency and client CPU."
        )

        @OptionGroup var llm: LLMOptions

        @Option(help: "Number of requests.")
        var requests = 2000

        @Option(help: "Requests sent concurrently (also the in-flight cap unless --max-in-flight is given).")
        var concurrency = 32

        @Option(help: "max_tokens of each request.")
        var maxTokens = 16

        func validate() throws {
            guard (1...10_000_000).contains(requests), (1...10_000).contains(concurrency), (1...1_000_000).contains(maxTokens) else {
                throw ValidationError("--requests must be 1-10000000, --concurrency 1-10000 and --max-tokens 1-1000000")
            }
        }

        func run() async throws {
            var config = try llm.endpointConfig()
            if llm.maxInFlight == nil { config.maxInFlight = concurrency }
            var logger = Logger(label: "autointerp.llm")
            logger.logLevel = .warning
            let client = try LLMClient(config: config, logger: logger)
            print("endpoint      \(config.endpointName) (model \(config.model), max in flight \(config.maxInFlight))")
            let result = await LLMBenchmark.run(client: client, requests: requests, concurrency: concurrency, maxTokens: maxTokens)
            print(result)
            if result.failed == result.requests {
                throw ValidationError("every request failed: \(result.firstError ?? "unknown error")")
            }
        }
    }
}
