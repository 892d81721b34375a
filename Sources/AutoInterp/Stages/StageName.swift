import Foundation

/// The name of a per-unit stage, as written in `--stages` and logs (`explain`, `simulate`, …).
///
/// The built-in stages have static names; a new stage brings its own (`StageName("embedding")`)
/// with its ``StageDescriptor`` in the ``StageCatalog``.
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

    /// Orders by position in ``StageCatalog/builtIn`` (other names after them, alphabetically).
    public static func < (a: Self, b: Self) -> Bool {
        let order = StageCatalog.builtIn.names
        let rank = { (name: StageName) in order.firstIndex(of: name) ?? order.count }
        return (rank(a), a.rawValue) < (rank(b), b.rawValue)
    }
}
