import AutoInterpLLM
/// How many examples of each kind to pick per unit, and how.
///
/// The defaults follow Bills et al. 2023 (explain on top contexts, score on held-out top and
/// random contexts), Templeton et al. 2024 (rubric examples from 10 equal-width activation
/// bins plus non-activating contexts) and Paulo et al. 2025 (detection and fuzzing examples from
/// the 10 activation deciles plus silent contexts; small by default, see ``ClassifyProtocol``).
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
    /// Activating contexts drawn per activation decile for detection and fuzzing
    /// (`classify/activating`, bins 1...``classifyDeciles``), disjoint from the explain examples.
    public var classifyPerDecile = ClassifyProtocol.small.perDecile
    /// Silent contexts (every selectable token <= 0) for detection and fuzzing (`classify/silent`).
    public var classifySilent = ClassifyProtocol.small.silent
    /// Hard negatives for detection and fuzzing (`classify/hard`): contexts where the unit is
    /// exactly 0 on every selectable token but one of its ``hardNeighbours`` nearest units fires,
    /// disjoint from the `classify/silent` ones. 0 (the default) draws none; see ``UnitNeighbours``.
    public var hardNegatives = 0

    /// Nearest units kept per studied unit for the hard negatives.
    public static let hardNeighbours = 8
    /// The deciles of the `classify/activating` draw.
    public static let classifyDeciles = 10

    public init() {}

    /// Contexts kept in the top pool before the explain / score split.
    public var topPool: Int { explainTop + scoreTop }

    /// Sets the classification counts of a protocol.
    public mutating func apply(_ protocol: ClassifyProtocol) {
        classifyPerDecile = `protocol`.perDecile
        classifySilent = `protocol`.silent
    }

    // MARK: Codable

    private enum CodingKeys: String, CodingKey {
        case explainTop, scoreTop, scoreRandom, quantileBins, quantilePerBin, nonActivating, histogramBins, seed
        case includeSpecialTokens, classifyPerDecile, classifySilent, hardNegatives
    }

    /// Decodes a stored config; fields added after a run was made take their defaults (configs
    /// stored by older versions still decode and compare equal to the same options now).
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let d = SelectionConfig()
        explainTop = try c.decodeIfPresent(Int.self, forKey: .explainTop) ?? d.explainTop
        scoreTop = try c.decodeIfPresent(Int.self, forKey: .scoreTop) ?? d.scoreTop
        scoreRandom = try c.decodeIfPresent(Int.self, forKey: .scoreRandom) ?? d.scoreRandom
        quantileBins = try c.decodeIfPresent(Int.self, forKey: .quantileBins) ?? d.quantileBins
        quantilePerBin = try c.decodeIfPresent(Int.self, forKey: .quantilePerBin) ?? d.quantilePerBin
        nonActivating = try c.decodeIfPresent(Int.self, forKey: .nonActivating) ?? d.nonActivating
        histogramBins = try c.decodeIfPresent(Int.self, forKey: .histogramBins) ?? d.histogramBins
        seed = try c.decodeIfPresent(UInt64.self, forKey: .seed) ?? d.seed
        includeSpecialTokens = try c.decodeIfPresent(Bool.self, forKey: .includeSpecialTokens) ?? d.includeSpecialTokens
        classifyPerDecile = try c.decodeIfPresent(Int.self, forKey: .classifyPerDecile) ?? d.classifyPerDecile
        classifySilent = try c.decodeIfPresent(Int.self, forKey: .classifySilent) ?? d.classifySilent
        hardNegatives = try c.decodeIfPresent(Int.self, forKey: .hardNegatives) ?? d.hardNegatives
    }

    /// Encodes every field; `hardNegatives` only when non-zero, so a run without hard negatives
    /// stores the same config (and hash) as before the field existed.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(explainTop, forKey: .explainTop)
        try c.encode(scoreTop, forKey: .scoreTop)
        try c.encode(scoreRandom, forKey: .scoreRandom)
        try c.encode(quantileBins, forKey: .quantileBins)
        try c.encode(quantilePerBin, forKey: .quantilePerBin)
        try c.encode(nonActivating, forKey: .nonActivating)
        try c.encode(histogramBins, forKey: .histogramBins)
        try c.encode(seed, forKey: .seed)
        try c.encode(includeSpecialTokens, forKey: .includeSpecialTokens)
        try c.encode(classifyPerDecile, forKey: .classifyPerDecile)
        try c.encode(classifySilent, forKey: .classifySilent)
        if hardNegatives != 0 { try c.encode(hardNegatives, forKey: .hardNegatives) }
    }
}

/// The sizes of the detection and fuzzing example sets: `small` (the default, 2 per decile + 20
/// silent) or `delphi` (EleutherAI delphi / Paulo et al. 2025: 10 per decile + 100 silent).
public enum ClassifyProtocol: String, Sendable, CaseIterable {
    case small
    case delphi

    /// Activating contexts per decile.
    public var perDecile: Int {
        switch self {
        case .small: 2
        case .delphi: 10
        }
    }

    /// Silent contexts.
    public var silent: Int {
        switch self {
        case .small: 20
        case .delphi: 100
        }
    }

    /// Parses `--classify-protocol`.
    ///
    /// - Throws: ``AutoInterpError/invalidInput(_:)`` naming the accepted values.
    public init(parsing text: String) throws {
        guard let value = ClassifyProtocol(rawValue: text.lowercased()) else {
            throw AutoInterpError.invalidInput(
                "\(Setting.classifyProtocol) must be \(Self.allCases.map(\.rawValue).joined(separator: " or ")), got '\(text.prefix(40))'")
        }
        self = value
    }
}
