import ArgumentParser
import AutoInterp
import Foundation
import Logging

/// `autointerp merge`: the finished shards of a run (`run --shard k/N`) as one run database.
struct MergeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "merge",
        abstract: "Merge the finished shards of a run (run --shard k/N) into <results>/<run>/autointerp.sqlite.",
        discussion: """
            Checks that every shard k-of-N is present and done, with the same config apart from its units, disjoint \
            units that together are the planned list, and no controls; then copies every row with its ids remapped into \
            a temporary file, checks it and renames it into place. The merged run equals the run made without --shard; \
            run the same command without --shard next to add the control pass.
            """
    )

    @OptionGroup var location: RunLocationOptions

    func run() async throws {
        try await reportingErrors {
            let run = location.run
            let outcome = try ShardMerge(logger: Logger(label: "autointerp.merge")).merge(run: run, resultsFolder: location.resultsFolder)
            print("merged \(outcome.shards) shards of run '\(run)': \(outcome.units) units into \(outcome.database.path)")
            print("config hash \(outcome.configHash); cached answers that differed between shards: \(outcome.cacheConflicts)")
            print("next: the same autointerp run command without --shard runs the control pass")
        }
    }
}
