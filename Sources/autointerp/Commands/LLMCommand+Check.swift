import ArgumentParser
import AutoInterpLLM
import Logging

// MARK: - llm check

extension LLMCommand {
    /// `autointerp llm check`: what the endpoint supports (logprobs, JSON mode) and how fast it answers.
    struct Check: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Probe an endpoint: logprobs and top_logprobs, JSON mode, latency."
        )

        @OptionGroup var llm: LLMOptions

        func run() async throws {
            let client = try LLMClient(config: try llm.endpointConfig(), logger: Logger(label: "autointerp.llm"))
            let capabilities = try await LLMCapabilities.probe(client)
            print(capabilities)
            print("usage         \(client.usage)")
        }
    }
}
