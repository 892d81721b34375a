import AutoInterpLLM
import AutoInterpTestSupport
import Foundation
import Testing

@testable import AutoInterp

/// Prompt templates as files, token display, explainer records (few-shot files: ``FewShotFileTests``).
struct PromptTests {
    @Test func repositoryTemplatesLoadAndAreHashed() throws {
        let prompts = try PromptSet(prompts: ScriptedRun.promptsFolder, rubric: ScriptedRun.rubricFile)
        let data = try Data(contentsOf: ScriptedRun.promptsFolder.appendingPathComponent("explainer.txt"))
        #expect(prompts.explainer.sha256 == SHA256.hex(data))
        #expect(prompts.references["explainer"] == PromptFileReference(file: "explainer.txt", sha256: SHA256.hex(data)))
        #expect(prompts.rubric.system.contains("0 - ") && prompts.rubric.system.contains("3 - "))
        #expect(PromptTemplate.placeholders(in: prompts.simulatorJSON.user) == ["few_shot", "explanation", "records", "answer_shape"])
    }

    @Test func templateSectionsAndPlaceholders() throws {
        let template = try PromptTemplate(text: "=== system ===\nYou are {{role}}.\n=== user ===\nSay {{word}} {not a placeholder}.\n", file: "t.txt", required: ["word"])
        let messages = try template.render(["role": "a tester", "word": "hi"])
        #expect(messages == [.system("You are a tester."), .user("Say hi {not a placeholder}.")])
        #expect(throws: AutoInterpError.self) { try template.render(["word": "hi"]) }
        do {
            _ = try template.render(["word": "hi"])
        } catch let error as AutoInterpError {
            #expect(error.message.contains("t.txt") && error.message.contains("{{role}}"))
        }
    }

    @Test(arguments: [
        ("no sections at all", "'=== system ==='"),
        ("=== system ===\nx\n=== user ===\ny", "{{records}}"),
        ("=== system ===\nx\n=== helper ===\ny", "unknown section"),
        ("=== user ===\n{{records}}\n=== user ===\n{{records}}", "appears twice"),
    ])
    func badTemplatesAreRefusedNamingTheFile(text: String, fragment: String) {
        do {
            _ = try PromptTemplate(text: text, file: "/x/explainer.txt", required: ["records"])
            Issue.record("accepted \(text)")
        } catch let error as AutoInterpError {
            #expect(error.message.hasPrefix("/x/explainer.txt:") && error.message.contains(fragment), "\(error.message)")
        } catch {
            Issue.record("\(error)")
        }
    }

    /// `dir/prompts` holding copies of the repository's three templates (and nothing else).
    static func copiedTemplates(in dir: TemporaryDirectory) throws -> URL {
        let folder = dir.path("prompts")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        for name in [PromptSet.explainerFile, PromptSet.simulatorJSONFile, PromptSet.simulatorLogprobsFile, PromptSet.simulatorSparseFile] {
            try FileManager.default.copyItem(at: ScriptedRun.promptsFolder.appendingPathComponent(name), to: folder.appendingPathComponent(name))
        }
        return folder
    }

    @Test func swappedPromptsFolderIsUsedAndMissingFilesNamed() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let folder = try Self.copiedTemplates(in: dir)
        try "=== system ===\nMy own words.\n=== user ===\n{{records}}\n".write(to: folder.appendingPathComponent(PromptSet.explainerFile), atomically: true, encoding: .utf8)
        #expect(throws: AutoInterpError.self) { try PromptSet.locate(prompts: folder, rubric: nil) }  // no ../rubrics beside it
        // An unknown placeholder is refused when the set is loaded, naming the file.
        try "=== system ===\nx\n=== user ===\n{{records}} {{recrods}}\n".write(to: folder.appendingPathComponent(PromptSet.explainerFile), atomically: true, encoding: .utf8)
        #expect(throws: AutoInterpError.self) { try PromptSet.locate(prompts: folder, rubric: ScriptedRun.rubricFile) }
        try "=== system ===\nMy own words.\n=== user ===\n{{records}}\n".write(to: folder.appendingPathComponent(PromptSet.explainerFile), atomically: true, encoding: .utf8)
        let prompts = try PromptSet.locate(prompts: folder, rubric: ScriptedRun.rubricFile)
        #expect(prompts.explainer.system == "My own words.")
        #expect(prompts.explainer.file == folder.appendingPathComponent(PromptSet.explainerFile).standardizedFileURL.path)
    }

    @Test func tokensAreDisplayedOnePerLineAndJoinedWithAMark() {
        #expect(TokenText.display("a\nb\tc\\") == "a\\nb\\tc\\\\")
        #expect(TokenText.join(["the", "cat", "runs"], marked: 1) == "the [[cat]] runs")
        #expect(TokenText.join([" The", " cat", "s", " ran"], marked: 2) == "The cat[[s]] ran")
        #expect(TokenText.join(["▁The", "▁cat", "s"], marked: 0) == "[[The]] cats")
        #expect(TokenText.join(["[CLS]", "play", "##ing"], marked: 2) == "[CLS] play[[ing]]")
    }

    @Test func fewShotExamplesShareNoConceptWithTheBuiltInExample() throws {
        let prompts = try PromptSet(prompts: ScriptedRun.promptsFolder, rubric: ScriptedRun.rubricFile)
        let explainer = try #require(prompts.explainer.fewShot?.text)
        #expect(FewShotText.explanations(in: explainer) == ["units of time"])
        let time: Set<String> = ["hour", "minutes", "week", "Friday", "few"]
        let example = Set(SyntheticDataset.vocabulary)
        let records = ScriptedLLM.excerpts(explainer)
        #expect(records.count == 3)
        for record in records {
            for (token, level) in record {
                let word = token.trimmingCharacters(in: .whitespaces)
                #expect((level > 0) == time.contains(word), "\(token) \(level)")
                #expect(level == 0 || !example.contains(word), "\(token) is a word of the built-in example")
            }
        }
        #expect(records.flatMap { $0.map(\.value) }.max() == 10)
        for shot in [prompts.simulatorJSON.fewShot, prompts.simulatorLogprobs.fewShot] {
            #expect(FewShotText.explanations(in: try #require(shot?.text)) == ["units of time"])
        }
        #expect(!SyntheticDataset.concepts.contains { "units of time".contains($0) })
        // The JSON simulator's example answers in the format its parser reads.
        let json = try #require(prompts.simulatorJSON.fewShot?.text)
        let answer = String(json[json.range(of: "Answer: ")!.upperBound...].prefix { $0 != "\n" })
        let first = records[0]
        #expect(SimulationParser.parseJSON(answer, records: [first.map(\.token)]) == [.predicted(first.map { Double($0.value) })])
        let logprobs = try #require(prompts.simulatorLogprobs.fewShot?.text)
        #expect(FewShotFileTests.records(in: String(logprobs[logprobs.range(of: "Answer:\n")!.upperBound...])).first?.levels == first.map(\.value))
    }

    @Test func explainerRecordsAreQuantizedAndSparseLinesRepeated() {
        let sparse = ExampleRecord(role: .explain, subset: .top, context: 0, tokenIDs: [0, 1, 2, 3, 4, 5], tokens: ["the", "cat", "sat", "on", "a", "mat"], activations: [0, 2, 0, 0, 0, -1])
        let other = ExampleRecord(role: .explain, subset: .top, context: 1, tokenIDs: [0, 1, 2, 3], tokens: ["a", "dog", "ran", "off"], activations: [0, 0.99, 0, 0])
        let (records, repeated) = ExplainerPrompt.sections(for: [sparse, other])
        #expect(records == "<excerpt 1>\nthe\t0\ncat\t10\nsat\t0\non\t0\na\t0\nmat\t0\n</excerpt>\n\n<excerpt 2>\na\t0\ndog\t4\nran\t0\noff\t0\n</excerpt>")
        #expect(repeated.contains("<excerpt 1>\ncat\t10\n</excerpt>\n\n<excerpt 2>\ndog\t4\n</excerpt>"))
        // Dense activations are not repeated.
        let dense = ExampleRecord(role: .explain, subset: .top, context: 2, tokenIDs: [0, 1], tokens: ["x", "y"], activations: [1, 2])
        #expect(ExplainerPrompt.sections(for: [dense]).sparse.isEmpty)
    }
}
