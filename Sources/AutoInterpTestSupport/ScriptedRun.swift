package import AutoInterp
import AutoInterpLLM
package import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
package import Darwin
#endif

/// Fixtures for pipeline tests: the repository's prompt folders, a planted dataset, a run request.
package enum ScriptedRun {
    /// The repository's `prompts/` folder.
    package static var promptsFolder: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("prompts")
    }

    /// The repository's `rubrics/specificity.txt`.
    package static var rubricFile: URL {
        promptsFolder.deletingLastPathComponent().appendingPathComponent("rubrics").appendingPathComponent("specificity.txt")
    }

    /// Writes a planted dataset (`acts.safetensors` + `vocab.json`) and its SAE (`sae/`) into `dir`.
    ///
    /// Neuron 0 fires only on animal words (clean); the other neurons mix several concepts.
    package static func writeDataset(in dir: TemporaryDirectory, contexts: Int = 80, length: Int = 12, width: Int = 9, seed: UInt64 = 5) throws -> (dataset: URL, sae: URL) {
        let dataset = dir.path("acts.safetensors")
        try SyntheticDataset.write(to: dataset, contexts: contexts, length: length, width: width, seed: seed)
        try SyntheticDataset.writeSAE(to: dir.path("sae"), width: width, seed: seed)
        return (dataset, dir.path("sae"))
    }

    /// A small selection for tests: the default explain/score sizes, 1 rubric context per bin and 2 non-activating.
    package static var smallSelection: SelectionConfig {
        var selection = SelectionConfig()
        selection.quantilePerBin = 1
        selection.nonActivating = 2
        return selection
    }

    /// A run request against `endpoint` with the repository's prompts and quick retries.
    package static func request(
        name: String = "run", dir: TemporaryDirectory, dataset: URL, sae: URL? = nil, features: String = "none", neurons: String,
        endpoint: String, model: String = "test-model", selection: SelectionConfig = ScriptedRun.smallSelection
    ) throws -> RunRequest {
        var llm = LLMEndpointConfig(baseURL: endpoint, model: model, apiKeyEnv: "AUTOINTERP_TEST_NO_KEY", maxInFlight: 8)
        llm.retry = .init(maxAttempts: 2, maxTotalTime: 10, baseBackoff: 0.01, maxBackoff: 0.05, jitter: 0)
        return RunRequest(
            setup: RunSetup.Request(
                name: name, resultsFolder: dir.path("results"), activations: dataset, sae: sae, features: try UnitSpec(parsing: features),
                neurons: try UnitSpec(parsing: neurons), selection: selection),
            endpoint: llm, prompts: promptsFolder, rubric: rubricFile)
    }
}

/// A child process started without waiting, for tests that kill it midway.
package final class ScriptedProcess: @unchecked Sendable {
    package let process: Process
    private let out = Pipe(), err = Pipe()
    private let outData = UncheckedBox<Data>(), errData = UncheckedBox<Data>()
    private let group = DispatchGroup()

    /// Starts `autointerp arguments…` (``CLIRunner/executable``) with `environment` added.
    package init(_ arguments: [String], environment: [String: String] = [:]) throws {
        process = Process()
        process.executableURL = CLIRunner.executable
        process.arguments = arguments
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let (outData, errData, out, err) = (outData, errData, out, err)
        DispatchQueue.global().async(group: group) { outData.value = out.fileHandleForReading.readDataToEndOfFile() }
        DispatchQueue.global().async(group: group) { errData.value = err.fileHandleForReading.readDataToEndOfFile() }
    }

    package var isRunning: Bool { process.isRunning }

    /// Sends SIGKILL (no cleanup in the child: the test of a hard crash).
    package func kill9() {
        kill(process.processIdentifier, SIGKILL)
    }

    /// Waits for the exit (at most `timeout` seconds, then kills) and returns the outputs.
    @discardableResult
    package func wait(timeout: Double = 120) -> CLIRunner.Result {
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning && Date() < deadline { usleep(10_000) }
        if process.isRunning { kill9() }
        process.waitUntilExit()
        group.wait()
        return CLIRunner.Result(
            status: process.terminationStatus, stdout: String(decoding: outData.value ?? Data(), as: UTF8.self),
            stderr: String(decoding: errData.value ?? Data(), as: UTF8.self))
    }
}

/// Runs blocking work (process waits, polling loops) on a global dispatch queue, so async tests
/// do not hold one of the few cooperative threads other tests need.
package func offCooperativePool<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        DispatchQueue.global().async { continuation.resume(with: Result { try body() }) }
    }
}
