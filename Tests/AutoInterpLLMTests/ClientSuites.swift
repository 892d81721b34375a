import Testing

/// The timing-sensitive client suites (timeouts, latency ratios, Retry-After budgets), one test at
/// a time so they never stretch each other's bounds. They run beside the other targets' suites,
/// and their bounds leave room for a busy machine.
@Suite(.serialized) struct ClientSuites {}
