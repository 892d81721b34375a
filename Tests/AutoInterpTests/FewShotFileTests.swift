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

    /// The request hashes the run-time generator (`FewShot`, now removed) gave with today's templates:
    /// the checked-in files render byte-identical requests. A deliberate edit of `prompts/` updates them.
    static let generatedRequestHashes = [
        "bfee090d5353c7984e992764a80cca7d0c5fd341f531b0128dced1c917af6af2",
        "ac318d0ddc2d5a6e873d74bb345842c8e6b230a49db863ae738f90d17e922ddf",
        "37e362330f14337b3ca65cd6dc4a0b3a58ac47d1aed95d3d38839c971aa39c3c",
    ]

    @Test func requestsAreThoseOfTheFormerGenerator() throws {
        let prompts = try PromptSet(prompts: ScriptedRun.promptsFolder, rubric: ScriptedRun.rubricFile)
        #expect(try Self.requestHashes(prompts) == Self.generatedRequestHashes)
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

    @Test func fewShotExamplesComeFromThePlantedNumberConcept() throws {
        let prompts = try PromptSet(prompts: ScriptedRun.promptsFolder, rubric: ScriptedRun.rubricFile)
        let explainer = try #require(prompts.explainer.fewShot?.text)
        let records = Self.records(in: explainer)
        #expect(records.count == 3)
        let numbers = Set(SyntheticDataset.numbers)
        for (tokens, levels) in records {
            #expect(tokens.count == levels.count)
            for (token, level) in zip(tokens, levels) { #expect((level > 0) == numbers.contains(token), "\(token) \(level)") }
        }
        #expect(records.flatMap(\.levels).max() == 10)
        #expect(explainer.contains("Explanation: number words"))
        // Each simulator example answers in the format its parser reads.
        let first = try #require(records.first)
        let json = try #require(prompts.simulatorJSON.fewShot?.text)
        let answer = String(json[json.range(of: "Answer: ")!.upperBound...].prefix { $0 != "\n" })
        #expect(SimulationParser.parseJSON(answer, records: [first.tokens]) == [.predicted(first.levels.map(Double.init))])
        let logprobs = try #require(prompts.simulatorLogprobs.fewShot?.text)
        #expect(Self.records(in: String(logprobs[logprobs.range(of: "Answer:\n")!.upperBound...])).first?.levels == first.levels)
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
