import Foundation

// MARK: - Endpoint pool

/// Several OpenAI-compatible servers of one model (replicas) used as one endpoint: `--endpoints FILE`.
///
/// The file is a JSON object (or a bare array of endpoints, whose group is then the model name):
///
/// ```json
/// {"group": "llama-8b", "model": "llama-3.1-8b",
///  "endpoints": [
///    {"name": "a", "url": "http://10.0.0.1:8080/v1", "key_env": "KEY_A", "max_in_flight": 4, "rpm": 600, "tpm": 200000, "weight": 2},
///    {"name": "b", "url": "http://10.0.0.2:8080/v1"}],
///  "breaker": {"failures": 3, "cooldown": 5, "max_cooldown": 300}}
/// ```
///
/// The group name, not a URL, goes into the request hash, so every replica answers from (and
/// fills) one response cache. Each replica pulls requests from one shared queue while it has a
/// free slot, so a faster replica takes more of the work. A replica that fails `failures` times in
/// a row (transport errors and 5xx) is left out for a cool-down that doubles each time it fails again
/// (`cooldown` seconds up to `max_cooldown`), then gets one half-open probe request.
public struct LLMEndpointPool: Codable, Sendable, Equatable {
    /// One replica of the pool.
    public struct Member: Codable, Sendable, Equatable {
        /// A short name for logs and errors.
        public var name: String
        /// Base URL up to and excluding `/chat/completions`.
        public var url: String
        /// The name of the environment variable with this replica's key; nil = the pool's `--api-key-env`.
        public var keyEnv: String?
        /// Most requests in flight to this replica; nil = llama.cpp's `/props` `total_slots`, else `--max-in-flight`.
        public var maxInFlight: Int?
        /// Request budget per minute; nil = the pool's `rpm` split by weight (or unlimited).
        public var rpm: Double?
        /// Token budget per minute; nil = the pool's `tpm` split by weight (or unlimited).
        public var tpm: Double?
        /// Share of the pool's rpm/tpm budgets; among idle replicas the heavier one is asked first. Default 1.
        public var weight: Double?

        public init(
            name: String, url: String, keyEnv: String? = nil, maxInFlight: Int? = nil, rpm: Double? = nil, tpm: Double? = nil,
            weight: Double? = nil
        ) {
            self.name = name
            self.url = url
            self.keyEnv = keyEnv
            self.maxInFlight = maxInFlight
            self.rpm = rpm
            self.tpm = tpm
            self.weight = weight
        }

        enum CodingKeys: String, CodingKey {
            case name, url, rpm, tpm, weight
            case keyEnv = "key_env"
            case maxInFlight = "max_in_flight"
        }
    }

    /// The circuit breaker's settings.
    public struct Breaker: Codable, Sendable, Equatable {
        /// Consecutive transport errors or 5xx answers that open the breaker.
        public var failures: Int
        /// First cool-down, seconds; doubled at each failed half-open probe.
        public var cooldown: Double
        /// Longest cool-down, seconds.
        public var maxCooldown: Double

        public init(failures: Int = 3, cooldown: Double = 5, maxCooldown: Double = 300) {
            self.failures = failures
            self.cooldown = cooldown
            self.maxCooldown = maxCooldown
        }

        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            let d = Breaker()
            failures = try c.decodeIfPresent(Int.self, forKey: .failures) ?? d.failures
            cooldown = try c.decodeIfPresent(Double.self, forKey: .cooldown) ?? d.cooldown
            maxCooldown = try c.decodeIfPresent(Double.self, forKey: .maxCooldown) ?? d.maxCooldown
        }

        enum CodingKeys: String, CodingKey {
            case failures, cooldown
            case maxCooldown = "max_cooldown"
        }
    }

    /// The logical name of the pool: the request hash and the run config use it, never a URL.
    public var group: String
    /// The model served by every replica; nil = `--model`.
    public var model: String?
    public var endpoints: [Member]
    /// Pool-wide budgets per minute, split over the replicas without their own by weight.
    public var rpm: Double?
    public var tpm: Double?
    /// The cap of a replica without its own when `/props` gives none; nil = `--max-in-flight`.
    public var maxInFlight: Int?
    public var breaker: Breaker

    public init(
        group: String, model: String? = nil, endpoints: [Member], rpm: Double? = nil, tpm: Double? = nil, maxInFlight: Int? = nil,
        breaker: Breaker = Breaker()
    ) {
        self.group = group
        self.model = model
        self.endpoints = endpoints
        self.rpm = rpm
        self.tpm = tpm
        self.maxInFlight = maxInFlight
        self.breaker = breaker
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        group = try c.decode(String.self, forKey: .group)
        model = try c.decodeIfPresent(String.self, forKey: .model)
        endpoints = try c.decode([Member].self, forKey: .endpoints)
        rpm = try c.decodeIfPresent(Double.self, forKey: .rpm)
        tpm = try c.decodeIfPresent(Double.self, forKey: .tpm)
        maxInFlight = try c.decodeIfPresent(Int.self, forKey: .maxInFlight)
        breaker = try c.decodeIfPresent(Breaker.self, forKey: .breaker) ?? Breaker()
    }

    enum CodingKeys: String, CodingKey {
        case group, model, endpoints, rpm, tpm, breaker
        case maxInFlight = "max_in_flight"
    }

    // MARK: - Loading

    /// Reads an endpoints file: an object as above, or a bare array of endpoints grouped under `defaultGroup`.
    ///
    /// - Throws: `LLMError` (invalid configuration) naming the file and what to fix.
    public static func load(path: String, defaultGroup: String?) throws -> LLMEndpointPool {
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw LLMError.invalidConfiguration(endpoint: path, "cannot read the endpoints file \(path): \(error.localizedDescription)")
        }
        let decoder = JSONDecoder()
        if let members = try? decoder.decode([Member].self, from: data) {
            guard let group = defaultGroup, !group.isEmpty else {
                throw LLMError.invalidConfiguration(
                    endpoint: path, "endpoints file \(path) is a bare array: pass \(Setting.model), or write {\"group\": NAME, \"endpoints\": [...]}")
            }
            return LLMEndpointPool(group: group, endpoints: members)
        }
        do {
            return try decoder.decode(LLMEndpointPool.self, from: data)
        } catch {
            throw LLMError.invalidConfiguration(
                endpoint: path,
                "endpoints file \(path) is not {\"group\": NAME, \"endpoints\": [{\"name\", \"url\", \"key_env\", \"max_in_flight\", \"rpm\", \"tpm\", \"weight\"}, ...]}: \(Self.describe(error))")
        }
    }

    private static func describe(_ error: any Error) -> String {
        switch error as? DecodingError {
        case .keyNotFound(let key, let context)?:
            return "missing key \"\(key.stringValue)\"" + (context.codingPath.isEmpty ? "" : " in \(path(context.codingPath))")
        case .typeMismatch(_, let context)?, .valueNotFound(_, let context)?:
            return "wrong type at \(path(context.codingPath))"
        case .dataCorrupted(let context)?:
            return context.codingPath.isEmpty ? "not valid JSON" : "bad value at \(path(context.codingPath))"
        default:
            return "\(error)"
        }
    }

    private static func path(_ keys: [any CodingKey]) -> String {
        keys.map { $0.intValue.map { "[\($0)]" } ?? ".\($0.stringValue)" }.joined()
    }

    // MARK: - Derived

    /// One endpoint configuration per replica: `base` with the replica's URL, key variable, cap and budgets.
    /// A replica without a cap gets the pool's `maxInFlight` (the client asks llama.cpp's `/props` first).
    func memberConfigs(base: LLMEndpointConfig) -> [LLMEndpointConfig] {
        let weights = endpoints.map { $0.weight ?? 1 }
        let shared = weights.enumerated().filter { endpoints[$0.offset].rpm == nil }.reduce(0) { $0 + $1.element }
        let sharedTokens = weights.enumerated().filter { endpoints[$0.offset].tpm == nil }.reduce(0) { $0 + $1.element }
        return endpoints.enumerated().map { index, member in
            var config = base
            config.pool = nil
            config.baseURL = member.url
            config.apiKeyEnv = member.keyEnv ?? base.apiKeyEnv
            config.maxInFlight = member.maxInFlight ?? maxInFlight ?? base.maxInFlight
            config.requestsPerMinute = member.rpm ?? rpm.map { $0 * weights[index] / max(shared, .leastNormalMagnitude) }
            config.tokensPerMinute = member.tpm ?? tpm.map { $0 * weights[index] / max(sharedTokens, .leastNormalMagnitude) }
            return config
        }
    }

    /// The problem with the pool's own fields (not the replicas' URLs), or nil.
    func problem() -> String? {
        if group.trimmingCharacters(in: .whitespaces).isEmpty { return "the endpoints file needs a non-empty \"group\" name" }
        if endpoints.isEmpty { return "the endpoints file of group \"\(group)\" lists no endpoints" }
        var names = Set<String>()
        for member in endpoints {
            let label = "endpoint \"\(member.name)\" of group \"\(group)\""
            if member.name.isEmpty { return "every endpoint of group \"\(group)\" needs a \"name\"" }
            if !names.insert(member.name).inserted {
                return "two endpoints of group \"\(group)\" are named \"\(member.name)\"; names must be unique"
            }
            if let cap = member.maxInFlight, !(1...LLMEndpointConfig.largestInFlight).contains(cap) {
                return "\(label): max_in_flight must be 1-\(LLMEndpointConfig.largestInFlight), got \(cap)"
            }
            if let weight = member.weight, !(weight.isFinite && weight > 0) { return "\(label): weight must be a positive number" }
            for (key, value) in [("rpm", member.rpm), ("tpm", member.tpm)] {
                if let value, !(value.isFinite && value > 0) { return "\(label): \(key) must be a positive number" }
            }
        }
        if let cap = maxInFlight, !(1...LLMEndpointConfig.largestInFlight).contains(cap) {
            return "group \"\(group)\": max_in_flight must be 1-\(LLMEndpointConfig.largestInFlight), got \(cap)"
        }
        for (key, value) in [("rpm", rpm), ("tpm", tpm)] {
            if let value, !(value.isFinite && value > 0) { return "group \"\(group)\": \(key) must be a positive number" }
        }
        if !(1...1000).contains(breaker.failures) { return "group \"\(group)\": breaker.failures must be 1-1000" }
        let cooldowns = breaker.cooldown.isFinite && breaker.cooldown > 0 && breaker.maxCooldown.isFinite
        if !(cooldowns && breaker.maxCooldown >= breaker.cooldown) {
            return "group \"\(group)\": breaker.cooldown must be > 0 seconds and breaker.max_cooldown at least as long"
        }
        return nil
    }
}

// MARK: - Config with a pool

extension LLMEndpointConfig {
    /// This configuration spread over the replicas of `pool`: the model from the file unless one
    /// is set, the base URL of the first replica (the pool's name is `endpointName`), and as
    /// `maxInFlight` the sum of the replicas' caps (a replica without one counts `maxInFlight`).
    public func using(pool: LLMEndpointPool) -> LLMEndpointConfig {
        var config = self
        var pool = pool
        if pool.maxInFlight == nil { pool.maxInFlight = maxInFlight }
        config.pool = pool
        if config.model.isEmpty, let model = pool.model { config.model = model }
        config.baseURL = pool.endpoints.first?.url ?? baseURL
        let caps = pool.endpoints.map { $0.maxInFlight ?? pool.maxInFlight ?? maxInFlight }
        config.maxInFlight = min(LLMEndpointConfig.largestInFlight, caps.reduce(0) { $0 + min($1, LLMEndpointConfig.largestInFlight) })
        if config.maxInFlight <= 0 { config.maxInFlight = maxInFlight }
        return config
    }
}
