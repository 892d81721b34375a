import AutoInterpLLM
import AutoInterpTestSupport
import Foundation
import Logging
import Testing

@testable import AutoInterp

/// The few-shot examples are checked-in files under `prompts/`, loaded with the templates.
struct FewShotFileTests {
    static func client() throws -> LLMClient {
        var logger = Logger(label: "test.few-shot")
        logger.logLevel = .critical
        return try LLMClient(
            config: LLMEndpointConfig(baseURL: "http://127.0.0.1:9", model: "m", apiKeyEnv: "AUTOINTERP_TEST_NO_KEY"),
            store: InMemoryResponseStore(), logger: logger)
    }

    static let examples = [
        ExampleRecord(role: .explain, subset: .top, context: 0, tokenIDs: [0, 1, 2], tokens: ["the", "owl", "sees"], activations: [0, 3, 0.2]),
        ExampleRecord(role: .explain, subset: .top, context: 1, tokenIDs: [0, 1], tokens: ["red", "fox"], activations: [0, 2.5]),
    ]
    static let records = [["the", "owl", "sees"], ["red", "fox", "\n"]]

    /// The SHA-256 of each request body (explainer, JSON simulator, logprob simulator) for the fixed inputs above.
    static func requestHashes(_ prompts: PromptSet) throws -> [String] {
        let client = try client()
        let explainer = LLMExplainer(client: client, template: prompts.explainer)
        let json = LLMSimulator(client: client, template: prompts.simulatorJSON, mode: .json)
        let logprobs = LLMSimulator(client: client, template: prompts.simulatorLogprobs, mode: .logprobs)
        return [
            try explainer.request(examples: Self.examples, sample: 0).canonicalBody(),
            try json.request(explanation: "animal words", records: Self.records).canonicalBody(),
            try logprobs.request(explanation: "animal words", records: Self.records).canonicalBody(),
        ].map(SHA256.hex)
    }

    /// The request hashes of the checked-in few-shot files ("units of time", written by the former
    /// run-time generator's formatting code) with today's templates: any change to what the
    /// prompts send shows here. A deliberate edit of `prompts/` updates them.
    static let generatedRequestHashes = [
        "c8f551c6ff920a8e39cbd71b033605e76073650a75ba19310e2b1a9f936328a9",
        "c2cb8f9879d03b843d8249d9d7d0f980ee742ce788ab2aa3d9eec2995972d3f5",
        "289e8dd6764408face2bec8f770420a83e88f26656c4357886a60b395488d511",
    ]

    @Test func requestsAreThoseOfTheCheckedInFiles() throws {
        let prompts = try PromptSet(prompts: ScriptedRun.promptsFolder, rubric: ScriptedRun.rubricFile)
        let hashes = try Self.requestHashes(prompts)
        #expect(hashes == Self.generatedRequestHashes, "\(hashes)")
    }

    /// The `<excerpt N>` blocks of `text` with `token<TAB>level` lines, as tokens and levels.
    static func records(in text: String) -> [(tokens: [String], levels: [Int])] {
        var records: [(tokens: [String], levels: [Int])] = []
        var current: (tokens: [String], levels: [Int])?
        for line in text.split(separator: "\n") {
            if RecordFormat.openTagNumber(line) != nil {
                current = ([], [])
            } else if line == RecordFormat.closeTag {
                if let current { records.append(current) }
                current = nil
            } else if current != nil, let tab = line.lastIndex(of: "\t"), let level = Int(line[line.index(after: tab)...]) {
                current?.tokens.append(String(line[..<tab]))
                current?.levels.append(level)
            }
        }
        return records
    }

    @Test func editedFewShotFileIsAConfigChangeAndMissingOnesFallBack() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let folder = try PromptTests.copiedTemplates(in: dir)
        let repository = try PromptSet(prompts: ScriptedRun.promptsFolder, rubric: ScriptedRun.rubricFile)
        // No few-shot files in the folder: the default folder's are used, and recorded alike.
        let copied = try PromptSet(prompts: folder, rubric: ScriptedRun.rubricFile)
        #expect(copied.references == repository.references)
        #expect(copied.explainer.fewShot?.file == ScriptedRun.promptsFolder.appendingPathComponent(PromptSet.fewShotExplainerFile).standardizedFileURL.path)
        // An edited few-shot file is a different config, named by its file.
        let edited = (repository.explainer.fewShot?.text ?? "").replacingOccurrences(of: "units of time", with: "words for durations")
        try edited.write(to: folder.appendingPathComponent(PromptSet.fewShotExplainerFile), atomically: true, encoding: .utf8)
        let changed = try PromptSet(prompts: folder, rubric: ScriptedRun.rubricFile)
        #expect(changed.explainer.fewShot?.text == edited)
        let before = PipelineConfig(endpoint: "e", model: "m", prompts: repository.references)
        let after = PipelineConfig(endpoint: "e", model: "m", prompts: changed.references)
        #expect(after.differences(from: before) == ["few-shot-explainer template (few-shot-explainer.txt)"])
        let request = try LLMExplainer(client: try Self.client(), template: changed.explainer).request(examples: Self.examples, sample: 0)
        #expect(request.messages[1].content.contains("Explanation: words for durations"))
    }
}
