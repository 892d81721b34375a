import Foundation

/// Which tokens the fuzzing scorer sees highlighted, following EleutherAI delphi:
///
/// - an activating example's *activating tokens* are those at or above ``threshold`` × the
///   example's max activation;
/// - a seeded half of the activating examples (rounded down) show those tokens (label 1); the
///   other half show as many tokens picked at random among the example's non-activating ones
///   (label 0; an example with no such token keeps its true highlight and label 1);
/// - silent examples are included, each with ⌈mean number of firing tokens (> 0) per activating
///   example⌉ tokens picked at random (label 0), as delphi's default fuzzing does.
///
/// Deterministic for a unit (`seed`), so a resumed run highlights the same tokens.
public enum FuzzingPlan {
    /// Share of an example's max activation at which a token counts as activating (delphi's 0.3).
    public static let threshold: Float = 0.3

    /// The positions of the activating tokens of `activations` (none when it never fires).
    public static func activatingPositions(_ activations: [Float]) -> [Int] {
        let top = activations.max() ?? 0
        guard top > 0 else { return [] }
        return activations.indices.filter { activations[$0] >= threshold * top }
    }

    public static func items(_ examples: [StoredExample], seed: UInt64) -> [ClassificationItem] {
        var rng = SeededGenerator(seed: seed, stream: 13)
        let activating = examples.filter { $0.record.activations.contains { $0 > 0 } }
        let firing = activating.map { example in example.record.activations.count { $0 > 0 } }
        let silentCount = firing.isEmpty ? 1 : max(1, (firing.reduce(0, +) + firing.count - 1) / firing.count)
        var order = Array(activating.indices)
        order.shuffle(using: &rng)
        let falsified = Set(order.prefix(activating.count / 2).map { activating[$0].id })
        return examples.map { example in
            let activations = example.record.activations
            let truth = activatingPositions(activations)
            func random(_ count: Int, among pool: [Int]) -> [Int] {
                var pool = pool
                pool.shuffle(using: &rng)
                return Array(pool.prefix(count)).sorted()
            }
            if truth.isEmpty {
                let picked = random(silentCount, among: Array(activations.indices))
                return ClassificationItem(exampleID: example.id, label: 0, tokens: example.record.tokens, highlighted: picked)
            }
            let others = Set(activations.indices).subtracting(truth).sorted()
            if falsified.contains(example.id), !others.isEmpty {
                let picked = random(truth.count, among: others)
                return ClassificationItem(exampleID: example.id, label: 0, tokens: example.record.tokens, highlighted: picked)
            }
            return ClassificationItem(exampleID: example.id, label: 1, tokens: example.record.tokens, highlighted: truth)
        }
    }
}
