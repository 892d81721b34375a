import ArgumentParser

/// `autointerp-dev`: developer tools that need the test-support target (fixtures, the test
/// endpoint, benchmarks), kept out of the shipped `autointerp` binary.
@main
struct DevTool: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "autointerp-dev",
        abstract: "Developer tools for autointerp: fixture generators and the local test endpoint.",
        subcommands: [
            FixturesCommand.self,
            ServeTestCommand.self,
        ]
    )
}
