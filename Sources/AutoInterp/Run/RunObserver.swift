public import AutoInterpLLM

/// What a front end hears while a run works: selection progress, each pass over the units, each
/// unit finished and each LLM call. The library never draws; the CLI renders these events as
/// progress bars (``ProgressBarObserver``), a script may log them or do nothing.
///
/// Called from several tasks at once: implementations must be thread-safe and quick.
public protocol RunObserver: Sendable {
    /// Examples are being selected: `done` of `total` steps (batches of tokens).
    func selecting(done: Int, total: Int)
    /// A pass over the units begins (`run`, `controls`), with `units` that have work left.
    func passStarted(_ pass: String, units: Int)
    /// A unit of the pass finished (`done` of the pass's units so far).
    func unitFinished(_ pass: String, done: Int, outcome: UnitOutcome)
    /// An LLM call finished; `usage` is the run's total so far.
    func callFinished(_ usage: LLMUsage)
    /// The pass is over.
    func passFinished(_ pass: String)
}

extension RunObserver {
    public func selecting(done: Int, total: Int) {}
    public func passStarted(_ pass: String, units: Int) {}
    public func unitFinished(_ pass: String, done: Int, outcome: UnitOutcome) {}
    public func callFinished(_ usage: LLMUsage) {}
    public func passFinished(_ pass: String) {}
}
