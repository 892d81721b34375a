import AutoInterpLLM
import AutoInterpTestSupport
import Foundation
import Synchronization
import Testing

@testable import AutoInterp

/// Issue 12, problems 6 and 7: header values that would inject headers are refused without
/// printing them; endpoint URLs that cannot work are refused before any request or run starts.
extension ClientSuites {
struct EndpointSafetyTests {
    static let secret = "sk-test-SECRET-1234"

    @Test(arguments: ["\r\nX-Injected: yes", "\nX-Injected: yes", "\r"])
    func aKeyWithALineBreakIsRefusedWithoutPrintingIt(_ tail: String) throws {
        let endpoint = try TestEndpoint()
        defer { endpoint.stop() }
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let (dataset, _) = try CLIFixtures.example(dir)
        let environment = ["AUTOINTERP_TEST_KEY": Self.secret + tail]
        let check = try CLIRunner.run(
            ["llm", "check", "--endpoint", endpoint.baseURL, "--model", "m", "--api-key-env", "AUTOINTERP_TEST_KEY"], environment: environment)
        #expect(check.oneLineErrorProblem(["AUTOINTERP_TEST_KEY", "line break"]) == nil)
        #expect(!check.stderr.contains("SECRET") && !check.stdout.contains("SECRET"))
        let run = try CLIRunner.run(
            ["run", "--activations", dataset.path, "--neurons", "0-2", "--name", "r", "--results", dir.path("results").path,
             "--endpoint", endpoint.baseURL, "--model", "m", "--api-key-env", "AUTOINTERP_TEST_KEY", "--quiet"], environment: environment)
        #expect(run.oneLineErrorProblem(["AUTOINTERP_TEST_KEY", "line break"]) == nil)
        #expect(!run.stderr.contains("SECRET"))
        #expect(endpoint.requestCount == 0)
        #expect(!FileManager.default.fileExists(atPath: dir.path("results").path), "refused before the run started")
    }

    @Test func theClientRefusesAKeyWithNULOrLineBreaksAtEveryCall() async throws {
        let endpoint = try TestEndpoint()
        defer { endpoint.stop() }
        let config = LLMEndpointConfig(baseURL: endpoint.baseURL, model: "m", apiKeyEnv: "K")
        #expect(throws: LLMError.self) { _ = try LLMClient(config: config, environment: { _ in "key\u{0}X: y" }) }
        // A key that changes after start-up is checked again before it goes into a header.
        let key = Mutex("good-key")
        let client = try LLMClient(config: config, environment: { _ in key.withLock { $0 } })
        key.withLock { $0 = Self.secret + "\r\nX-Injected: yes" }
        let error = await #expect(throws: LLMError.self) {
            _ = try await client.complete(ChatCompletionRequest(messages: [.user("hi")]))
        }
        #expect(error?.isFatalForRun == true)
        #expect(error?.message.contains("SECRET") == false)
        #expect(endpoint.requestCount == 0)
    }

    @Test(arguments: [
        "http://127.0.0.1:182711/v1", "http://127.0.0.1:0/v1", "ftp://127.0.0.1/v1", "http:///v1", "127.0.0.1:8000/v1",
        "http://127.0.0.1:8000/v1 x", "http://127.0.0.1:8000/v1\r\nX-Injected: yes",
    ])
    func anEndpointURLThatCannotWorkIsRefusedUpFront(_ url: String) throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let (dataset, _) = try CLIFixtures.example(dir)
        let started = Date()
        let check = try CLIRunner.run(["llm", "check", "--endpoint", url, "--model", "m"])
        #expect(check.oneLineErrorProblem(["base URL", "--endpoint http://127.0.0.1:8000/v1"]) == nil)
        let run = try CLIRunner.run(
            ["run", "--activations", dataset.path, "--neurons", "0-2", "--name", "r", "--results", dir.path("results").path,
             "--endpoint", url, "--model", "m", "--quiet"])
        #expect(run.oneLineErrorProblem(["base URL"]) == nil)
        #expect(Date().timeIntervalSince(started) < 10, "no retries against a URL that cannot work")
        #expect(!FileManager.default.fileExists(atPath: dir.path("results").path))
    }
}
}
