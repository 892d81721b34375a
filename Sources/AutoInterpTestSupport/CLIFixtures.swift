package import AutoInterp
package import Foundation

/// Small inputs the command-line tests share: a synthetic dataset with its SAE, a fixture run,
/// and the one-line error contract.
package enum CLIFixtures {
    /// A 40-context synthetic dataset (width 9) and its SAE in `dir`: `acts.safetensors`, `sae/`.
    package static func example(_ dir: TemporaryDirectory) throws -> (dataset: URL, sae: URL) {
        let dataset = dir.path("acts.safetensors")
        try SyntheticDataset.write(to: dataset, contexts: 40, length: 10, width: 9, seed: 5)
        try SyntheticDataset.writeSAE(to: dir.path("sae"), width: 9, seed: 5)
        return (dataset, dir.path("sae"))
    }

    /// A fixture run of 6 features and 5 neurons named `name` under `dir`.
    package static func run(_ dir: TemporaryDirectory, name: String = "fx", seed: UInt64 = 1, featureNoise: Double = 1.5)
        throws -> (store: RunStore, generated: RunFixture.Generated)
    {
        var options = RunFixture.Options()
        options.features = 6
        options.neurons = 5
        options.seed = seed
        options.featureNoise = featureNoise
        return try RunFixture.create(in: dir.url, name: name, options: options)
    }
}

extension CLIRunner.Result {
    /// What breaks the one-line error contract (exit status 1, exactly one stderr line holding
    /// every fragment), or nil when it holds.
    package func oneLineErrorProblem(_ fragments: [String]) -> String? {
        if status != 1 { return "status \(status): \(stderr)" }
        if stderr.split(separator: "\n").count != 1 { return "not one stderr line: \(stderr)" }
        if let missing = fragments.first(where: { !stderr.contains($0) }) { return "missing '\(missing)' in: \(stderr)" }
        return nil
    }
}
