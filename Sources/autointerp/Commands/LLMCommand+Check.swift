import ArgumentParser
import AutoInterpLLM
import Logging

// MARK: - llm check

extension LLMCommand {
    /// `autointerp llm check`: what the endpoint supports (logprobs, JSON mode, json_schema) and how fast it answers.
    struct Check: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Probe an endpoint: logprobs and top_logprobs, JSON mode, structured outputs (json_schema), latency."
        )

        @OptionGroup var llm: LLMOptions

        func run() async throws {
            var config = try llm.endpointConfig()
            // A check should answer quickly: one retry at most.
            config.retry.maxAttempts = min(config.retry.maxAttempts, 2)
            let client = try LLMClient(config: config, logger: Logger(label: "autointerp.llm"))
            let capabilities = try await LLMCapabilities.probe(client)
            print(capabilities)
            let structured = try await StructuredOutputProbe.probe(client)
            print("structured    \(structured.level): \(structured.reason)")
            print("usage         \(client.usage)")
        }
    }
}
