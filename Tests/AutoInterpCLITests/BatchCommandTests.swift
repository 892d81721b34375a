import AutoInterp
import AutoInterpTestSupport
import Foundation
import Testing

/// Issue 20 items 1 and 3 on the real binary: `run --batch file` stops with the line saying where
/// the input is (exit status 4), `batch status` lists the wave, and the same command after the
/// output is there ingests it and finishes.
struct BatchCommandTests {
    @Test func aFileBatchRunStopsSaysWhereAndGoesOnAfterTheOutputIsThere() throws {
        let fixture = try ScriptedRunFixture(contexts: 30)
        defer { fixture.remove() }
        let endpoint = try fixture.endpoint()
        let results = fixture.dir.path("results").path
        let run = [
            "run", "--activations", fixture.dataset.path, "--neurons", "0-1", "--name", "b", "--results", results,
            "--endpoint", endpoint.baseURL, "--model", "test-model", "--api-key-env", "AUTOINTERP_TEST_NO_KEY", "--stages", "explain", "--prompts",
            ScriptedRun.promptsFolder.path, "--rubric", ScriptedRun.rubricFile.path, "--batch", "file", "--quiet",
        ]
        let first = try CLIRunner.run(run)
        #expect(first.status == 4)
        #expect(first.stderr.contains("batch: 2 request(s) wait in ") && first.stderr.contains("rerun the same command"))
        let status = try CLIRunner.run(["batch", "status", "--run", "b", "--results", results])
        #expect(status.status == 0 && status.stdout.contains("written") && status.stdout.contains("1 batch(es) open"))

        let store = try RunStore(readingAt: URL(fileURLWithPath: results).appendingPathComponent("b/autointerp.sqlite"))
        #expect(try FileBatchRunner.answerOpenBatches(of: store, handler: fixture.scripted.handler) == 1)
        let second = try CLIRunner.run(run)
        #expect(second.status == 0, "\(second.stderr)")
        let after = try CLIRunner.run(["batch", "status", "--run", "b", "--results", results])
        #expect(after.stdout.contains("ingested") && after.stdout.contains("no batch is open"))
        // Nothing open: cancel has nothing to do.
        let cancel = try CLIRunner.run(["batch", "cancel", "--run", "b", "--results", results])
        #expect(cancel.status == 0 && cancel.stdout.contains("no open batch"))
    }
}
