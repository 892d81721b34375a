import Foundation

/// A stage of `autointerp run`. Each unit goes explain → simulate → score → rubric; each stage
/// persists on its own (one transaction), and a rerun picks up what a unit still lacks.
public enum PipelineStage: String, Sendable, Codable, CaseIterable, Comparable {
    case explain
    case simulate
    case score
    case rubric

    public static func < (a: Self, b: Self) -> Bool { allCases.firstIndex(of: a)! < allCases.firstIndex(of: b)! }

    /// Parses `explain,simulate,score,rubric` (any subset, any order).
    public static func parse(_ text: String) throws -> Set<PipelineStage> {
        var stages: Set<PipelineStage> = []
        for part in text.split(separator: ",") {
            let name = part.trimmingCharacters(in: .whitespaces).lowercased()
            guard let stage = PipelineStage(rawValue: name) else {
                throw AutoInterpError.invalidInput(
                    "unknown stage '\(name)' in --stages (use a comma-separated subset of explain,simulate,score,rubric)")
            }
            stages.insert(stage)
        }
        guard !stages.isEmpty else { throw AutoInterpError.invalidInput("--stages is empty (use e.g. explain,simulate,score,rubric)") }
        return stages
    }
}
