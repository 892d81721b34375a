import AutoInterpLLM
import AutoInterpTestSupport
import Foundation
import Testing

@testable import AutoInterp

/// Issue 12, problem 8 (the issue's item 9 list): each message says what is actually wrong.
struct MessageTests {
    static func select(_ dataset: URL, _ dir: TemporaryDirectory, _ extra: [String]) throws -> CLIRunner.Result {
        try CLIRunner.run(["select", "--activations", dataset.path, "--name", "r", "--results", dir.path("results").path, "--quiet"] + extra)
    }

    @Test func invalidUTF8InTheVocabularyIsNamed() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let (dataset, _) = try CLIFixtures.example(dir)
        var bytes = try Data(contentsOf: dir.path("vocab.json"))
        let at = try #require(bytes.firstIndex(of: UInt8(ascii: "a")))
        bytes[at] = 0xFF
        try bytes.write(to: dir.path("vocab.json"))
        #expect((try Self.select(dataset, dir, ["--neurons", "0"])).oneLineErrorProblem(["vocab.json", "not valid UTF-8", "offset \(at)"]) == nil)
    }

    @Test func aRunNameTooLongForAFolderSaysSo() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let (dataset, _) = try CLIFixtures.example(dir)
        let name = String(repeating: "n", count: 300)
        let result = try CLIRunner.run(["select", "--activations", dataset.path, "--neurons", "0", "--name", name, "--results", dir.path("results").path])
        #expect(result.oneLineErrorProblem(["300 bytes", "at most 255", "shorter --name"]) == nil)
        #expect(!result.stderr.contains("permissions"))
    }

    @Test func featuresWithoutAnSAESayTheyNeedOne() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let (dataset, _) = try CLIFixtures.example(dir)
        let result = try Self.select(dataset, dir, ["--features", "0-19"])
        #expect(result.oneLineErrorProblem(["no SAE was given", "--sae DIR"]) == nil)
        #expect(!result.stderr.contains("0--1"))
    }

    @Test func datasetsWithNoContextsOrNoNeuronsAreRefused() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        _ = try CLIFixtures.example(dir)
        let empty = dir.path("empty.safetensors")
        try SafeTensorsWriter.write(
            [.init(name: "tokens", dtype: .I32, shape: [0, 4], data: Data()), .init(name: "activations", dtype: .F32, shape: [0, 4, 9], data: Data())],
            to: empty)
        #expect((try Self.select(empty, dir, ["--neurons", "all"])).oneLineErrorProblem(["empty.safetensors", "holds no contexts"]) == nil)
        let narrow = dir.path("narrow.safetensors")
        try SafeTensorsWriter.write(
            [.init(name: "tokens", dtype: .I32, shape: [2, 4], data: Data(count: 32)), .init(name: "activations", dtype: .F32, shape: [2, 4, 0], data: Data())],
            to: narrow)
        let result = try Self.select(narrow, dir, ["--neurons", "0-3"])
        #expect(result.oneLineErrorProblem(["narrow.safetensors", "width 0"]) == nil)
        #expect(!result.stderr.contains("0--1"))
    }

    @Test func aRedirectIsNamedAsOne() async throws {
        let endpoint = try TestEndpoint(TestEndpoint.Configuration(faults: TestFaultPlan { _ in .status(302) }))
        defer { endpoint.stop() }
        let client = try LLMClient(config: LLMEndpointConfig(baseURL: endpoint.baseURL, model: "m", apiKeyEnv: "AUTOINTERP_TEST_NO_KEY"))
        let error = await #expect(throws: LLMError.self) { _ = try await client.complete(ChatCompletionRequest(messages: [.user("hi")])) }
        #expect(error?.message.contains("HTTP 302, a redirect") == true, "\(error?.message ?? "")")
        #expect(error?.message.contains("request options") == false)
        #expect(error?.isFatalForRun == true)
        #expect(endpoint.requestCount == 1)
    }

    @Test func exportOnAFullDiskSaysTheDiskIsFull() throws {
        guard FileManager.default.fileExists(atPath: "/dev/full") else { return }
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        _ = try CLIFixtures.run(dir)
        let result = try CLIRunner.run(["export", "--run", "fx", "--results", dir.url.path, "--output", "/dev/full"])
        #expect(result.oneLineErrorProblem(["/dev/full", "No space left on device", "disk is full"]) == nil)
        #expect(!result.stderr.contains("writable"))
        let missing = try CLIRunner.run(["export", "--run", "fx", "--results", dir.url.path, "--output", dir.path("no/such/folder.jsonl").path])
        #expect(missing.oneLineErrorProblem(["folder does not exist"]) == nil)
    }
}
