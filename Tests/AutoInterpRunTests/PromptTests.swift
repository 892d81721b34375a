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
        // The simulators' worked answers are for the explainer's first excerpt, token by token.
        let first: [(token: String, value: Int)] = [
            ("We", 0), (" waited", 0), (" an", 0), (" hour", 10), (" and", 0), (" a", 0), (" few", 1), (" minutes", 9),
            (" for", 0), (" the", 0), (" bus", 0),
        ]
        #expect(records[0].filter { $0.value > 0 }.map(\.token) == first.filter { $0.value > 0 }.map(\.token))
        #expect(SimulationParser.parseJSON(answer, records: [first.map(\.token)]) == [.predicted(first.map { Double($0.value) })])
        let logprobs = try #require(prompts.simulatorLogprobs.fewShot?.text)
        #expect(FewShotFileTests.records(in: String(logprobs[logprobs.range(of: "Answer:\n")!.upperBound...])).first?.levels == first.map(\.value))
    }

    /// Ten 18-token excerpts, two tokens firing in each (the built-in example's shape).
    static let tenExamples = (0..<10).map { i in
        let words = [
            "the", " owl", " sees", " a", " red", " park", " in", " the", " rain", ",",
            " and", " a", " fox", " runs", " to", " the", " hill", ".",
        ]
        return ExampleRecord(
            role: .explain, subset: .top, context: i, tokenIDs: Array(repeating: 0, count: words.count), tokens: words,
            activations: words.indices.map { $0 == 1 ? 3 : $0 == 12 ? Float(i % 3) : 0 })
    }

    /// Issue 22: the default explainer template's `{{excerpts}}`: each excerpt's text with the firing
    /// tokens marked, then only those tokens with their levels; zeros (and the sparse repeat) left out.
    @Test func explainerExcerptsListOnlyTheFiringTokens() throws {
        let sparse = ExampleRecord(
            role: .explain, subset: .top, context: 0, tokenIDs: [0, 1, 2, 3, 4, 5], tokens: ["the", " cat", " sat", "\n", " on", " mat"],
            activations: [0, 2, 0, 0, 0, -1])
        let other = ExampleRecord(
            role: .explain, subset: .top, context: 1, tokenIDs: [0, 1, 2, 3], tokens: ["a", " dog", " ran", " off"],
            activations: [0, 0.99, 0, 0])
        let silent = ExampleRecord(role: .explain, subset: .top, context: 2, tokenIDs: [0, 1], tokens: ["x", " y"], activations: [0, 0])
        #expect(ExplainerPrompt.excerpts(for: [sparse, other, silent]) == """
            <excerpt 1>
            the <<cat>> sat\\n on mat
             cat\t10
            </excerpt>

            <excerpt 2>
            a <<dog>> ran off
             dog\t4
            </excerpt>

            <excerpt 3>
            x y
            </excerpt>
            """)
        let prompts = try PromptSet(prompts: ScriptedRun.promptsFolder, rubric: ScriptedRun.rubricFile)
        #expect(PromptTemplate.placeholders(in: prompts.explainer.user) == ["few_shot", "excerpts"])
        let explainer = LLMExplainer(client: try FewShotFileTests.client(), template: prompts.explainer)
        let request = try explainer.request(examples: [sparse, other], sample: 0)
        let user = try #require(request.messages.last?.content)
        #expect(user.contains("the <<cat>> sat") && !user.contains("sat\t0") && !user.contains("The same excerpts again"))
        // The compact excerpts cost well under half the one-line-per-token records (scripted estimate).
        let compact = ScriptedLLM.estimateTokens(ExplainerPrompt.excerpts(for: Self.tenExamples))
        let lines = ExplainerPrompt.sections(for: Self.tenExamples)
        #expect(2 * compact < ScriptedLLM.estimateTokens(lines.records + lines.sparse), "\(compact) vs \(lines)")
    }

    /// The explainer's worked example is written in the format ``ExplainerPrompt/excerpts(for:)`` writes.
    @Test func theExplainerWorkedExampleIsInTheExcerptFormat() throws {
        let prompts = try PromptSet(prompts: ScriptedRun.promptsFolder, rubric: ScriptedRun.rubricFile)
        let shot = try #require(prompts.explainer.fewShot?.text)
        let excerpts: [(tokens: [String], levels: [Float])] = [
            (["We", " waited", " an", " hour", " and", " a", " few", " minutes", " for", " the", " bus"],
             [0, 0, 0, 10, 0, 0, 1, 9, 0, 0, 0]),
            (["Every", " week", ",", " the", " shop", " closes", " early", " on", " Friday"], [0, 8, 0, 0, 0, 0, 0, 0, 3]),
            (["The", " old", " bridge", " is", " made", " of", " stone"], [0, 0, 0, 0, 0, 0, 0]),
        ]
        let records = excerpts.enumerated().map { i, excerpt in
            ExampleRecord(
                role: .explain, subset: .top, context: i, tokenIDs: Array(repeating: 0, count: excerpt.tokens.count),
                tokens: excerpt.tokens, activations: excerpt.levels)
        }
        let expected = "<example>\nA worked example.\n" + ExplainerPrompt.excerpts(for: records)
            + "\nExplanation: units of time\n</example>\n"
        #expect(shot == expected)
    }

    /// A template written for the one-line-per-token records (`{{records}}`, `{{sparse}}`) still gets
    /// them, byte for byte, so a run that used such a folder resumes with the same requests; a
    /// template with neither placeholder is refused naming the file.
    @Test func explainerTemplatesWithTheFormerRecordsKeepThem() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let folder = try Self.copiedTemplates(in: dir)
        let file = folder.appendingPathComponent(PromptSet.explainerFile)
        let former = "=== system ===\nOld words.\n=== user ===\n{{few_shot}}\n{{records}}\n{{sparse}}\nExplain.\n"
        try former.write(to: file, atomically: true, encoding: .utf8)
        let old = try PromptSet.locate(prompts: folder, rubric: ScriptedRun.rubricFile)
        let examples = ExplainerTests.sparseExamples
        let explainer = LLMExplainer(client: try FewShotFileTests.client(), template: old.explainer)
        let request = try explainer.request(examples: examples, sample: 0)
        let (records, sparse) = ExplainerPrompt.sections(for: examples)
        #expect(request.messages.last?.content == (old.explainer.fewShot?.text ?? "") + "\n" + records + "\n" + sparse + "\nExplain.")
        try "=== system ===\nx\n=== user ===\nExplain.\n".write(to: file, atomically: true, encoding: .utf8)
        do {
            _ = try PromptSet.locate(prompts: folder, rubric: ScriptedRun.rubricFile)
            Issue.record("a template without records was accepted")
        } catch let error as AutoInterpError {
            #expect(error.message.contains(PromptSet.explainerFile) && error.message.contains("{{excerpts}}"), "\(error.message)")
        }
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
