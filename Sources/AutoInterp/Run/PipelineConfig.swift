public import AutoInterpLLM
import Foundation

/// The settings of `autointerp run` that change its results, stored in the run config
/// (`runs.config_json`, key `pipeline`) and compared on resume.
///
/// Stages to run, concurrency, rate limits, timeouts, prices and the cache switch are not here:
/// changing them never changes what a finished run holds.
public struct PipelineConfig: Sendable, Equatable, Codable {
    /// `llm` (``LLMExplainer``/``LLMSimulator``/``LLMRubricJudge``), or the name of another
    /// implementation (`local-n2g`: ``PatternExplainer``/``PatternSimulator``).
    public var explainer: String
    /// The endpoint (base URL without credentials).
    public var endpoint: String
    /// The explainer's model, the simulator's and the judge's.
    public var model: String
    public var simulatorModel: String
    public var judgeModel: String
    /// The simulator mode as requested (`auto` is resolved per endpoint at run time; each
    /// simulation row records the mode used).
    public var simulatorMode: SimulatorMode
    /// Records sent to the simulator per call.
    public var recordsPerCall: Int
    /// Explanations sampled per unit; the one with the best Spearman (all) is kept.
    public var explainerSamples: Int
    /// Template, few-shot and rubric files by role (`explainer`, `simulator-json`, `simulator-logprobs`, `rubric`,
    /// `few-shot-explainer`, `few-shot-simulator-json`, `few-shot-simulator-logprobs`).
    public var prompts: [String: PromptFileReference]
    /// The local baseline's settings (`explainer` = `local-n2g`); nil, and left out of the JSON, for LLM runs.
    public var baseline: PatternSet.Parameters?
    /// Which units the control pass scores (`--controls`); nil only in runs stored before the
    /// setting existed (left out of the JSON then; such a run resumes with any setting).
    public var controls: ControlSample?
    /// Examples per detection / fuzzing call of the LLM classifier (``LLMClassifier/batchSize``);
    /// nil for the local baseline and in runs stored before the setting existed (left out of the
    /// JSON then; such a run resumes with any value, and asks only its missing examples with it).
    public var classifyPerCall: Int?
    /// The embedding scorer's model: its `_name_or_path` (else its folder's name) and a fingerprint
    /// of its weights (``SentenceEmbedder/identity``); nil, and left
    /// out of the JSON, when the run has none. Adding or dropping it is not a change (the stage
    /// is added or skipped); another model is.
    public var embedder: String?
    /// The intruder scorer's decile groups (`--intruder-groups`); nil, and left out of the JSON,
    /// for the default three (so a run made before the option resumes unchanged); another value is a change.
    public var intruderGroups: IntruderGroups?

    public init(
        explainer: String = "llm", endpoint: String, model: String, simulatorModel: String? = nil, judgeModel: String? = nil,
        simulatorMode: SimulatorMode = .sparse, recordsPerCall: Int = LLMSimulator.defaultRecordsPerCall, explainerSamples: Int = 1,
        prompts: [String: PromptFileReference], baseline: PatternSet.Parameters? = nil, controls: ControlSample? = .default,
        classifyPerCall: Int? = nil
    ) {
        self.explainer = explainer
        self.endpoint = endpoint
        self.model = model
        self.simulatorModel = simulatorModel ?? model
        self.judgeModel = judgeModel ?? model
        self.simulatorMode = simulatorMode
        self.recordsPerCall = recordsPerCall
        self.explainerSamples = explainerSamples
        self.prompts = prompts
        self.baseline = baseline
        self.controls = controls
        self.classifyPerCall = classifyPerCall
    }

    /// ``differences(from:)`` with the two values beside each setting that is a number, a flag or
    /// a string: `records per call (stored 5, asked 10)`, so a user can resume with the stored one.
    public func describedDifferences(from other: PipelineConfig) -> [String] {
        let mine = (try? JSONFields.object(self)) ?? [:], theirs = (try? JSONFields.object(other)) ?? [:]
        let keys = Dictionary(Set(mine.keys).union(theirs.keys).map { (JSONFields.words($0), $0) }, uniquingKeysWith: { a, _ in a })
        return differences(from: other).map { name in
            guard let key = keys[name], let asked = Self.scalar(mine[key]), let stored = Self.scalar(theirs[key]) else { return name }
            return "\(name) (stored \(stored), asked \(asked))"
        }
    }

    private static func scalar(_ value: Any?) -> String? {
        switch value {
        case let number as NSNumber: "\(number)"
        case let text as String: text
        default: nil
        }
    }

    /// Examples per detection and fuzzing call; a config stored before the setting was recorded
    /// (which asked 5) reads as 5.
    public var examplesPerClassifyCall: Int { classifyPerCall ?? 5 }

    /// Names of the settings that differ from `other`, in words (for the "config changed"
    /// message); every field is compared, so a new setting needs no entry here.
    public func differences(from other: PipelineConfig) -> [String] {
        var mine = (try? JSONFields.object(self)) ?? [:], theirs = (try? JSONFields.object(other)) ?? [:]
        mine["prompts"] = nil
        theirs["prompts"] = nil
        // A run stored before `controls` existed resumes with any setting (its controls are kept).
        if theirs["controls"] == nil { mine["controls"] = nil }
        if theirs["classifyPerCall"] == nil { mine["classifyPerCall"] = nil }
        if embedder == nil || other.embedder == nil {
            mine["embedder"] = nil
            theirs["embedder"] = nil
        }
        var names = Set(JSONFields.differences(mine, theirs).map { $0.split(separator: ".").first.map(String.init) ?? $0 })
            .sorted()
            .map { $0 == "baseline" ? "baseline settings" : JSONFields.words($0) }
        // A stage's template added after `other` was stored (a run made before that stage existed) is not a change.
        for role in Set(prompts.keys).union(other.prompts.keys).sorted()
        where prompts[role] != other.prompts[role] && !(other.prompts[role] == nil && !PromptSet.coreRoles.contains(role)) {
            names.append("\(role) template (\(prompts[role]?.file ?? other.prompts[role]?.file ?? role))")
        }
        return names
    }
}

/// The endpoint capabilities a run was started with: what the endpoint was found to serve at the
/// first successful probe, pinned for the run's life (a resumed run uses it, and refuses to go
/// on if the endpoint no longer serves it). Run state, not identity: ``RunStore/capabilities(runID:)``.
public struct PinnedCapabilities: Sendable, Equatable, Codable {
    /// The simulator mode resolved from the requested one (`auto` becomes `logprobs` or `json`).
    public var simulatorMode: SimulatorMode
    /// `top_logprobs` asked for in logprob mode.
    public var topLogprobs: Int
    /// How the sparse simulator's and the judge's answers are constrained.
    public var structuredOutput: StructuredOutputLevel
    /// The most choices one explainer call gave (`n`, best-of-K), once a call found fewer than it
    /// asked; nil while none did (absent in runs pinned before).
    public var choicesPerCall: Int?

    public init(simulatorMode: SimulatorMode, topLogprobs: Int, structuredOutput: StructuredOutputLevel, choicesPerCall: Int? = nil) {
        self.simulatorMode = simulatorMode
        self.topLogprobs = topLogprobs
        self.structuredOutput = structuredOutput
        self.choicesPerCall = choicesPerCall
    }
}
