import Foundation

/// The prompt and rubric files of a run, loaded at run time.
///
/// By default the templates come from the `prompts/` and `rubrics/` folders of the working
/// directory or of the checkout the executable was built in; `--prompts DIR` and `--rubric FILE`
/// swap them. The run records each file and its hash (``PromptSet/references``).
public struct PromptSet: Sendable, Equatable {
    /// Template file names inside a prompts folder.
    public static let explainerFile = "explainer.txt"
    public static let simulatorJSONFile = "simulator-json.txt"
    public static let simulatorLogprobsFile = "simulator-logprobs.txt"
    public static let simulatorSparseFile = "simulator-sparse.txt"
    /// Rubric file name inside a rubrics folder.
    public static let rubricFile = "specificity.txt"

    public var explainer: PromptTemplate
    public var simulatorJSON: PromptTemplate
    public var simulatorLogprobs: PromptTemplate
    /// The default simulator: only the tokens expected to fire (``SparseAnswer``).
    public var simulatorSparse: PromptTemplate
    public var rubric: PromptTemplate

    public init(
        explainer: PromptTemplate, simulatorJSON: PromptTemplate, simulatorLogprobs: PromptTemplate, simulatorSparse: PromptTemplate,
        rubric: PromptTemplate
    ) {
        self.explainer = explainer
        self.simulatorJSON = simulatorJSON
        self.simulatorLogprobs = simulatorLogprobs
        self.simulatorSparse = simulatorSparse
        self.rubric = rubric
    }

    /// Loads the templates from `prompts` (a folder) and the rubric from `rubric` (a file).
    ///
    /// - Throws: ``AutoInterpError`` naming the file that is missing or malformed.
    public init(prompts: URL, rubric: URL) throws {
        explainer = try PromptTemplate(contentsOf: prompts.appendingPathComponent(Self.explainerFile), required: ["records"])
        simulatorJSON = try PromptTemplate(
            contentsOf: prompts.appendingPathComponent(Self.simulatorJSONFile), required: ["explanation", "records"])
        simulatorLogprobs = try PromptTemplate(
            contentsOf: prompts.appendingPathComponent(Self.simulatorLogprobsFile), required: ["explanation", "records"])
        simulatorSparse = try PromptTemplate(
            contentsOf: prompts.appendingPathComponent(Self.simulatorSparseFile), required: ["explanation", "records"])
        self.rubric = try PromptTemplate(contentsOf: rubric, required: ["explanation", "excerpts"])
        // Refuse unknown placeholders now, before any call is made.
        _ = try explainer.render(Self.blank(Self.explainerPlaceholders))
        _ = try simulatorJSON.render(Self.blank(Self.simulatorPlaceholders))
        _ = try simulatorLogprobs.render(Self.blank(Self.simulatorPlaceholders))
        _ = try simulatorSparse.render(Self.blank(Self.sparseSimulatorPlaceholders))
        _ = try self.rubric.render(Self.blank(Self.rubricPlaceholders))
    }

    /// The placeholders each template may use.
    public static let explainerPlaceholders = ["few_shot", "records", "sparse"]
    public static let simulatorPlaceholders = ["few_shot", "explanation", "records", "answer_shape"]
    public static let sparseSimulatorPlaceholders = ["explanation", "records", "token_count"]
    public static let rubricPlaceholders = ["explanation", "excerpts", "count"]

    private static func blank(_ names: [String]) -> [String: String] {
        Dictionary(uniqueKeysWithValues: names.map { ($0, "") })
    }

    /// Finds and loads the templates: `prompts` (or the default folder) and `rubric` (or `<prompts>/../rubrics/specificity.txt`).
    ///
    /// The default prompts folder is `./prompts` when it holds an explainer template, else the
    /// first `prompts/` found walking up from the executable (a build inside the checkout).
    public static func locate(prompts: URL?, rubric: URL?) throws -> PromptSet {
        let folder = try prompts ?? defaultPromptsFolder()
        let rubricURL = rubric ?? folder.deletingLastPathComponent().appendingPathComponent("rubrics").appendingPathComponent(rubricFile)
        return try PromptSet(prompts: folder, rubric: rubricURL)
    }

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
            "no prompt templates found in ./prompts or beside the executable: pass --prompts DIR (the repository's prompts/ folder)")
    }

    /// The simulator template of a resolved mode.
    public func simulator(for mode: SimulatorMode) -> PromptTemplate {
        switch mode {
        case .sparse: simulatorSparse
        case .json: simulatorJSON
        case .logprobs, .auto: simulatorLogprobs
        }
    }

    /// Every file used and its hash, keyed by role, as stored in the run config.
    public var references: [String: PromptFileReference] {
        [
            "explainer": .init(explainer), "simulator-json": .init(simulatorJSON),
            "simulator-logprobs": .init(simulatorLogprobs), "simulator-sparse": .init(simulatorSparse), "rubric": .init(rubric),
        ]
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
}
