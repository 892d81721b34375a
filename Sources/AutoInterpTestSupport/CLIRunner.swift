import AutoInterp
package import Foundation

/// Runs the built `autointerp` (or `autointerp-dev`) executable, found beside the test bundle, and captures its output.
package enum CLIRunner {
    package struct Result: Sendable {
        package var status: Int32
        package var stdout: String
        package var stderr: String
    }

    /// The `autointerp` binary in the build folder the tests run from.
    package static var executable: URL { built("autointerp") }

    /// The `autointerp-dev` binary (developer tools) in the same build folder.
    package static var devExecutable: URL { built("autointerp-dev") }

    /// The executable `name` in the build folder the tests run from.
    private static func built(_ name: String) -> URL {
        var folder = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().deletingLastPathComponent()
        // The test binary may sit inside `autointerpPackageTests.xctest/`.
        while !FileManager.default.isExecutableFile(atPath: folder.appendingPathComponent(name).path), folder.path != "/" {
            folder.deleteLastPathComponent()
        }
        return folder.appendingPathComponent(name)
    }

    /// Runs `autointerp arguments…` with `environment` added, waiting at most `timeout` seconds.
    ///
    /// - Parameter via: a launcher and its arguments put before the binary (e.g. `setpriv --reuid=…`).
    ///
    /// Unless `environment` says otherwise, the child runs the same OpenBLAS kernel as the calling
    /// process (`OPENBLAS_CORETYPE` set to its core): kernels round differently in the last bit, and
    /// tests compare the CLI's numbers with the library's in-process ones exactly.
    package static func run(_ arguments: [String], environment: [String: String] = [:], timeout: Double = 120, via launcher: [String] = []) throws -> Result {
        try run(executable, arguments, environment: inheriting(environment), timeout: timeout, via: launcher)
    }

    /// Runs `autointerp-dev arguments…` with `environment` added, waiting at most `timeout` seconds.
    package static func runDev(_ arguments: [String], environment: [String: String] = [:], timeout: Double = 120) throws -> Result {
        try run(devExecutable, arguments, environment: inheriting(environment), timeout: timeout, via: [])
    }

    /// Runs `autointerp arguments…` with exactly `environment` (nothing inherited), waiting at most `timeout` seconds.
    package static func run(_ arguments: [String], replacingEnvironment environment: [String: String], timeout: Double = 120) throws -> Result {
        try run(executable, arguments, environment: environment, timeout: timeout, via: [])
    }

    /// This process's environment with the OpenBLAS kernel pinned, then `extra` on top.
    private static func inheriting(_ extra: [String: String]) -> [String: String] {
        var inherited = ProcessInfo.processInfo.environment
        inherited["OPENBLAS_CORETYPE"] = BLAS.coreName
        return inherited.merging(extra) { $1 }
    }

    private static func run(_ executable: URL, _ arguments: [String], environment: [String: String], timeout: Double, via launcher: [String]) throws -> Result {
        let process = Process()
        if let first = launcher.first {
            process.executableURL = URL(fileURLWithPath: first)
            process.arguments = Array(launcher.dropFirst()) + [executable.path] + arguments
        } else {
            process.executableURL = executable
            process.arguments = arguments
        }
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
