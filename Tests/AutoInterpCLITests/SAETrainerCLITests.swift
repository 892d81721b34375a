import AutoInterpTestSupport
import Foundation
import Testing

@testable import AutoInterp

/// `autointerp train-sae` end to end: dataset file in, SAELens folder out, readable by `encode`.
struct SAETrainerCLITests {
    @Test func trainsSavesAndEncodes() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let dataset = dir.path("acts.safetensors")
        try SyntheticDataset.write(to: dataset, contexts: 40, length: 10, width: 9, seed: 5)
        let folder = dir.path("sae")
        let result = try CLIRunner.run([
            "train-sae", "--activations", dataset.path, "--output", folder.path, "--expansion", "2", "--steps", "40",
            "--batch-size", "64", "--eval-tokens", "40", "--l1", "0.5", "--log-every", "20", "--seed", "3",
        ])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stderr.contains("step 40/40"))
        #expect(result.stdout.contains("held-out"))
        let sae = try SparseAutoencoder(folder: folder)
        #expect(sae.dIn == 9 && sae.dSAE == 18)
        #expect(sae.config.hookName != nil)
        let report = try JSONDecoder().decode(SAETrainingReport.self, from: Data(contentsOf: folder.appendingPathComponent("training.json")))
        #expect(report.summary.steps == 40)
        #expect((report.evaluation?.tokenCount ?? 0) >= 40)

        let encoded = dir.path("features.safetensors")
        let encode = try CLIRunner.run(["encode", "--sae", folder.path, "--activations", dataset.path, "--output", encoded.path, "--quiet"])
        #expect(encode.status == 0, "\(encode.stderr)")
        #expect(try SafeTensorsFile(url: encoded).metadata["d_sae"] == "18")
    }

    @Test func missingDatasetIsOneLine() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let result = try CLIRunner.run(["train-sae", "--activations", dir.path("nope.safetensors").path, "--output", dir.path("sae").path])
        #expect(result.status == 1)
        #expect(result.stderr.split(separator: "\n").count == 1, "\(result.stderr)")
        #expect(result.stderr.contains("nope.safetensors"))
    }
}
