import ArgumentParser
import AutoInterp
import Logging

@main
struct AutoInterpTool: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "autointerp",
        abstract: "Explain and score the units of a language model: SAE features against neurons.",
        version: "0.1.0",
        subcommands: [
            DemoCommand.self,
            HarvestCommand.self,
            TrainSAECommand.self,
            EncodeCommand.self,
            SelectCommand.self,
            RunCommand.self,
            ReportCommand.self,
            CompareCommand.self,
            ExportCommand.self,
            LLMCommand.self,
            ExampleCommand.self,
        ]
    )

    /// Selects the best OpenBLAS kernel (possibly re-executing once), then runs the command.
    static func main() async {
        _ = loggingBootstrap
        BLASKernel.ensureBest(logger: Logger(label: "autointerp.blas"))
        await main(nil)
    }
}
