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

    @Test func fewShotFilesAreTheGeneratorsOutput() throws {
        let prompts = try PromptSet(prompts: ScriptedRun.promptsFolder, rubric: ScriptedRun.rubricFile)
        #expect(prompts.explainer.fewShot?.text == FewShot.explainer)
        #expect(prompts.simulatorJSON.fewShot?.text == FewShot.simulatorJSON)
        #expect(prompts.simulatorLogprobs.fewShot?.text == FewShot.simulatorLogprobs)
        var generated = prompts
        generated.explainer.fewShot = PromptText(text: FewShot.explainer, file: "generated")
        generated.simulatorJSON.fewShot = PromptText(text: FewShot.simulatorJSON, file: "generated")
        generated.simulatorLogprobs.fewShot = PromptText(text: FewShot.simulatorLogprobs, file: "generated")
        let hashes = try Self.requestHashes(prompts)
        #expect(hashes == (try Self.requestHashes(generated)))
        print("request hashes: \(hashes)")
    }

    @Test func editedFewShotFileIsAConfigChangeAndMissingOnesFallBack() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let folder = dir.path("prompts")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        for name in [PromptSet.explainerFile, PromptSet.simulatorJSONFile, PromptSet.simulatorLogprobsFile] {
            try FileManager.default.copyItem(at: ScriptedRun.promptsFolder.appendingPathComponent(name), to: folder.appendingPathComponent(name))
        }
        let repository = try PromptSet(prompts: ScriptedRun.promptsFolder, rubric: ScriptedRun.rubricFile)
        // No few-shot files in the folder: the default folder's are used, and recorded alike.
        let copied = try PromptSet(prompts: folder, rubric: ScriptedRun.rubricFile)
        #expect(copied.references == repository.references)
        #expect(copied.explainer.fewShot?.file == ScriptedRun.promptsFolder.appendingPathComponent(PromptSet.fewShotExplainerFile).standardizedFileURL.path)
        // An edited few-shot file is a different config, named by its file.
        let edited = (repository.explainer.fewShot?.text ?? "").replacingOccurrences(of: "number words", with: "counting words")
        try edited.write(to: folder.appendingPathComponent(PromptSet.fewShotExplainerFile), atomically: true, encoding: .utf8)
        let changed = try PromptSet(prompts: folder, rubric: ScriptedRun.rubricFile)
        #expect(changed.explainer.fewShot?.text == edited)
        let before = PipelineConfig(endpoint: "e", model: "m", prompts: repository.references)
        let after = PipelineConfig(endpoint: "e", model: "m", prompts: changed.references)
        #expect(after.differences(from: before) == ["few-shot-explainer template (few-shot-explainer.txt)"])
        let request = try LLMExplainer(client: try Self.client(), template: changed.explainer).request(examples: Self.examples, sample: 0)
        #expect(request.messages[1].content.contains("Explanation: counting words"))
    }
}
