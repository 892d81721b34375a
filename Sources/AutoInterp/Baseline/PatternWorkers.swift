import Foundation

/// The pattern baseline's per-unit workers: its simulator and classifier belong to their unit,
/// re-derived (deterministically) from the unit's explanation examples, so a resumed run
/// simulates what its explanation says. A control uses its donor's patterns: the explanation
/// is the donor's text. An audit variant uses the unit's patterns varied as its row says
/// (``PatternSet/variant(_:records:)``).
struct PatternWorkers: Sendable {
    let explainer: PatternExplainer

    init(parameters: PatternSet.Parameters) {
        explainer = PatternExplainer(parameters: parameters)
    }

    /// The patterns behind the explanation of `work` (the unit's own, or a control's donor's).
    func patterns(_ work: UnitWork) throws -> PatternSet {
        var source = work.unit.id
        if let donor = work.progress.explanation?.controlOf {
            guard let donorUnit = try work.store.explanation(id: donor)?.unitID else {
                throw StageFailure("the donor explanation \(donor) of the control of \(work.unit.unit) is missing from \(work.store.path)")
            }
            source = donorUnit
        }
        let examples = try work.store.examples(unitID: source, role: .explain, subset: .top)
        let patterns = explainer.patterns(from: examples)
        guard let variant = work.progress.explanation?.auditVariant else { return patterns }
        guard let varied = patterns.variant(variant, records: examples.map(\.tokens)) else {
            throw StageFailure("the \(variant) audit variant of \(work.unit.unit) cannot be re-derived from its patterns")
        }
        return varied
    }

    var simulatorFor: @Sendable (UnitWork) throws -> any ActivationSimulator {
        { [self] work in PatternSimulator(patterns: try patterns(work)) }
    }

    var classifierFor: @Sendable (StoredClassification.Scorer, UnitWork) throws -> any UnitClassifier {
        { [self] _, work in PatternClassifier(patterns: try patterns(work)) }
    }
}
