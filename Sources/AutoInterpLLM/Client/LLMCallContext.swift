// MARK: - Call context

/// What an LLM call is for: the unit and the stage, as the call log records them.
///
/// Set it around the work of one unit or stage; every call made inside, in child tasks of task
/// groups too, is logged with it:
///
/// ```swift
/// try await LLMCallContext.$current.withValue(LLMCallContext(unit: "feature 12", stage: "simulate")) {
///     try await simulator.simulate(...)
/// }
/// ```
public struct LLMCallContext: Sendable, Equatable, Hashable {
    /// The unit, e.g. `feature 12` or `neuron 3`; nil for calls not made for one unit.
    public var unit: String?
    /// The stage, e.g. `explain`, `simulate`, `rubric`, `check`.
    public var stage: String?

    public init(unit: String? = nil, stage: String? = nil) {
        self.unit = unit
        self.stage = stage
    }

    /// The context of the current task; nil outside any `withValue`.
    @TaskLocal public static var current: LLMCallContext?
}
