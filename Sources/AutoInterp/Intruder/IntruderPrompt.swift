import Foundation

/// One question of the intruder scorer (Paulo & Belrose 2025): four activating contexts of one
/// decile group and one silent context (the unit is exactly 0 on every token), in a seeded order.
public struct IntruderPrompt: Sendable, Equatable {
    /// The prompt's index among the unit's (its decile group, 0 = the lowest deciles).
    public var index: Int
    /// The activation deciles (1...10) the activating contexts are drawn from.
    public var deciles: ClosedRange<Int>
    /// `examples.id` of the contexts, in the order shown.
    public var exampleIDs: [Int64]
    /// The contexts' tokens, in the order shown.
    public var contexts: [[String]]
    /// 1-based position of the silent context.
    public var intruder: Int

    public init(index: Int, deciles: ClosedRange<Int>, exampleIDs: [Int64], contexts: [[String]], intruder: Int) {
        self.index = index
        self.deciles = deciles
        self.exampleIDs = exampleIDs
        self.contexts = contexts
        self.intruder = intruder
    }

    /// The context at 1-based `position` as one line of text (newlines escaped).
    public func text(_ position: Int) -> String {
        TokenText.join(contexts[position - 1]).replacingOccurrences(of: "\n", with: " ")
    }
}

/// How an intruder question was answered: the position named, or why no answer could be read
/// (a failure, never a wrong answer).
public enum IntruderOutcome: Sendable, Equatable {
    case answered(Int)
    case failed(reason: String)
}

/// Names the intruder of each prompt. Implementations: ``LLMIntruderAnswerer``, ``LocalIntruderAnswerer``.
public protocol IntruderAnswerer: Sendable {
    /// One outcome per prompt, in order.
    func answer(_ prompts: [IntruderPrompt], for work: UnitWork) async throws -> [IntruderOutcome]
}

/// The prompts of a unit's `classify` examples: the activation deciles 1...10 split into
/// decile groups (``IntruderGroups``, three by default); per group, four of its activating contexts (seeded draw) and one
/// silent context (a different one per prompt), the five shuffled with the run's seed.
public enum IntruderPlan {
    /// Decile groups per unit (prompts per unit): 3 (deciles 1-3, 4-6, 7-10).
    public static let defaultGroups = 3
    /// Activating contexts per prompt (Paulo & Belrose: 4 + 1 intruder).
    public static let activatingPerPrompt = 4

    /// The decile ranges of `groups` groups over deciles 1...`deciles`.
    public static func ranges(groups: Int, deciles: Int = SelectionConfig.classifyDeciles) -> [ClosedRange<Int>] {
        let groups = max(1, min(groups, deciles))
        return (0..<groups).map { g in (g * deciles / groups + 1)...((g + 1) * deciles / groups) }
    }

    /// The prompts for `examples` (a unit's `classify` examples), deterministic for (seed, unit);
    /// a group with fewer than four activating contexts, or without a silent context left, has no
    /// prompt (its reason in `skipped`).
    public static func prompts(
        _ examples: [StoredExample], unit: UnitRef, seed: UInt64, groups: IntruderGroups = .default
    ) -> (prompts: [IntruderPrompt], skipped: [String]) {
        var rng = SeededGenerator(seed: seed, stream: ClassificationStageCore.seed(unit) &* 31 &+ 13)
        let activating = examples.filter { $0.record.subset == .activating && $0.record.activations.contains { $0 > 0 } }
        var silent = examples.filter { $0.record.subset == .silent && $0.record.activations.allSatisfy { $0 == 0 } }
        silent.shuffle(using: &rng)
        var prompts: [IntruderPrompt] = []
        var skipped: [String] = []
        for (index, range) in groups.ranges.enumerated() {
            var pool = activating.filter { range.contains($0.record.bin ?? 0) }
            guard pool.count >= activatingPerPrompt else {
                skipped.append("deciles \(range.lowerBound)-\(range.upperBound): \(pool.count) activating contexts, \(activatingPerPrompt) needed")
                continue
            }
            guard let intruder = silent.popLast() else {
                skipped.append("deciles \(range.lowerBound)-\(range.upperBound): no silent context left (the unit is exactly 0 in none)")
                continue
            }
            pool.shuffle(using: &rng)
            var shown = Array(pool.prefix(activatingPerPrompt)) + [intruder]
            shown.shuffle(using: &rng)
            let position = (shown.firstIndex { $0.id == intruder.id } ?? 0) + 1
            prompts.append(IntruderPrompt(
                index: index, deciles: range, exampleIDs: shown.map(\.id), contexts: shown.map(\.record.tokens), intruder: position))
        }
        return (prompts, skipped)
    }
}
