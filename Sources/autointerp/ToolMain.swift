import ArgumentParser
import AutoInterp
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
    /// First, the best OpenBLAS kernel is selected (possibly re-executing once).
    static func main() async {
        _ = loggingBootstrap
        BLASKernel.ensureBest(logger: Logger(label: "autointerp.blas"))
        do {
            var parsed = try parseAsRoot()
            if var asyncCommand = parsed as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try parsed.run()
            }
        } catch let error as ExitCode {
            Self.exit(withError: error)
        } catch {
            if exitCode(for: error) == .success { Self.exit(withError: error) }
            let text: String
            switch error {
            case let error as AutoInterpError: text = error.description
            case let error as LLMError: text = error.description
            default:
                let lines = message(for: error).split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }
                let first = lines.first { !$0.isEmpty } ?? "\(error)"
                text = first + " (see autointerp \(subcommandPath())--help)"
            }
            FileHandle.standardError.write(Data("autointerp: error: \(text)\n".utf8))
            Self.exit(withError: ExitCode.failure)
        }
    }

    /// `"run "` or `"llm check "`: the subcommand words typed, for the help hint (`""` for none).
    private static func subcommandPath() -> String {
        var names: [String] = []
        var level: [any ParsableCommand.Type] = configuration.subcommands
        for word in CommandLine.arguments.dropFirst() {
            guard let match = level.first(where: { $0._commandName == word }) else { break }
            names.append(word)
            level = match.configuration.subcommands
        }
        return names.map { $0 + " " }.joined()
    }
}
