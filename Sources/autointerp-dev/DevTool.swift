import ArgumentParser
import AutoInterp
import AutoInterpCLIOptions
import Foundation
import Logging

/// Developer tools that stay out of the shipped `autointerp` binary.
@main
struct DevTool: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "autointerp-dev",
        abstract: "Developer tools for autointerp: benchmarks and other workshop commands.",
        subcommands: [
            FixturesCommand.self,
            ServeTestCommand.self,
            BenchCommand.self,
        ]
    )

    /// Logs to stderr at AUTOINTERP_LOG_LEVEL (default `warning`), selects the best OpenBLAS kernel, then runs.
    static func main() async {
        Console.bootstrapLogging()
        BLASKernel.ensureBest(logger: Logger(label: "autointerp.blas"))
        await main(nil)
    }
}
