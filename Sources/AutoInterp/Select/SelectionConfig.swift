/// How many examples of each kind to pick per unit, and how.
///
/// The defaults follow Bills et al. 2023 (explain on top contexts, score on held-out top and
/// random contexts) and Templeton et al. 2024 (rubric examples from 10 equal-width activation
/// bins plus non-activating contexts).
public struct SelectionConfig: Sendable, Equatable, Codable {
    /// Top contexts (by max activation) shown to the explainer.
    public var explainTop = 10
    /// Held-out top contexts scored by simulation (`top` subset).
    public var scoreTop = 5
    /// Random contexts scored by simulation (`random` subset).
    public var scoreRandom = 10
    /// Equal-width bins of (0, max] for activation-stratified samples (`quantile` subset, bins 1...n).
    public var quantileBins = 10
    /// Samples drawn per activation bin.
    public var quantilePerBin = 5
    /// Contexts where the unit never fires (`quantile` subset, bin 0).
    public var nonActivating = 5
    /// Bins of the stored activation histogram.
    public var histogramBins = 20
    /// Seed for every random choice; the same seed gives the same examples.
    public var seed: UInt64 = 0
    /// Keep special tokens (`[CLS]`, `[SEP]`, ...) in examples and statistics.
    public var includeSpecialTokens = false

    public init() {}

    /// Contexts kept in the top pool before the explain / score split.
    public var topPool: Int { explainTop + scoreTop }
}
