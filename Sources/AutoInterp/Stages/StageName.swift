import Foundation

/// The name of a per-unit stage, as written in `--stages` and logs (`explain`, `simulate`, …).
///
/// The built-in stages have static names; a new stage brings its own (`StageName("detection")`).
public struct StageName: StringName, Comparable, CustomStringConvertible {
    public var rawValue: String

    public init(rawValue: String) { self.rawValue = rawValue }
    public init(_ rawValue: String) { self.rawValue = rawValue }

    public var description: String { rawValue }

    public static let explain: StageName = "explain"
    public static let simulate: StageName = "simulate"
    public static let score: StageName = "score"
    public static let rubric: StageName = "rubric"
    public static let detection: StageName = "detection"
    public static let fuzzing: StageName = "fuzzing"

    /// The built-in stages in the order they run for a unit.
    public static let builtIn: [StageName] = [.explain, .simulate, .score, .rubric, .detection, .fuzzing]

    /// Orders by position among ``builtIn`` (other names after them, alphabetically).
    public static func < (a: Self, b: Self) -> Bool {
        let rank = { (name: StageName) in builtIn.firstIndex(of: name) ?? builtIn.count }
        return (rank(a), a.rawValue) < (rank(b), b.rawValue)
    }

    /// Parses `explain,simulate,score,rubric,detection,fuzzing` (any subset, any order) against the `known` names.
    public static func parse(_ text: String, known: [StageName] = builtIn) throws -> Set<StageName> {
        var stages: Set<StageName> = []
        let list = known.map(\.rawValue).joined(separator: ",")
        for part in text.split(separator: ",") {
            let name = StageName(part.trimmingCharacters(in: .whitespaces).lowercased())
            guard known.contains(name) else {
                throw AutoInterpError.invalidInput("unknown stage '\(name)' in --stages (use a comma-separated subset of \(list))")
            }
            stages.insert(name)
        }
        guard !stages.isEmpty else { throw AutoInterpError.invalidInput("--stages is empty (use e.g. \(list))") }
        return stages
    }
}
