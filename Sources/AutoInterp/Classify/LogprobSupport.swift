public import AutoInterpLLM
import Foundation
import Synchronization

/// How many top logprobs the classification scorers ask for (0: none, answers without
/// confidences), decided once per run and only when a classification call is first made.
///
/// A run whose simulator already found logprobs (``SimulatorMode/logprobs``) says so up front;
/// otherwise one ``LogprobProbe`` request (through the response cache, so a resumed run decides
/// the same way) finds out. A probe that fails leaves the answers without confidences.
public final class LogprobSupport: Sendable {
    /// The `top_logprobs` asked for when the endpoint gives them: enough to hold both digits.
    public static let topLogprobs = 5

    private let decision = Mutex<Task<Int, Never>?>(nil)
    private let resolve: @Sendable () async -> Int

    /// A fixed decision (`0` for none).
    public init(fixed top: Int) {
        resolve = { top }
    }

    /// Probes `client` for `model` the first time it is asked.
    public init(probing client: LLMClient, model: String) {
        resolve = {
            let probe = LogprobProbe(alternatives: [Self.topLogprobs], model: model, maxTokens: 3)
            // A probe, sent in real time even during a batch wave (its finding shapes the wave's requests).
            let outcome = try? await LLMClient.inRealTime { try await probe.run(client) }
            guard case .answered(_, _, let most)? = outcome, most >= 2 else { return 0 }
            return min(Self.topLogprobs, most)
        }
    }

    /// The `top_logprobs` to ask for (0: do not ask).
    public func topLogprobs() async -> Int {
        let task = decision.withLock { task in
            if let task { return task }
            let made = Task { await resolve() }
            task = made
            return made
        }
        return await task.value
    }
}
