import AutoInterpLLM
import Foundation

/// Which stages a run does and with what: decided once, from the request and the stage
/// catalogue, before any work.
///
/// The endpoint policy lives here: the LLM explainer needs an endpoint; the local baseline runs
/// without one, leaving out the stages whose descriptor ``StageDescriptor/needsEndpoint`` (the
/// rubric; said in the summary), unless one was asked for by name, which is an error with the fix.
public struct StagePlan: Sendable {
    /// The built-in stages and the request's extra ones, in run order.
    public var catalog: StageCatalog
    /// The stages to run.
    public var requested: Set<StageName>
    /// The settings stored in the run config and compared on resume.
    public var settings: PipelineConfig
    /// The templates the LLM stages use (nil without an endpoint).
    public var prompts: PromptSet?
    /// How this invocation differs from the defaults, in words (for the summary).
    public var remarks: [String]
    /// The sentence-embedding model (``RunRequest/embedder``), loaded when a stage that needs it runs.
    package var embedder: SentenceEmbedder?

    /// Decides the plan for `request`.
    ///
    /// - Throws: ``AutoInterpError`` for options that cannot work together, or an endpoint that is missing or invalid.
    public init(_ request: RunRequest) throws {
        try request.validate()
        let catalog = try StageCatalog.builtIn.adding(request.extraStages)
        self.catalog = catalog
        var stages = request.stages ?? Set(catalog.defaultNames)
        if let unknown = stages.first(where: { catalog.descriptor($0) == nil }) {
            throw AutoInterpError.invalidOption(.stages, "unknown stage '\(unknown)' (use a comma-separated subset of \(catalog.list))")
        }
        remarks = []
        switch request.explainer {
        case .llm:
            guard let endpoint = request.endpoint else {
                throw AutoInterpError.invalidOption(
                    .endpoint, "the LLM explainer needs an endpoint: pass \(Setting.endpoint) and \(Setting.model) (or \(Setting.explainer) local)")
            }
            try endpoint.validate()
            let prompts = try PromptSet.locate(prompts: request.prompts, rubric: request.rubric, roles: catalog.promptRoles)
            self.prompts = prompts
            settings = PipelineConfig(
                endpoint: endpoint.endpointName, model: endpoint.model, simulatorModel: request.simulatorModel,
                judgeModel: request.judgeModel, simulatorMode: request.simulatorMode, recordsPerCall: request.recordsPerCall,
                explainerSamples: request.explainerSamples, prompts: prompts.references, controls: request.controls,
                classifyPerCall: request.classifyPerCall)
        case .local:
            guard request.explainerSamples == 1 else {
                throw AutoInterpError.invalidOption(
                    .explainerSamples, "applies to the LLM explainer; the local baseline is deterministic (drop the option)")
            }
            try request.baseline.validate()
            var references: [String: PromptFileReference] = [:]
            if let endpoint = request.endpoint {
                try endpoint.validate()
                let prompts = try PromptSet.locate(prompts: request.prompts, rubric: request.rubric, roles: catalog.promptRoles)
                self.prompts = prompts
                references["rubric"] = prompts.references["rubric"]
            } else {
                prompts = nil
                for descriptor in catalog.descriptors where descriptor.needsEndpoint && stages.contains(descriptor.name) {
                    guard request.stages == nil else {
                        let others = catalog.names.filter { $0 != descriptor.name && catalog.descriptor($0)?.needsEndpoint == false }
                        throw AutoInterpError.invalidOption(
                            .stages,
                            "the \(descriptor.name) stage needs an LLM judge: pass \(Setting.endpoint) and \(Setting.model), or leave \(descriptor.name) out of \(Setting.stages) (e.g. \(Setting.stages) \(others.map(\.rawValue).joined(separator: ",")))")
                    }
                    stages.remove(descriptor.name)
                    remarks.append("\(descriptor.name) stage skipped: it needs an LLM (pass \(Setting.endpoint) and \(Setting.model) to \(descriptor.help))")
                }
            }
            // Simulator mode and records per call do not apply: stored at their defaults so they never count as a change.
            settings = PipelineConfig(
                explainer: PatternExplainer.name, endpoint: request.endpoint?.endpointName ?? "none", model: PatternExplainer.model,
                simulatorModel: PatternExplainer.model, judgeModel: request.endpoint.map { request.judgeModel ?? $0.model } ?? "none",
                prompts: references, baseline: request.baseline, controls: request.controls)
        }
        settings.intruderGroups = request.intruderGroups == .default ? nil : request.intruderGroups
        embedder = nil
        for descriptor in catalog.descriptors
        where descriptor.needsEmbedder && stages.contains(descriptor.name) && request.embedder == nil {
            guard request.stages == nil else {
                throw AutoInterpError.invalidOption(
                    .embedder,
                    "the \(descriptor.name) stage needs a sentence-embedding model: pass \(Setting.embedder) DIR (a sentence-transformers folder such as all-MiniLM-L6-v2, which autointerp demo fetches), or leave \(descriptor.name) out of \(Setting.stages)")
            }
            stages.remove(descriptor.name)
            remarks.append("\(descriptor.name) stage skipped: it needs a sentence-embedding model (pass \(Setting.embedder) DIR to \(descriptor.help))")
        }
        if let folder = request.embedder, catalog.descriptors.contains(where: { $0.needsEmbedder && stages.contains($0.name) }) {
            let loaded = try SentenceEmbedder.load(directory: folder)
            embedder = loaded
            settings.embedder = loaded.identity
        }
        requested = stages.union(request.extraStages.map(\.name))
    }

    /// Every stage of the catalogue, built from the run's workers, in run order (requested or
    /// not: a stage's needs are looked up among them).
    ///
    /// - Throws: ``AutoInterpError`` when a stage's factory fails or builds a stage of another name.
    public func stages(_ context: StageContext) throws -> [any UnitStage] {
        try catalog.descriptors.map { descriptor in
            let stage = try descriptor.make(context)
            guard stage.name == descriptor.name else {
                throw AutoInterpError.invalidInput("the stage descriptor '\(descriptor.name)' built a stage named '\(stage.name)'")
            }
            return stage
        }
    }
}
