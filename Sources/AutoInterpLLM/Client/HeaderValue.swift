public import Foundation

/// Checks on what goes into a request line or header, so no value can add a header of its own.
enum HeaderValue {
    /// Whether `value` holds a CR, LF or NUL (which would end the header line early).
    static func breaksTheLine(_ value: String) -> Bool {
        value.utf8.contains { $0 == 0x0D || $0 == 0x0A || $0 == 0x00 }
    }

    /// Throws when the API key in `keyEnv` would break its header line; never quotes the key.
    static func checkKey(_ key: String?, keyEnv: String, endpoint: String) throws {
        guard let key, breaksTheLine(key) else { return }
        throw LLMError.invalidConfiguration(
            endpoint: endpoint,
            "the API key in environment variable \(keyEnv) contains a line break or NUL byte (CR, LF or NUL), which would inject request headers; set it to the key alone (e.g. without a trailing newline from a file)"
        )
    }
}

extension LLMEndpointConfig {
    /// Longest timeout, rate or price accepted: far above any real use, small enough that every
    /// conversion to milliseconds or integers stays in range.
    static let largestSetting = 1e9
    /// Longest timeout in seconds (a week).
    static let largestTimeout = 7 * 86_400.0
    /// Most requests in flight accepted.
    static let largestInFlight = 10_000

    /// Refuses an API key with CR, LF or NUL read from `environment`, before any request is sent.
    ///
    /// - Throws: ``LLMError`` naming the variable, never its value.
    public func checkAPIKey(environment: (String) -> String? = { getenv($0).map { String(cString: $0) } }) throws {
        if let pool {
            for member in pool.memberConfigs(base: self) {
                try HeaderValue.checkKey(environment(member.apiKeyEnv), keyEnv: member.apiKeyEnv, endpoint: member.endpointName)
            }
        }
        try HeaderValue.checkKey(environment(apiKeyEnv), keyEnv: apiKeyEnv, endpoint: endpointName)
    }

    /// The base URL's problem in words, or nil when it is an http(s) URL with a host and a valid port.
    func baseURLProblem() -> String? {
        if baseURL.unicodeScalars.contains(where: { $0.properties.isWhitespace || $0.value < 0x20 || $0.value == 0x7F }) {
            return "contains spaces or control characters"
        }
        guard let url = URLComponents(string: baseURL) else { return "is not a URL" }
        guard let scheme = url.scheme?.lowercased(), scheme == "http" || scheme == "https" else {
            return "does not start with http:// or https://"
        }
        guard let host = url.host, !host.isEmpty else { return "has no host" }
        if let port = url.port, !(1...65_535).contains(port) { return "has port \(port), outside 1-65535" }
        return nil
    }

    /// The first out-of-range number among timeouts, limits, prices and the retry policy, in words.
    func numberProblem() -> String? {
        func finite(_ value: Double, _ range: ClosedRange<Double>) -> Bool { value.isFinite && range.contains(value) }
        let positive = Double.leastNonzeroMagnitude...Self.largestSetting
        if !finite(requestTimeout, 0.001...Self.largestTimeout) {
            return "\(Setting.timeout) must be a number of seconds between 0.001 and \(Int(Self.largestTimeout)) (a week), got \(requestTimeout)"
        }
        if !finite(connectTimeout, 0.001...Self.largestTimeout) {
            return "connectTimeout must be between 0.001 and \(Int(Self.largestTimeout)) seconds, got \(connectTimeout)"
        }
        if let lowSpeedTime, !finite(lowSpeedTime, 1...Self.largestTimeout) {
            return "lowSpeedTime must be between 1 and \(Int(Self.largestTimeout)) seconds, got \(lowSpeedTime)"
        }
        if !(1...Self.largestInFlight).contains(maxInFlight) {
            return "\(Setting.maxInFlight) must be between 1 and \(Self.largestInFlight), got \(maxInFlight)"
        }
        if let rpm = requestsPerMinute, !finite(rpm, positive) { return "\(Setting.rpm) must be a positive number up to 1e9, got \(rpm)" }
        if let tpm = tokensPerMinute, !finite(tpm, positive) { return "\(Setting.tpm) must be a positive number up to 1e9, got \(tpm)" }
        if let price = priceInputPerMillion, !finite(price, 0...Self.largestSetting) {
            return "\(Setting.priceInput) must be a number from 0 to 1e9, got \(price)"
        }
        if let price = priceOutputPerMillion, !finite(price, 0...Self.largestSetting) {
            return "\(Setting.priceOutput) must be a number from 0 to 1e9, got \(price)"
        }
        if !(1...100).contains(retry.maxAttempts) { return "retry.maxAttempts must be between 1 and 100, got \(retry.maxAttempts)" }
        for (name, value) in [("maxTotalTime", retry.maxTotalTime), ("baseBackoff", retry.baseBackoff), ("maxBackoff", retry.maxBackoff)]
        where !finite(value, 0...Self.largestTimeout) {
            return "retry.\(name) must be between 0 and \(Int(Self.largestTimeout)) seconds, got \(value)"
        }
        if !finite(retry.jitter, 0...1) { return "retry.jitter must lie in [0, 1], got \(retry.jitter)" }
        return nil
    }
}
