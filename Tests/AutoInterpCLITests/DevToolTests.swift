import AutoInterp
import AutoInterpTestSupport
import Foundation
import Testing

/// `autointerp-dev`: the fixture generators run, and the shipped `autointerp` no longer has them.
///
/// Serialized: each test starts processes, and the timing tests elsewhere share the CPU.
@Suite(.serialized) struct DevToolTests {
    @Test func reportFixtureIsAReportableRun() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let fixture = try CLIRunner.runDev(["fixtures", "report", "--run", "fx", "--results", dir.url.path, "--units", "6"])
        #expect(fixture.status == 0, "\(fixture.stderr)")
        #expect(fixture.stderr.contains("fixture: 6 units written to"))
        let again = try CLIRunner.runDev(["fixtures", "report", "--run", "fx", "--results", dir.url.path, "--units", "6"])
        #expect(again.status != 0 && again.stderr.contains("already exists"))
        let report = try CLIRunner.run(["report", "--run", "fx", "--results", dir.url.path])
        #expect(report.status == 0, "\(report.stderr)")
        #expect(report.stdout.contains("6 units"))
    }

    @Test func trainingFixtureWritesAnSAEFolder() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let result = try CLIRunner.runDev([
            "fixtures", "training", "--tokens", "2048", "--width", "16", "--directions", "32", "--output", dir.path("sae").path,
            "--steps", "4", "--batch-size", "256", "--eval-tokens", "256",
        ])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("trained 4 steps") && result.stdout.contains("held-out (256 tokens)"))
        #expect(FileManager.default.fileExists(atPath: dir.path("sae").appendingPathComponent("cfg.json").path))
    }

    /// `SAETrainingOptions` is one declaration: both tools list its flags and refuse the same bad values.
    @Test func trainingFlagsAreSharedByTrainSAEAndTheFixture() throws {
        /// The options the help lists (the first word of each option line).
        func flags(_ help: String) -> Set<String> {
            Set(help.split(separator: "\n").compactMap { line in
                line.split(separator: " ").first.map(String.init).flatMap { $0.hasPrefix("--") ? $0 : nil }
            })
        }
        let shipped = flags(try CLIRunner.run(["train-sae", "--help"]).stdout)
        let dev = flags(try CLIRunner.runDev(["fixtures", "training", "--help"]).stdout)
        let training: Set = [
            "--output", "--expansion", "--d-sae", "--l1", "--lr", "--batch-size", "--steps", "--epochs", "--resample-every", "--seed",
            "--eval-tokens", "--log-every", "--model-name", "--hook-name", "--initial-density", "--init-norm", "--l1-warmup",
        ]
        #expect(training.isSubset(of: shipped) && training.isSubset(of: dev))
        #expect(shipped.subtracting(dev).subtracting(["--version"]) == ["--activations", "--vocab", "--max-tokens", "--include-special-tokens"])
        for dev in [false, true] {
            let command = dev ? ["fixtures", "training", "--tokens", "8"] : ["train-sae", "--activations", "a"]
            for bad in [["--steps", "0"], ["--initial-density", "2"]] {
                let arguments = command + ["--output", "x"] + bad
                let result = try dev ? CLIRunner.runDev(arguments) : CLIRunner.run(arguments)
                #expect(result.status != 0 && result.stderr.contains(bad[0]), "\(arguments): \(result.stderr)")
            }
        }
    }

    @Test func shippedBinaryHasNoDeveloperCommands() throws {
        let report = try CLIRunner.run(["report", "--run", "x", "--fixture-units", "3"])
        #expect(report.status != 0 && report.stderr.contains("--fixture-units"))
        let train = try CLIRunner.run(["train-sae", "--activations", "a.safetensors", "--output", "x", "--synthetic-tokens", "10"])
        #expect(train.status != 0 && train.stderr.contains("--synthetic-tokens"))
        let serve = try CLIRunner.run(["llm", "serve-test"])
        #expect(serve.status != 0 && serve.stderr.contains("serve-test"))
    }
}
