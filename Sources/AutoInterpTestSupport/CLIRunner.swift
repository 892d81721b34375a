import AutoInterp
import Foundation

/// Runs the built `autointerp` executable (found beside the test bundle) and captures its output.
public enum CLIRunner {
    public struct Result: Sendable {
        public var status: Int32
        public var stdout: String
        public var stderr: String
    }

    /// The `autointerp` binary in the build folder the tests run from.
    public static var executable: URL {
        var folder = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().deletingLastPathComponent()
        // The test binary may sit inside `autointerpPackageTests.xctest/`.
        while !FileManager.default.isExecutableFile(atPath: folder.appendingPathComponent("autointerp").path), folder.path != "/" {
            folder.deleteLastPathComponent()
        }
        return folder.appendingPathComponent("autointerp")
    }

    /// Runs `autointerp arguments…` with `environment` added, waiting at most `timeout` seconds.
    ///
    /// Unless `environment` says otherwise, the child runs the same OpenBLAS kernel as the calling
    /// process (`OPENBLAS_CORETYPE` set to its core): kernels round differently in the last bit, and
    /// tests compare the CLI's numbers with the library's in-process ones exactly.
    public static func run(_ arguments: [String], environment: [String: String] = [:], timeout: Double = 120) throws -> Result {
        var inherited = ProcessInfo.processInfo.environment
        inherited["OPENBLAS_CORETYPE"] = BLAS.coreName
        return try run(arguments, replacingEnvironment: inherited.merging(environment) { $1 }, timeout: timeout)
    }

    /// Runs `autointerp arguments…` with exactly `environment` (nothing inherited), waiting at most `timeout` seconds.
    public static func run(_ arguments: [String], replacingEnvironment environment: [String: String], timeout: Double = 120) throws -> Result {
        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        process.environment = environment
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        // Drain both pipes concurrently so a chatty child cannot block on a full pipe.
        let outData = UncheckedBox<Data>(), errData = UncheckedBox<Data>()
        let group = DispatchGroup()
        DispatchQueue.global().async(group: group) { outData.value = out.fileHandleForReading.readDataToEndOfFile() }
        DispatchQueue.global().async(group: group) { errData.value = err.fileHandleForReading.readDataToEndOfFile() }
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning && Date() < deadline { usleep(10_000) }
        if process.isRunning { process.terminate() }
        process.waitUntilExit()
        group.wait()
        return Result(
            status: process.terminationStatus, stdout: String(decoding: outData.value ?? Data(), as: UTF8.self),
            stderr: String(decoding: errData.value ?? Data(), as: UTF8.self))
    }
}

/// A mutable box for results handed back from a background queue.
final class UncheckedBox<Value>: @unchecked Sendable {
    var value: Value?
}
