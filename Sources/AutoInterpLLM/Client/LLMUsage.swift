import Foundation

// MARK: - Usage

/// Running totals of one client: what was asked, what came from the cache, what it cost.
///
/// Token counts and cost cover network calls only: a cached answer costs nothing.
public struct LLMUsage: Sendable, Equatable, CustomStringConvertible {
    /// Calls made through the client (cached, succeeded or failed).
    public var calls = 0
    /// Calls answered without a network request: from the response store, or by an identical
    /// call that was already in flight.
    public var cachedCalls = 0
    /// Calls that ended in an error.
    public var failedCalls = 0
    /// HTTP attempts beyond the first of each call.
    public var retries = 0
    /// HTTP attempts made in total.
    public var attempts = 0
    public var promptTokens = 0
    public var completionTokens = 0
    /// Prompt tokens the server reported as served from its prefix cache (part of `promptTokens`).
    public var cachedPromptTokens = 0
    /// Money spent by the prices in the configuration; nil when no price was given.
    public var cost: Double?

    public init() {}

    public var description: String {
        var text = "\(calls) calls (\(cachedCalls) cached, \(failedCalls) failed, \(retries) retries), "
            + "\(promptTokens) prompt + \(completionTokens) completion tokens"
        if cachedPromptTokens > 0 { text += " (\(cachedPromptTokens) prompt tokens from the server's cache)" }
        if let cost { text += String(format: ", cost %.4f", cost) }
        return text
    }
}
