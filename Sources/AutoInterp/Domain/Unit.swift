import Foundation

/// What a unit is: an SAE feature, a raw neuron (a column of the dataset's activations), or a
/// neuron studied on its negative side (`neuron_negative`: the column negated, so its examples,
/// explanation and scores are about where the neuron fires most negative; see ``NeuronSign``).
///
/// Features are non-negative (SAE activations), so they have no negative side.
public enum UnitKind: String, Sendable, Codable, CaseIterable, Comparable {
    case feature
    case neuron
    case negativeNeuron = "neuron_negative"

    public static func < (a: Self, b: Self) -> Bool { a.rawValue < b.rawValue }

    /// Whether the unit is a dataset column (either side of a neuron).
    public var isNeuron: Bool { self != .feature }

    /// The name a report shows: `feature`, `neuron`, `neuron (−)`.
    public var label: String { self == .negativeNeuron ? "neuron (−)" : rawValue }

    /// The plural a report's columns and headings show: `features`, `neurons`, `neurons (−)`.
    public var plural: String { self == .negativeNeuron ? "neurons (−)" : "\(rawValue)s" }

    /// The kinds a report gives a column: features and neurons always (as before signed neurons
    /// existed), negative-side neurons only when `present` holds one.
    public static func columns(present: some Sequence<UnitKind>) -> [UnitKind] {
        let hasNegative = present.contains(.negativeNeuron)
        return allCases.filter { $0 != .negativeNeuron || hasNegative }
    }
}

/// Which side of each studied neuron a run explains (`--neuron-sign`): the positive activations
/// (the default, as runs made before signed neurons), the negated ones (``UnitKind/negativeNeuron``),
/// or both, which makes two units of each neuron.
public enum NeuronSign: String, Sendable, Codable, CaseIterable {
    case positive
    case negative
    case both

    /// The unit kinds the studied neurons become.
    public var kinds: [UnitKind] {
        switch self {
        case .positive: [.neuron]
        case .negative: [.negativeNeuron]
        case .both: [.neuron, .negativeNeuron]
        }
    }

    /// Parses `positive`, `negative` or `both`.
    ///
    /// - Throws: `AutoInterpError.invalidOption(.neuronSign, …)` quoting the value and the accepted ones.
    public init(parsing text: String) throws {
        guard let sign = Self(rawValue: text.trimmingCharacters(in: .whitespaces).lowercased()) else {
            throw AutoInterpError.invalidOption(
                .neuronSign, "'\(text.prefix(40))' is not a side; use positive, negative or both")
        }
        self = sign
    }
}

/// One unit of a run: its kind and its index (feature or neuron index).
public struct UnitRef: Hashable, Sendable, Codable, Comparable, CustomStringConvertible {
    public var kind: UnitKind
    public var index: Int

    public init(_ kind: UnitKind, _ index: Int) {
        self.kind = kind
        self.index = index
    }

    /// `feature 3`, `neuron 12`, `neuron 12 (−)` for a neuron's negative side.
    public var description: String { kind == .negativeNeuron ? "neuron \(index) (−)" : "\(kind.rawValue) \(index)" }

    public static func < (a: Self, b: Self) -> Bool { (a.kind, a.index) < (b.kind, b.index) }
}

/// Whether an example is shown to the explainer, held out for scoring, or held out for the
/// classification scorers (detection, fuzzing). Explain examples are disjoint from the others.
public enum ExampleRole: String, Sendable, Codable, CaseIterable {
    case explain
    case score
    case classify
}

/// How an example was drawn: top by max activation, from an activation bin, or at random; for
/// the classification scorers, from an activation decile (`activating`) or among the contexts
/// where the unit never fires (`silent`).
public enum ExampleSubset: String, Sendable, Codable, CaseIterable {
    case top
    case quantile
    case random
    case activating
    case silent
    /// `classify/hard`: a context where the unit is silent but one of its nearest units fires
    /// (``SelectionConfig/hardNegatives``); `bin` is that neighbour's index.
    case hard
}

/// One selected context (a record) for one unit: its tokens and the unit's raw activations.
///
/// Padding (mask = 0) is dropped, so `tokens`, `tokenIDs` and `activations` have equal length.
public struct ExampleRecord: Sendable, Equatable, Codable {
    public var role: ExampleRole
    public var subset: ExampleSubset
    /// Row index of the context in the dataset (`[n_contexts, context_len]`).
    public var context: Int
    /// For `quantile` examples: 0 for a non-activating context, else the equal-width bin 1...n of (0, max]
    /// holding the context's max activation. For `classify/activating` examples: the activation
    /// decile 1...10 (equal-count quantiles of the unit's activating contexts by context max).
    public var bin: Int?
    public var tokenIDs: [Int32]
    public var tokens: [String]
    public var activations: [Float]

    public init(
        role: ExampleRole, subset: ExampleSubset, context: Int, bin: Int? = nil,
        tokenIDs: [Int32], tokens: [String], activations: [Float]
    ) {
        self.role = role
        self.subset = subset
        self.context = context
        self.bin = bin
        self.tokenIDs = tokenIDs
        self.tokens = tokens
        self.activations = activations
    }

    /// The largest activation in the record (0 for an empty record).
    public var maxActivation: Float { activations.max() ?? 0 }
}

/// Equal-width histogram of a unit's positive activations over (0, max], plus the count of tokens <= 0.
public struct ActivationHistogram: Sendable, Equatable, Codable {
    /// Upper edge of the last bin (the unit's max activation); bins are `(i*max/n, (i+1)*max/n]`.
    public var max: Float
    /// Counts per bin, `counts.count` bins.
    public var counts: [Int]
    /// Tokens with activation <= 0.
    public var zeroCount: Int

    public init(max: Float, counts: [Int], zeroCount: Int) {
        self.max = max
        self.counts = counts
        self.zeroCount = zeroCount
    }
}

/// Streaming statistics of one unit over the dataset's real (unmasked) tokens.
public struct UnitStatistics: Sendable, Equatable, Codable {
    public var unit: UnitRef
    public var maxActivation: Float
    /// Share of counted tokens with activation > 0.
    public var density: Double
    /// Tokens counted (real, unmasked).
    public var tokenCount: Int
    public var histogram: ActivationHistogram

    public init(unit: UnitRef, maxActivation: Float, density: Double, tokenCount: Int, histogram: ActivationHistogram) {
        self.unit = unit
        self.maxActivation = maxActivation
        self.density = density
        self.tokenCount = tokenCount
        self.histogram = histogram
    }
}
