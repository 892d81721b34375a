import ArgumentParser
import AutoInterp
import AutoInterpCLIOptions
import AutoInterpLLM
import Foundation
import Logging

/// `autointerp batch status|cancel`: the provider batches of a run made with `run --batch`.
struct BatchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "batch",
        abstract: "Show or cancel the batches of a run made with run --batch.",
        subcommands: [Status.self, Cancel.self])

    struct Status: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List a run's batches (wave, status, lines answered and failed, provider id) and its waiting requests.")

        @OptionGroup var location: RunLocationOptions

        func run() async throws {
            try await reportingErrors {
                let (store, _) = try RunLocator.open(results: location.resultsFolder, name: location.run)
                for line in try BatchControl.status(store: store) { print(Console.render(line)) }
            }
        }
    }

    struct Cancel: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Cancel a run's open batches; the answers already back are kept (a rerun asks the rest again).",
            discussion: "A batch at the provider is cancelled there (--endpoint and its key), then its partial results are ingested.")

        @OptionGroup var location: RunLocationOptions

        @Option(help: "The provider's base URL (for batches sent with --batch openai or anthropic).")
        var endpoint: String?

        @Option(help: "Environment variable holding the provider's API key.")
        var apiKeyEnv = "OPENAI_API_KEY"

        @Option(help: "Seconds between polls while a cancelled batch drains.")
        var pollInterval = 10.0

        func run() async throws {
            try await reportingErrors {
                let run = location.run, folder = location.resultsFolder
                let url = RunLocator.databaseURL(results: folder, name: run)
                _ = try RunLocator.open(results: folder, name: run)
                try RunLock.acquire(runFolder: url.deletingLastPathComponent(), name: run)
                let store = try RunStore(url: url)
                let config = endpoint.map { LLMEndpointConfig(baseURL: $0, model: "batch", apiKeyEnv: apiKeyEnv) }
                let api = config.map { OpenAIBatchAPI(config: $0) }
                let anthropic = config.map { AnthropicBatchAPI(config: $0) }
                var settings = BatchSettings(backend: .openAI, pollInterval: pollInterval)
                settings.maxWaves = 1
                let cancelled = try await BatchControl.cancel(
                    store: store, api: api, anthropic: anthropic, settings: settings, runName: run, logger: Logger(label: "autointerp.batch"))
                print(cancelled.isEmpty ? "no open batch in run '\(run)'" : "cancelled \(cancelled.count) batch(es) of run '\(run)'")
                for line in try BatchControl.status(store: store) { print(Console.render(line)) }
            }
        }
    }
}
