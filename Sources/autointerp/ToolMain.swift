import ArgumentParser
import AutoInterp
import AutoInterpCLIOptions
import AutoInterpLLM
import Foundation
import Logging

extension AutoInterpTool {
    /// Parses and runs the command, so that every failure is one line on stderr.
    ///
    /// ArgumentParser's own errors (a value that does not parse, a failed `validate()`) would
    /// print the message, a help line and the usage, and exit 64; here they become
    /// `autointerp: error: <message> (see autointerp <command> --help)` and exit 1, like every
    /// other input error. Help, `--version` and explicit exit codes pass through unchanged.
    /// First, the best OpenBLAS kernel is selected (possibly re-executing once); `demo` pins the
    /// reproducible kernel and thread count unless given `--fastest-kernel`.
    static func main() async {
        _ = loggingBootstrap
        let arguments = Array(CommandLine.arguments.dropFirst())
        let pinned = arguments.first == "demo" && !arguments.contains("--fastest-kernel")
        BLASKernel.ensureBest(logger: Logger(label: "autointerp.blas"), pin: pinned ? BLASKernel.reproducibleCore : nil)
        if pinned { BLASKernel.pinThreads() }
        let status = await execute(arguments)
        Self.exit(withError: status == 0 ? nil : ExitCode(status))
    }

    /// Parses and runs `arguments` in this process; every failure is one line through
    /// ``Console/note(_:)`` (a test captures it there). Returns the exit status; help and
    /// `--version` print and end the process ArgumentParser's way.
    static func execute(_ arguments: [String]) async -> Int32 {
        do {
            var parsed = try parseAsRoot(arguments)
            if var asyncCommand = parsed as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try parsed.run()
            }
            return 0
        } catch let error as ExitCode {
            return error.rawValue
        } catch {
            if exitCode(for: error) == .success {
                Self.exit(withError: error)
            }
            let text = Console.message(for: error) ?? {
                let lines = message(for: error).split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }
                let first = lines.first { !$0.isEmpty } ?? "\(error)"
                return first + " (see autointerp \(subcommandPath(arguments))--help)"
            }()
            Console.note("autointerp: error: \(text)")
            return ExitCode.failure.rawValue
        }
    }

    /// `"run "` or `"llm check "`: the subcommand words typed, for the help hint (`""` for none).
    private static func subcommandPath(_ arguments: [String]) -> String {
        var names: [String] = []
        var level: [any ParsableCommand.Type] = configuration.subcommands
        for word in arguments {
            guard let match = level.first(where: { $0._commandName == word }) else { break }
            names.append(word)
            level = match.configuration.subcommands
        }
        return names.map { $0 + " " }.joined()
    }
}
