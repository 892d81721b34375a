import ArgumentParser

// MARK: - llm

/// `autointerp llm …`: check and benchmark an LLM endpoint.
struct LLMCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "llm",
        abstract: "Check or benchmark an OpenAI-compatible LLM endpoint.",
        subcommands: [Check.self, Bench.self]
    )
}
