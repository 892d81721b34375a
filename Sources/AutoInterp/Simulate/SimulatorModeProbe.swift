package import AutoInterpLLM
import Foundation

/// Decides the simulator mode from what the endpoint can do, with one cacheable request.
///
/// The request is the client's ``LogprobProbe`` (a digit with `logprobs` and `top_logprobs` 20,
/// then 5 if the server refuses 20). Logprob mode needs at least 5 alternatives per token, enough
/// to hold the likely digits; otherwise the JSON mode is used. The probe goes through the response
/// cache, so a resumed run decides the same way without a network request.
package enum SimulatorModeProbe {
    /// The resolved mode and the `top_logprobs` to ask for in logprob mode.
    package struct Decision: Sendable, Equatable {
        package var mode: SimulatorMode
        package var topLogprobs: Int
        /// Why the mode was chosen, for the log.
        package var reason: String
        /// False when the probe's request failed (perhaps for a passing reason), so the mode is a
        /// fallback for now, not a finding to pin in the run config.
        package var certain: Bool = true
    }

    /// Resolves `requested` (only `.auto` needs the endpoint) for `model`.
    ///
    /// - Throws: `LLMError` when the endpoint is fatally unusable (bad key, wrong URL or model).
    ///   With a pool of endpoints, each replica is probed on its own; replicas that would simulate
    ///   in different modes refuse the run with one line naming them.
    package static func resolve(_ requested: SimulatorMode, client: LLMClient, model: String) async throws -> Decision {
        let replicas = requested == .auto || requested == .logprobs ? try client.replicaClients() : []
        guard replicas.count > 1 else { return try await resolveOne(requested, client: client, model: model) }
        var found: [(name: String, url: String, decision: Decision)] = []
        for replica in replicas {
            found.append((replica.name, replica.client.config.endpointName, try await resolveOne(requested, client: replica.client, model: model)))
        }
        let certain = found.filter(\.decision.certain)
        if let first = certain.first, let odd = certain.first(where: { $0.decision.mode != first.decision.mode }) {
            throw LLMError.mixedPool(
                group: client.config.endpointName,
                "\"\(first.name)\" (\(first.url)) simulates in \(first.decision.mode.rawValue) mode (\(first.decision.reason)) but \"\(odd.name)\" (\(odd.url)) in \(odd.decision.mode.rawValue) mode (\(odd.decision.reason)); give every replica the same server and model, or remove one from the endpoints file")
        }
        var decision = certain.first?.decision ?? found[0].decision
        decision.topLogprobs = (certain.isEmpty ? found : certain).map(\.decision.topLogprobs).min() ?? decision.topLogprobs
        decision.certain = certain.count == found.count
        return decision
    }

    private static func resolveOne(_ requested: SimulatorMode, client: LLMClient, model: String) async throws -> Decision {
        if requested == .json { return Decision(mode: .json, topLogprobs: 0, reason: "forced") }
        if requested == .sparse { return Decision(mode: .sparse, topLogprobs: 0, reason: "sparse answers (the default)") }
        let probe = LogprobProbe(alternatives: [LLMSimulator.defaultTopLogprobs, 5], model: model, maxTokens: 3)
        let lastProblem: String
        switch try await probe.run(client) {
        case .answered(let top, _, let most) where most >= 5:
            return Decision(mode: .logprobs, topLogprobs: min(top, max(most, 5)), reason: "the endpoint returns \(most) top logprobs per token")
        case .answered(_, _, let most):
            lastProblem = most == 0 ? "the endpoint returned no logprobs" : "the endpoint returned only \(most) top logprobs per token"
        case .refused(let problem):
            lastProblem = problem
            if requested == .auto {
                var decision = Decision(mode: .json, topLogprobs: 0, reason: lastProblem)
                decision.certain = false
                return decision
            }
        }
        switch requested {
        case .logprobs: return Decision(mode: .logprobs, topLogprobs: 5, reason: "forced (probe: \(lastProblem))")
        case .json, .auto: return Decision(mode: .json, topLogprobs: 0, reason: lastProblem)
        case .sparse: return Decision(mode: .sparse, topLogprobs: 0, reason: "sparse answers (the default)")
        }
    }
}
