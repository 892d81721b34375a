import Foundation

/// Which unit lends its explanation to which as a *control* (the random-explanation floor).
///
/// Within each kind, the explained units (by index) are permuted by a seeded derangement: every
/// unit gets another unit's explanation, never its own, never one of the other kind, and the
/// same seed and units give the same assignment. The derangement is Sattolo's shuffle (a
/// uniformly random single cycle), so for two or more units no unit maps to itself. A kind with
/// a single explained unit has nobody to borrow from: it gets no control, and the reason is
/// reported. With a ``ControlSample`` limit, the derangement is still drawn over every explained
/// unit of the kind (so a unit's donor does not depend on the sample), and only the sampled
/// units get their control.
public enum ControlAssignment {
    /// The assignment for one set of units.
    public struct Assignment: Sendable, Equatable {
        /// The donor of each unit that gets a control.
        public var donors: [UnitRef: UnitRef]
        /// Kinds that get no control, with the reason.
        public var skipped: [UnitKind: String]
        /// Per kind: explained units, and how many of them get a control (the sample).
        public var explained: [UnitKind: Int] = [:]
        public var sampled: [UnitKind: Int] = [:]
    }

    /// A permutation `p` of `0..<count` with `p[i] != i` for every `i` (empty for `count < 2`).
    ///
    /// Deterministic in (`seed`, `stream`).
    public static func derangement(count: Int, seed: UInt64, stream: UInt64) -> [Int] {
        guard count >= 2 else { return [] }
        var permutation = Array(0..<count)
        var rng = SeededGenerator(seed: seed, stream: stream)
        // Sattolo: swap position i with one strictly before it, from the end down.
        for i in stride(from: count - 1, to: 0, by: -1) {
            let j = Int.random(in: 0..<i, using: &rng)
            permutation.swapAt(i, j)
        }
        return permutation
    }

    /// The stream of the seeded generator for one kind (independent of the other kind's units).
    static func stream(_ kind: UnitKind) -> UInt64 {
        switch kind {
        case .feature: 0x636F_6E74_726F_6C01  // "control" + kind
        case .neuron: 0x636F_6E74_726F_6C02
        case .negativeNeuron: 0x636F_6E74_726F_6C03
        }
    }

    /// Donors for `units` (the units with a usable explanation), drawn with `seed` (the run's
    /// selection seed), for the units of `sample`.
    public static func donors(for units: [UnitRef], seed: UInt64, sample: ControlSample = .all) -> Assignment {
        var assignment = Assignment(donors: [:], skipped: [:])
        for kind in UnitKind.allCases {
            let ofKind = Array(Set(units.filter { $0.kind == kind })).sorted()
            if !ofKind.isEmpty { assignment.explained[kind] = ofKind.count }
            guard sample != .none else { continue }
            guard ofKind.count >= 2 else {
                if ofKind.count == 1 {
                    assignment.skipped[kind] =
                        "only one \(kind.label) (\(ofKind[0])) has an explanation, so no other \(kind.label) can lend it a control"
                }
                continue
            }
            let permutation = derangement(count: ofKind.count, seed: seed, stream: stream(kind))
            let chosen = Set(sample.chosen(ofKind, seed: seed))
            for (i, unit) in ofKind.enumerated() where chosen.contains(unit) { assignment.donors[unit] = ofKind[permutation[i]] }
            assignment.sampled[kind] = chosen.count
        }
        return assignment
    }
}
