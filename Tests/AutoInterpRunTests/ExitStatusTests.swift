import AutoInterp
import AutoInterpTestSupport
import Foundation
import Testing

/// Issue 12, problem 4: `autointerp run` exits 0 only when every unit is complete, 3 when the
/// run finished with failed or incomplete units, 4 when it stopped early (a 401, …).
extension PipelineSuites {
@Suite(.serialized) struct ExitStatusTests {
    static func run(_ dir: TemporaryDirectory, faults: TestFaultPlan, name: String) throws -> (CLIRunner.Result, TestEndpoint) {
        let (dataset, _) = try ScriptedRun.writeDataset(in: dir, contexts: 40)
        let endpoint = try TestEndpoint(TestEndpoint.Configuration(faults: faults, handler: ScriptedLLM().handler))
        let result = try CLIRunner.run([
            "run", "--activations", dataset.path, "--neurons", "0-2", "--name", name, "--results", dir.path("results").path,
            "--endpoint", endpoint.baseURL, "--model", "test-model", "--api-key-env", "AUTOINTERP_TEST_NO_KEY",
            "--prompts", ScriptedRun.promptsFolder.path, "--rubric", ScriptedRun.rubricFile.path, "--per-bin", "1",
            "--non-activating", "2", "--quiet",
        ])
        return (result, endpoint)
    }

    @Test func completeRunExitsZero() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let (result, endpoint) = try Self.run(dir, faults: .none, name: "ok")
        defer { endpoint.stop() }
        #expect(result.status == 0, "\(result.stdout)\n\(result.stderr)")
        #expect(result.stdout.contains("run finished: every unit has its results"))
    }

    @Test func runWhoseUnitsAllFailExitsThree() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        // HTTP 400 fails each call at once (not retried, not fatal for the run): every unit fails.
        let (result, endpoint) = try Self.run(dir, faults: TestFaultPlan { _ in .status(400) }, name: "bad")
        defer { endpoint.stop() }
        #expect(result.status == 3, "\(result.stdout)\n\(result.stderr)")
        #expect(result.stdout.contains("0 scored"))
        #expect(result.stderr.contains("exit status 3"))
    }

    @Test func runStoppedByA401ExitsFourAndNeverSaysNoFailures() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let (result, endpoint) = try Self.run(dir, faults: TestFaultPlan { _ in .status(401) }, name: "denied")
        defer { endpoint.stop() }
        #expect(result.status == 4, "\(result.stdout)\n\(result.stderr)")
        #expect(!result.stdout.contains("failures: none\n"), "\(result.stdout)")
        #expect(result.stdout.contains("stopped early"))
        #expect(result.stderr.contains("HTTP 401"))
    }
}
}
