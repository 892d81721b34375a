import AutoInterpLLM
import Foundation

/// Which stages a run does and with what: decided once, from the request, before any work.
///
/// The endpoint policy lives here: the LLM explainer needs an endpoint; the local baseline runs
/// without one, leaving out the rubric (said in the summary), unless the rubric was asked for
/// by name, which is an error with the fix.
public struct StagePlan: Sendable {
    /// The stages to run (built-in names plus the extra stages').
    public var requested: Set<StageName>
    /// The settings stored in the run config and compared on resume.
    public var settings: PipelineConfig
    /// The templates the LLM stages use (nil without an endpoint).
    public var prompts: PromptSet?
    /// How this invocation differs from the defaults, in words (for the summary).
    public var remarks: [String]

    /// Decides the plan for `request`.
    ///
    /// - Throws: ``AutoInterpError`` for options that cannot work together, or an endpoint that is missing or invalid.
    public init(_ request: RunRequest) throws {
        try request.validate()
        var stages = request.stages ?? Set(StageName.builtIn)
        remarks = []
        switch request.explainer {
        case .llm:
            guard let endpoint = request.endpoint else {
                throw AutoInterpError.invalidInput("the LLM explainer needs an endpoint: pass --endpoint and --model (or --explainer local)")
            }
            try endpoint.validate()
            let prompts = try PromptSet.locate(prompts: request.prompts, rubric: request.rubric)
            self.prompts = prompts
            settings = PipelineConfig(
                endpoint: endpoint.endpointName, model: endpoint.model, simulatorModel: request.simulatorModel,
                judgeModel: request.judgeModel, simulatorMode: request.simulatorMode, recordsPerCall: request.recordsPerCall,
                explainerSamples: request.explainerSamples, prompts: prompts.references)
        case .local:
            guard request.explainerSamples == 1 else {
                throw AutoInterpError.invalidInput("--explainer-samples applies to the LLM explainer; the local baseline is deterministic (drop the option)")
            }
            try request.baseline.validate()
            var references: [String: PromptFileReference] = [:]
            if let endpoint = request.endpoint {
                try endpoint.validate()
                let prompts = try PromptSet.locate(prompts: request.prompts, rubric: request.rubric)
                self.prompts = prompts
                references["rubric"] = prompts.references["rubric"]
            } else {
                prompts = nil
                if stages.contains(.rubric) {
                    guard request.stages == nil else {
                        throw AutoInterpError.invalidInput("the rubric stage needs an LLM judge: pass --endpoint and --model, or leave rubric out of --stages (e.g. --stages explain,simulate,score,detection,fuzzing)")
                    }
                    stages.remove(.rubric)
                    remarks.append("rubric stage skipped: it needs an LLM judge (pass --endpoint and --model to rate explanations)")
                }
            }
            // Simulator mode and records per call do not apply: stored at their defaults so they never count as a change.
            settings = PipelineConfig(
                explainer: PatternExplainer.name, endpoint: request.endpoint?.endpointName ?? "none", model: PatternExplainer.model,
                simulatorModel: PatternExplainer.model, judgeModel: request.endpoint.map { request.judgeModel ?? $0.model } ?? "none",
                prompts: references, baseline: request.baseline)
        }
        requested = stages.union(request.extraStages.map(\.name))
    }

    /// The stage list of a run, in order: explain, simulate, score, rubric, detection, fuzzing, then `extra`.
    ///
    /// - Parameters:
    ///   - simulator: the LLM simulator (LLM runs); nil uses the pattern baseline's, made per unit.
    ///   - judge: the rubric judge (an ``LLMRubricJudge``, or ``NoJudge`` without an endpoint).
    ///   - classifier: the detection and fuzzing scorers by scorer (LLM runs: ``LLMClassifier``s);
    ///     nil uses the pattern baseline's (``PatternClassifier``), made per unit.
    public func stages(
        explainer: any UnitExplainer, simulator: (any ActivationSimulator)?, judge: any RubricJudge,
        classifier: (@Sendable (StoredClassification.Scorer) -> any UnitClassifier)? = nil, extra: [any UnitStage]
    ) -> [any UnitStage] {
        let simulatorFor: @Sendable (UnitWork) throws -> any ActivationSimulator
        let classifierFor: @Sendable (StoredClassification.Scorer, UnitWork) throws -> any UnitClassifier
        let patterns = PatternExplainer(parameters: settings.baseline ?? PatternSet.Parameters())
        // The pattern simulator and classifier belong to their unit: re-derived (deterministically)
        // from the unit's explanation examples, so a resumed run simulates what its explanation
        // says. A control uses its donor's patterns: the explanation is the donor's text.
        let unitPatterns: @Sendable (UnitWork) throws -> PatternSet = { work in
            var source = work.unit.id
            if let donor = work.progress.explanation?.controlOf {
                guard let donorUnit = try work.store.explanation(id: donor)?.unitID else {
                    throw StageFailure("the donor explanation \(donor) of the control of \(work.unit.unit) is missing from \(work.store.path)")
                }
                source = donorUnit
            }
            return patterns.patterns(from: try work.store.examples(unitID: source, role: .explain, subset: .top))
        }
        if let simulator {
            simulatorFor = { _ in simulator }
        } else {
            simulatorFor = { work in PatternSimulator(patterns: try unitPatterns(work)) }
        }
        if let classifier {
            classifierFor = { scorer, _ in classifier(scorer) }
        } else {
            classifierFor = { _, work in PatternClassifier(patterns: try unitPatterns(work)) }
        }
        let bestOf = ExplainStage.BestOf(
            samples: settings.explainerSamples, simulatorFor: simulatorFor, storesScores: requested.contains(.score))
        return [
            ExplainStage(explainer: explainer, bestOf: requested.contains(.simulate) ? bestOf : nil),
            SimulateStage(simulatorFor: simulatorFor),
            ScoreStage(),
            RubricStage(judge: judge),
            DetectionStage(classifierFor: { try classifierFor(.detection, $0) }),
            FuzzingStage(classifierFor: { try classifierFor(.fuzzing, $0) }),
        ] + extra
    }
}
