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
            SAECommand.self,
            SelectCommand.self,
            RunCommand.self,
            MergeCommand.self,
            BatchCommand.self,
            ReportCommand.self,
            CompareCommand.self,
            AuditCommand.self,
            ExportCommand.self,
            LLMCommand.self,
            ExampleCommand.self,
        ]
    )
}
