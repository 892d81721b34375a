import Foundation

// MARK: - Endpoint configuration

/// Everything the client needs to know about one OpenAI-compatible endpoint.
///
/// Decodes from a JSON config file (`--llm-config`) in which every key but `baseURL` and
/// `model` may be left out; durations are seconds.
public struct LLMEndpointConfig: Codable, Sendable, Equatable {
    /// How failed attempts are retried.
    public struct RetryPolicy: Codable, Sendable, Equatable {
        /// Attempts per call, the first included.
        public var maxAttempts: Int
        /// Give up when the next attempt would start later than this many seconds after the first.
        public var maxTotalTime: Double
        /// Backoff before retry `k` is `baseBackoff * 2^(k-1)`, capped at `maxBackoff`, seconds.
        public var baseBackoff: Double
        public var maxBackoff: Double
        /// Each backoff is multiplied by a random factor in `[1 - jitter, 1 + jitter]`.
        public var jitter: Double

        public init(maxAttempts: Int = 6, maxTotalTime: Double = 600, baseBackoff: Double = 0.5, maxBackoff: Double = 30, jitter: Double = 0.25) {
            self.maxAttempts = maxAttempts
            self.maxTotalTime = maxTotalTime
            self.baseBackoff = baseBackoff
            self.maxBackoff = maxBackoff
            self.jitter = jitter
        }

        public init(from decoder: any Decoder) throws {
            let d = RetryPolicy()
            let c = try decoder.container(keyedBy: CodingKeys.self)
            maxAttempts = try c.decodeIfPresent(Int.self, forKey: .maxAttempts) ?? d.maxAttempts
            maxTotalTime = try c.decodeIfPresent(Double.self, forKey: .maxTotalTime) ?? d.maxTotalTime
            baseBackoff = try c.decodeIfPresent(Double.self, forKey: .baseBackoff) ?? d.baseBackoff
            maxBackoff = try c.decodeIfPresent(Double.self, forKey: .maxBackoff) ?? d.maxBackoff
            jitter = try c.decodeIfPresent(Double.self, forKey: .jitter) ?? d.jitter
        }
    }

    /// Base URL up to and excluding `/chat/completions`, e.g. `http://127.0.0.1:8000/v1`.
    public var baseURL: String
    public var model: String
    /// The *name* of the environment variable holding the API key; read at call time.
    /// When it is unset or empty, requests go without `Authorization` (local servers need none).
    public var apiKeyEnv: String
    /// Seconds to establish a connection.
    public var connectTimeout: Double
    /// Seconds for one whole attempt, connect to last byte (default 600: a CPU server can take
    /// minutes for a long answer). An attempt that runs out closes its connection, so the server stops.
    public var requestTimeout: Double
    /// Abort an attempt when under one byte per second moves for this many seconds; nil = off.
    /// Long generations may be silent until done, so leave it off unless the server is fast. curl
    /// averages the speed over about five seconds (the upload included), so a silent server is
    /// dropped some five seconds later than this value.
    public var lowSpeedTime: Double?
    /// Most requests in flight to this endpoint at once.
    public var maxInFlight: Int
    /// Request budget per minute; nil = unlimited.
    public var requestsPerMinute: Double?
    /// Token budget per minute (prompt estimate + max_tokens); nil = unlimited.
    public var tokensPerMinute: Double?
    public var retry: RetryPolicy
    /// Price in money units per million prompt tokens, for cost accounting.
    public var priceInputPerMillion: Double?
    /// Price per million completion tokens.
    public var priceOutputPerMillion: Double?
    /// Answer from the response store when it holds the request; false still writes to it.
    public var useCache: Bool
    /// Most bytes read from one response body; a longer answer fails the call (not retried, not cached).
    public var maxResponseBytes: Int
    /// Replicas to spread the calls over (`--endpoints FILE`); nil = the one endpoint at `baseURL`.
    public var pool: LLMEndpointPool?

    /// The default `maxResponseBytes`: 1 MiB.
    public static let defaultMaxResponseBytes = 1_048_576

    public init(
        baseURL: String, model: String, apiKeyEnv: String = "OPENAI_API_KEY", connectTimeout: Double = 10,
        requestTimeout: Double = 600, lowSpeedTime: Double? = nil, maxInFlight: Int = 16,
        requestsPerMinute: Double? = nil, tokensPerMinute: Double? = nil, retry: RetryPolicy = RetryPolicy(),
        priceInputPerMillion: Double? = nil, priceOutputPerMillion: Double? = nil, useCache: Bool = true,
        maxResponseBytes: Int = LLMEndpointConfig.defaultMaxResponseBytes
    ) {
        self.baseURL = baseURL
        self.model = model
        self.apiKeyEnv = apiKeyEnv
        self.connectTimeout = connectTimeout
        self.requestTimeout = requestTimeout
        self.lowSpeedTime = lowSpeedTime
        self.maxInFlight = maxInFlight
        self.requestsPerMinute = requestsPerMinute
        self.tokensPerMinute = tokensPerMinute
        self.retry = retry
        self.priceInputPerMillion = priceInputPerMillion
        self.priceOutputPerMillion = priceOutputPerMillion
        self.useCache = useCache
        self.maxResponseBytes = maxResponseBytes
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let d = LLMEndpointConfig(baseURL: "", model: "")
        baseURL = try c.decodeIfPresent(String.self, forKey: .baseURL) ?? d.baseURL
        model = try c.decodeIfPresent(String.self, forKey: .model) ?? d.model
        apiKeyEnv = try c.decodeIfPresent(String.self, forKey: .apiKeyEnv) ?? d.apiKeyEnv
        connectTimeout = try c.decodeIfPresent(Double.self, forKey: .connectTimeout) ?? d.connectTimeout
        requestTimeout = try c.decodeIfPresent(Double.self, forKey: .requestTimeout) ?? d.requestTimeout
        lowSpeedTime = try c.decodeIfPresent(Double.self, forKey: .lowSpeedTime)
        maxInFlight = try c.decodeIfPresent(Int.self, forKey: .maxInFlight) ?? d.maxInFlight
        requestsPerMinute = try c.decodeIfPresent(Double.self, forKey: .requestsPerMinute)
        tokensPerMinute = try c.decodeIfPresent(Double.self, forKey: .tokensPerMinute)
        retry = try c.decodeIfPresent(RetryPolicy.self, forKey: .retry) ?? d.retry
        priceInputPerMillion = try c.decodeIfPresent(Double.self, forKey: .priceInputPerMillion)
        priceOutputPerMillion = try c.decodeIfPresent(Double.self, forKey: .priceOutputPerMillion)
        useCache = try c.decodeIfPresent(Bool.self, forKey: .useCache) ?? d.useCache
        maxResponseBytes = try c.decodeIfPresent(Int.self, forKey: .maxResponseBytes) ?? d.maxResponseBytes
        pool = try c.decodeIfPresent(LLMEndpointPool.self, forKey: .pool)
    }

    // MARK: - Derived

    /// The URL requests are posted to.
    public var chatCompletionsURL: String {
        var base = baseURL
        while base.hasSuffix("/") { base.removeLast() }
        return base.hasSuffix("/chat/completions") ? base : base + "/chat/completions"
    }

    /// The base URL without any `user:password@` part: what logs, errors and records name.
    /// With a pool, its group name: what the request hash and the run config hold.
    public var endpointName: String {
        if let pool { return pool.group }
        guard var components = URLComponents(string: baseURL), components.user != nil || components.password != nil else {
            return baseURL
        }
        components.user = nil
        components.password = nil
        return components.string ?? baseURL
    }

    /// Checks the values; throws `LLMError` naming the bad field.
    ///
    /// The base URL must be http(s) with a host and a port in 1-65535; timeouts, limits, prices
    /// and retry settings must be finite and in range (see `HeaderValue.swift`).
    public func validate() throws {
        if let pool {
            if let problem = pool.problem() { throw LLMError.invalidConfiguration(endpoint: pool.group, problem) }
            for (member, config) in zip(pool.endpoints, pool.memberConfigs(base: self)) {
                do {
                    try config.validate()
                } catch let error as LLMError {
                    throw LLMError.invalidConfiguration(
                        endpoint: pool.group, "endpoint \"\(member.name)\" of group \"\(pool.group)\": \(error.message.replacingOccurrences(of: "LLM endpoint configuration: ", with: ""))")
                }
            }
        }
        if let problem = baseURLProblem() {
            throw LLMError.invalidConfiguration(
                endpoint: endpointName, "base URL \"\(endpointName)\" \(problem); pass e.g. \(Setting.endpoint) http://127.0.0.1:8000/v1")
        }
        let nameCharacters = apiKeyEnv.unicodeScalars.allSatisfy { $0 == "_" || ($0.isASCII && CharacterSet.alphanumerics.contains($0)) }
        if apiKeyEnv.isEmpty || !nameCharacters || apiKeyEnv.first!.isNumber {
            // Never echo the value: users sometimes paste the key itself here.
            throw LLMError.invalidConfiguration(
                endpoint: endpointName, "\(Setting.apiKeyEnv) takes the name of an environment variable (like OPENAI_API_KEY), not the key itself")
        }
        if model.isEmpty { throw LLMError.invalidConfiguration(endpoint: endpointName, "no model given; pass \(Setting.model) NAME") }
        if let problem = numberProblem() { throw LLMError.invalidConfiguration(endpoint: endpointName, problem) }
        if !(1...(1 << 40)).contains(maxResponseBytes) {
            throw LLMError.invalidConfiguration(endpoint: endpointName, "\(Setting.maxResponseBytes) must be between 1 and 2^40, got \(maxResponseBytes)")
        }
    }
}
