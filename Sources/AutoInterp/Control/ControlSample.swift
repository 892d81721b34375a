import Foundation

/// How many units the control pass scores (`--controls all|N|none`): every explained unit, a
/// seeded sample of at most `N` explained units per kind, or none (no control pass).
///
/// The floor is one number per scorer (the median over the controls of both kinds), so it
/// needs far fewer units than the headline: with 50 controls per kind (100 pooled) the 95 %
/// interval of the floor's median is about ±1.96 · 1.25 σ / √100 ≈ ±0.25 σ wide: ±0.03 or less
/// for a scorer whose controls spread σ ≤ 0.12 (the balanced accuracies, σ 0.02-0.16 on the
/// built-in example), about ±0.06 for the simulation floor there (σ 0.23-0.32; see the README),
/// while scoring a control for every unit doubles the scoring cost of a run of hundreds of units.
/// The reports print each floor's own interval. Stored in the run config (`pipeline.controls`): a
/// different setting is a config change; a run stored before the setting existed resumes with any.
public enum ControlSample: Sendable, Equatable, Hashable, Codable, CustomStringConvertible {
    case all
    /// At most this many explained units per kind (all when fewer), chosen by a seeded hash.
    case perKind(Int)
    case none

    /// The default sample size per kind.
    public static let defaultPerKind = 50
    /// At most ``defaultPerKind`` per kind.
    public static let `default` = ControlSample.perKind(defaultPerKind)

    /// `all`, `none`, or a positive count per kind.
    ///
    /// - Throws: `AutoInterpError.invalidOption(.controls, …)` for anything else.
    public init(parsing text: String) throws {
        let trimmed = text.trimmingCharacters(in: .whitespaces).lowercased()
        switch trimmed {
        case "all": self = .all
        case "none": self = .none
        default:
            guard let count = Int(trimmed), count > 0 else {
                throw AutoInterpError.invalidOption(
                    .controls, "must be all, none or a positive number of units per kind (e.g. 50), got '\(text)'")
            }
            self = .perKind(count)
        }
    }

    /// `all`, `none` or the count per kind, as typed.
    public var description: String {
        switch self {
        case .all: "all"
        case .none: "none"
        case .perKind(let count): String(count)
        }
    }

    /// In words, for the summary and the reports.
    public var words: String {
        switch self {
        case .all: "every explained unit"
        case .none: "none"
        case .perKind(let count): "a seeded sample of at most \(count) explained units per kind"
        }
    }

    /// The most units of one kind that get a control; nil = all of them.
    public var limit: Int? {
        switch self {
        case .all: nil
        case .none: 0
        case .perKind(let count): count
        }
    }

    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        do {
            try self.init(parsing: text)
        } catch {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "controls: '\(text)'"))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }

    /// Which of `units` (one kind's, sorted) get a control: the `limit` with the smallest seeded
    /// hash, so the same seed and units give the same sample, and a unit explained later joins it
    /// only when its own hash is among the smallest (the others stay).
    func chosen(_ units: [UnitRef], seed: UInt64) -> [UnitRef] {
        guard let limit else { return units }
        guard limit < units.count else { return units }
        func rank(_ unit: UnitRef) -> UInt64 {
            var rng = SeededGenerator(seed: seed, stream: ControlAssignment.stream(unit.kind) ^ UInt64(truncatingIfNeeded: unit.index))
            return rng.next()
        }
        return units.map { (unit: $0, rank: rank($0)) }.sorted { ($0.rank, $0.unit) < ($1.rank, $1.unit) }
            .prefix(limit).map(\.unit).sorted()
    }
}
