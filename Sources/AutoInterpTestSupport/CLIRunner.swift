import Foundation

/// Runs the built `autointerp` (or `autointerp-dev`) executable, found beside the test bundle, and captures its output.
public enum CLIRunner {
    public struct Result: Sendable {
        public var status: Int32
        public var stdout: String
        public var stderr: String
    }

    /// The `autointerp` binary in the build folder the tests run from.
    public static var executable: URL { built("autointerp") }

    /// The `autointerp-dev` binary (developer tools) in the same build folder.
    public static var devExecutable: URL { built("autointerp-dev") }

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
    public static func run(_ arguments: [String], environment: [String: String] = [:], timeout: Double = 120, via launcher: [String] = []) throws -> Result {
        try run(executable, arguments, environment: environment, timeout: timeout, via: launcher)
    }

    /// Runs `autointerp-dev arguments…` with `environment` added, waiting at most `timeout` seconds.
    public static func runDev(_ arguments: [String], environment: [String: String] = [:], timeout: Double = 120) throws -> Result {
        try run(devExecutable, arguments, environment: environment, timeout: timeout, via: [])
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
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
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
