import ArgumentParser
import AutoInterp
import AutoInterpCLIOptions
import AutoInterpLLM
import Foundation

// MARK: - LLM options

/// The options every command that talks to an LLM shares (`@OptionGroup var llm: LLMOptions`).
///
/// `--llm-config FILE` loads a JSON `LLMEndpointConfig`; each flag given overrides its field.
struct LLMOptions: ParsableArguments {
    @Option(help: "Base URL of the OpenAI-compatible API, e.g. http://127.0.0.1:8000/v1 (requests go to <base>/chat/completions).")
    var endpoint: String?

    @Option(help: "Model name sent with each request.")
    var model: String?

    @Option(help: "Name of the environment variable holding the API key (default OPENAI_API_KEY; unset = no Authorization header).")
    var apiKeyEnv: String?

    @Flag(help: "Do not answer from the response cache (answers are still stored).")
    var noCache = false

    @Option(help: "Most requests in flight at once (default 16).")
    var maxInFlight: PositiveInt?

    @Option(help: "Request budget per minute.")
    var rpm: PositiveDouble?

    @Option(help: "Token budget per minute (prompt estimate + max tokens).")
    var tpm: PositiveDouble?

    @Option(help: "Seconds allowed for one attempt (default 600: CPU servers can take minutes for a long answer).")
    var timeout: PositiveDouble?

    @Option(help: "Most bytes read from one answer (default 1048576 = 1 MiB); a longer answer fails the call and is not cached.")
    var maxResponseBytes: PositiveInt?

    @Option(help: "Price per million prompt tokens, for the cost total.")
    var priceInput: NonNegativeDouble?

    @Option(help: "Price per million completion tokens, for the cost total.")
    var priceOutput: NonNegativeDouble?

    @Option(help: "JSON file with an endpoint configuration (keys as in LLMEndpointConfig); flags override it.")
    var llmConfig: String?

    @Option(help: "JSON file with a pool of replicas of one model: {\"group\": NAME, \"endpoints\": [{name, url, key_env, max_in_flight, rpm, tpm, weight}]} (instead of --endpoint).")
    var endpoints: String?

    /// True when any option names an endpoint.
    var givesEndpoint: Bool { endpoint != nil || llmConfig != nil || endpoints != nil }

    /// The endpoint configuration: the config file if given, then each flag on top, validated.
    func endpointConfig() throws -> LLMEndpointConfig {
        var config = LLMEndpointConfig(baseURL: "", model: "")
        if let path = llmConfig {
            let data: Data
            do {
                data = try Data(contentsOf: URL(fileURLWithPath: path))
            } catch {
                throw AutoInterpError.io(path, "cannot read the LLM config file: \(error.localizedDescription)")
            }
            do {
                config = try JSONDecoder().decode(LLMEndpointConfig.self, from: data)
            } catch {
                throw AutoInterpError.invalidFile(path, "not a valid LLM config (JSON object with baseURL, model, …): \(error)")
            }
        }
        if let endpoint { config.baseURL = endpoint }
        if let model { config.model = model }
        if let apiKeyEnv { config.apiKeyEnv = apiKeyEnv }
        if noCache { config.useCache = false }
        if let maxInFlight { config.maxInFlight = maxInFlight.value }
        if let rpm { config.requestsPerMinute = rpm.value }
        if let tpm { config.tokensPerMinute = tpm.value }
        if let timeout { config.requestTimeout = timeout.value }
        if let maxResponseBytes { config.maxResponseBytes = maxResponseBytes.value }
        if let priceInput { config.priceInputPerMillion = priceInput.value }
        if let priceOutput { config.priceOutputPerMillion = priceOutput.value }
        if let endpoints {
            if endpoint != nil { throw ValidationError("pass either --endpoint URL or --endpoints FILE, not both") }
            let pool = try LLMEndpointPool.load(path: endpoints, defaultGroup: config.model.isEmpty ? nil : config.model)
            config = config.using(pool: pool)
        }
        if config.baseURL.isEmpty {
            throw ValidationError("no LLM endpoint: pass --endpoint URL or set baseURL in --llm-config FILE")
        }
        if config.model.isEmpty {
            throw ValidationError("no LLM model: pass --model NAME or set model in --llm-config FILE")
        }
        try config.validate()
        try config.checkAPIKey()
        return config
    }
}
