import AutoInterpTestSupport
import Testing

/// The timing-sensitive client suites (timeouts, latency ratios, Retry-After budgets), one test at
/// a time so they never stretch each other's bounds. They run beside the other targets' suites,
/// and their bounds leave room for a busy machine; their jobs run on a lane of their own, so they
/// never queue behind the other suites' CPU-bound jobs on the cooperative pool.
@Suite(.serialized, .ownLane("client-suites")) struct ClientSuites {}

/// Runs every test of the suite it marks (and of the suites nested in it) with a preference for
/// one ``QueueExecutor`` of its own: `@Suite(.ownLane("label"))`. Their continuations then wait
/// for no other test's jobs on the cooperative pool, so latency bounds hold on a busy run. Every
/// suite of this target has one: their bounds are about the client, not about the pool's queue,
/// which the end-to-end suites beside them keep full of CPU-bound jobs.
struct OwnLaneTrait: SuiteTrait, TestTrait, TestScoping {
    let executor: QueueExecutor
    var isRecursive: Bool { true }

    func provideScope(
        for test: Test, testCase: Test.Case?, performing function: @Sendable () async throws -> Void
    ) async throws {
        try await withTaskExecutorPreference(executor) { try await function() }
    }
}

extension Trait where Self == OwnLaneTrait {
    /// Runs the tests on a serial queue of their own (see ``OwnLaneTrait``).
    static func ownLane(_ label: String) -> Self { OwnLaneTrait(executor: QueueExecutor(label: label)) }
}
