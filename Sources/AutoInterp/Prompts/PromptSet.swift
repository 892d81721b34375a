import AutoInterpLLM
public import Foundation

/// The prompt and rubric files of a run, loaded at run time.
///
/// By default the templates come from the `prompts/` and `rubrics/` folders of the working
/// directory or of the checkout the executable was built in; `--prompts DIR` and `--rubric FILE`
/// swap them. Each of the explainer and simulator templates has its few-shot examples in a file
/// of its own (``fewShotExplainerFile``, …), used verbatim; a `--prompts` folder without one
/// uses the default folder's. The run records each file and its hash (``PromptSet/references``).
public struct PromptSet: Sendable, Equatable {
    /// Template file names inside a prompts folder.
    public static let explainerFile = "explainer.txt"
    public static let simulatorJSONFile = "simulator-json.txt"
    public static let simulatorLogprobsFile = "simulator-logprobs.txt"
    public static let simulatorSparseFile = "simulator-sparse.txt"
    /// Few-shot example file names inside a prompts folder: the text that fills `{{few_shot}}`.
    public static let fewShotExplainerFile = "few-shot-explainer.txt"
    public static let fewShotSimulatorJSONFile = "few-shot-simulator-json.txt"
    public static let fewShotSimulatorLogprobsFile = "few-shot-simulator-logprobs.txt"
    /// Rubric file name inside a rubrics folder.
    public static let rubricFile = "specificity.txt"

    public var explainer: PromptTemplate
    public var simulatorJSON: PromptTemplate
    public var simulatorLogprobs: PromptTemplate
    /// The default simulator: only the tokens expected to fire (``SparseAnswer``).
    public var simulatorSparse: PromptTemplate
    public var rubric: PromptTemplate
    /// The stages' own templates by role (``StageDescriptor/prompts``: `detection`, `fuzzing`, …).
    public var stageTemplates: [String: PromptTemplate]

    public init(
        explainer: PromptTemplate, simulatorJSON: PromptTemplate, simulatorLogprobs: PromptTemplate, simulatorSparse: PromptTemplate,
        rubric: PromptTemplate, stageTemplates: [String: PromptTemplate]
    ) {
        self.stageTemplates = stageTemplates
        self.explainer = explainer
        self.simulatorJSON = simulatorJSON
        self.simulatorLogprobs = simulatorLogprobs
        self.simulatorSparse = simulatorSparse
        self.rubric = rubric
    }

    /// Loads the templates from `prompts` (a folder) and the rubric from `rubric` (a file), with
    /// the stages' own prompt files (`roles`: by default every built-in stage's).
    ///
    /// - Throws: ``AutoInterpError`` naming the file that is missing or malformed.
    public init(prompts: URL, rubric: URL, roles: [PromptRole] = StageCatalog.builtIn.promptRoles) throws {
        explainer = try PromptTemplate(contentsOf: prompts.appendingPathComponent(Self.explainerFile))
        let explainerUses = Set(PromptTemplate.placeholders(in: explainer.system) + PromptTemplate.placeholders(in: explainer.user))
        guard explainerUses.contains("excerpts") || explainerUses.contains("records") else {
            throw AutoInterpError.invalidFile(
                explainer.file, "the template must contain the placeholder {{excerpts}} (or {{records}}, the one-line-per-token records)")
        }
        simulatorJSON = try PromptTemplate(
            contentsOf: prompts.appendingPathComponent(Self.simulatorJSONFile), required: ["explanation", "records"])
        simulatorLogprobs = try PromptTemplate(
            contentsOf: prompts.appendingPathComponent(Self.simulatorLogprobsFile), required: ["explanation", "records"])
        simulatorSparse = try PromptTemplate(
            contentsOf: prompts.appendingPathComponent(Self.simulatorSparseFile), required: ["explanation", "records"])
        self.rubric = try PromptTemplate(contentsOf: rubric, required: ["explanation", "excerpts"])
        var stageTemplates: [String: PromptTemplate] = [:]
        for role in roles {
            let template = try Self.template(role.file, in: prompts, required: role.required)
            _ = try template.render(Self.blank(role.placeholders))
            stageTemplates[role.role] = template
        }
        self.stageTemplates = stageTemplates
        explainer.fewShot = try Self.fewShot(Self.fewShotExplainerFile, in: prompts)
        simulatorJSON.fewShot = try Self.fewShot(Self.fewShotSimulatorJSONFile, in: prompts)
        simulatorLogprobs.fewShot = try Self.fewShot(Self.fewShotSimulatorLogprobsFile, in: prompts)
        // Refuse unknown placeholders now, before any call is made.
        _ = try explainer.render(Self.blank(Self.explainerPlaceholders))
        _ = try simulatorJSON.render(Self.blank(Self.simulatorPlaceholders))
        _ = try simulatorLogprobs.render(Self.blank(Self.simulatorPlaceholders))
        _ = try simulatorSparse.render(Self.blank(Self.sparseSimulatorPlaceholders))
        _ = try self.rubric.render(Self.blank(Self.rubricPlaceholders))
    }

    /// The placeholders each template may use.
    /// The explainer's: `excerpts` (the default, ``ExplainerPrompt/excerpts(for:)``) or the former
    /// `records` and `sparse`.
    public static let explainerPlaceholders = ["few_shot", "excerpts", "records", "sparse"]
    public static let simulatorPlaceholders = ["few_shot", "explanation", "records", "answer_shape"]
    public static let sparseSimulatorPlaceholders = ["explanation", "records", "token_count"]
    public static let rubricPlaceholders = ["explanation", "excerpts", "count"]

    /// The template `name` of `folder`, or of the default prompts folder when `folder` has none
    /// (a prompts folder copied before a stage existed still works).
    static func template(_ name: String, in folder: URL, required: [String]) throws -> PromptTemplate {
        let url = folder.appendingPathComponent(name)
        let fm = FileManager.default
        if !fm.fileExists(atPath: url.path), let fallback = try? defaultPromptsFolder().appendingPathComponent(name),
            fm.fileExists(atPath: fallback.path)
        {
            return try PromptTemplate(contentsOf: fallback, required: required)
        }
        return try PromptTemplate(contentsOf: url, required: required)
    }

    /// The few-shot file `name` of `folder`, or of the default prompts folder (``defaultPromptsFolder()``)
    /// when `folder` has none, so a prompts folder copied before the few-shot files existed still works.
    ///
    /// - Throws: ``AutoInterpError`` naming the file when neither folder has it or it cannot be read.
    static func fewShot(_ name: String, in folder: URL) throws -> PromptText {
        let url = folder.appendingPathComponent(name)
        let fm = FileManager.default
        if fm.fileExists(atPath: url.path) { return try PromptText(contentsOf: url) }
        if let fallback = try? defaultPromptsFolder().appendingPathComponent(name), fm.fileExists(atPath: fallback.path) {
            return try PromptText(contentsOf: fallback)
        }
        throw AutoInterpError.io(
            url.path, "no few-shot examples: copy \(name) from the repository's prompts/ folder into \(folder.path)")
    }

    private static func blank(_ names: [String]) -> [String: String] {
        Dictionary(uniqueKeysWithValues: names.map { ($0, "") })
    }

    /// Finds and loads the templates: `prompts` (or the default folder) and `rubric` (or `<prompts>/../rubrics/specificity.txt`).
    ///
    /// The default prompts folder is `./prompts` when it holds an explainer template, else the
    /// first `prompts/` found walking up from the executable (a build inside the checkout).
    public static func locate(prompts: URL?, rubric: URL?, roles: [PromptRole] = StageCatalog.builtIn.promptRoles) throws -> PromptSet {
        let folder = try prompts ?? defaultPromptsFolder()
        let rubricURL = rubric ?? folder.deletingLastPathComponent().appendingPathComponent("rubrics").appendingPathComponent(rubricFile)
        return try PromptSet(prompts: folder, rubric: rubricURL, roles: roles)
    }

    /// The template of a stage's prompt `role` (``StageDescriptor/prompts``).
    ///
    /// - Throws: ``AutoInterpError`` when the role was not loaded (a stage not in the catalogue the prompts were loaded for).
    public func template(for role: String) throws -> PromptTemplate {
        guard let template = stageTemplates[role] else {
            throw AutoInterpError.invalidInput("no '\(role)' prompt template was loaded: add its stage to the run's catalogue")
        }
        return template
    }

    /// The roles of the explainer, simulator and rubric files: a stored config without any other
    /// role (a stage added after the run was made) resumes.
    public static let coreRoles: Set<String> = [
        "explainer", "simulator-json", "simulator-logprobs", "simulator-sparse", "rubric",
        "few-shot-explainer", "few-shot-simulator-json", "few-shot-simulator-logprobs",
    ]

    /// The default prompts folder; see ``locate(prompts:rubric:)``.
    public static func defaultPromptsFolder() throws -> URL {
        let fm = FileManager.default
        let cwd = URL(fileURLWithPath: fm.currentDirectoryPath).appendingPathComponent("prompts")
        if fm.fileExists(atPath: cwd.appendingPathComponent(explainerFile).path) { return cwd }
        var folder = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().deletingLastPathComponent()
        while folder.path != "/" {
            let candidate = folder.appendingPathComponent("prompts")
            if fm.fileExists(atPath: candidate.appendingPathComponent(explainerFile).path) { return candidate }
            folder.deleteLastPathComponent()
        }
        throw AutoInterpError.invalidInput(
            "no prompt templates found in ./prompts or beside the executable: pass \(Setting.prompts) DIR (the repository's prompts/ folder)")
    }

    /// The simulator template of a resolved mode.
    public func simulator(for mode: SimulatorMode) -> PromptTemplate {
        switch mode {
        case .sparse: simulatorSparse
        case .json: simulatorJSON
        case .logprobs, .auto: simulatorLogprobs
        }
    }

    /// Every file used and its hash, keyed by role, as stored in the run config: the templates
    /// (`explainer`, `simulator-json`, `simulator-logprobs`, `simulator-sparse`, `rubric`, and
    /// each stage's role: `detection`, `fuzzing`, …) and the
    /// few-shot files (`few-shot-explainer`, `few-shot-simulator-json`, `few-shot-simulator-logprobs`).
    public var references: [String: PromptFileReference] {
        var references: [String: PromptFileReference] = [
            "explainer": .init(explainer), "simulator-json": .init(simulatorJSON),
            "simulator-logprobs": .init(simulatorLogprobs), "simulator-sparse": .init(simulatorSparse), "rubric": .init(rubric),
        ]
        for (role, template) in stageTemplates { references[role] = .init(template) }
        for (role, template) in [("explainer", explainer), ("simulator-json", simulatorJSON), ("simulator-logprobs", simulatorLogprobs)] {
            if let fewShot = template.fewShot { references["few-shot-" + role] = .init(fewShot) }
        }
        return references
    }
}

/// A template file and its hash, as recorded in the run config.
public struct PromptFileReference: Sendable, Equatable, Codable {
    public var file: String
    public var sha256: String

    public init(file: String, sha256: String) {
        self.file = file
        self.sha256 = sha256
    }

    /// The template's file name (not its folder, so a moved checkout is the same config) and hash.
    init(_ template: PromptTemplate) {
        self.init(file: URL(fileURLWithPath: template.file).lastPathComponent, sha256: template.sha256)
    }

    /// The text file's name (not its folder) and hash.
    init(_ text: PromptText) {
        self.init(file: URL(fileURLWithPath: text.file).lastPathComponent, sha256: text.sha256)
    }
}
