import ArgumentParser

/// `autointerp-dev fixtures …`: synthetic inputs for timing checks by hand.
struct FixturesCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fixtures",
        abstract: "Generate synthetic runs and training data for timing checks.",
        subcommands: [ReportFixtureCommand.self, TrainingFixtureCommand.self]
    )
}
