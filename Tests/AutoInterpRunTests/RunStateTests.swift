import AutoInterpLLM
import AutoInterpTestSupport
import Foundation
import Testing

@testable import AutoInterp

/// A run's identity (`runs.config_json` and its hash) against its state (`run_state`: pinned
/// capabilities, prices): what a run found or may change freely never changes what it is.
struct RunStateTests {
    /// A v6 file whose config carries prices and pinned capabilities, as runs made before v7 did.
    static let v6Config = """
        {"activations":"/a.safetensors","featureSpec":"none","features":[],"neuronSpec":"0","neurons":[0],\
        "pipeline":{"endpoint":"http://e/v1","explainer":"llm","explainerSamples":1,"judgeModel":"m","model":"m",\
        "pinned":{"simulatorMode":"sparse","structuredOutput":"json_schema","topLogprobs":5},"prompts":{},\
        "recordsPerCall":5,"simulatorMode":"sparse","simulatorModel":"m"},"prices":{"completion":2,"prompt":1},\
        "selection":{},"vocab":"/v.json"}
        """

    @Test func version6ConfigsMoveTheirStateOutAndAreRehashed() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let url = dir.path("v6.sqlite")
        do {
            let db = try SQLiteDatabase(path: url.path)
            try db.migrate(Array(RunStore.migrations.prefix(6)))
            _ = try db.run(
                "INSERT INTO runs (id, name, created_at, config_json, config_hash) VALUES (1, 'r', '2026-01-01T00:00:00.000Z', ?, 'old')",
                [Self.v6Config])
        }
        let store = try RunStore(url: url)
        #expect(try store.database.userVersion() == RunStore.schemaVersion)
        #expect(try store.prices(runID: 1) == StoredPrices(prompt: 1, completion: 2))
        #expect(try store.capabilities(runID: 1) == PinnedCapabilities(simulatorMode: .sparse, topLogprobs: 5, structuredOutput: .jsonSchema))
        let run = try #require(try store.run(id: 1))
        #expect(!run.configJSON.contains("prices") && !run.configJSON.contains("pinned"))
        let config = try store.config(runID: 1)
        #expect(config.neurons == [0] && config.pipeline?.model == "m")
        // The stored identity is exactly what a run writes for that config, and its hash matches.
        #expect(run.configJSON == (try config.canonicalJSON()) && run.configHash == SHA256.hex(run.configJSON))
    }

    @Test func pricesAndPinnedCapabilitiesNeverChangeTheIdentityHash() async throws {
        let fixture = try ScriptedRunFixture(contexts: 40)
        defer { fixture.remove() }
        let endpoint = try fixture.endpoint()
        var request = try fixture.request(neurons: "0", endpoint: endpoint.baseURL)
        request.stages = [.explain]
        request.endpoint?.priceInputPerMillion = 1
        request.endpoint?.priceOutputPerMillion = 2
        let logger = PipelineSuites.PipelineTests.quietLogger()
        let first = try await RunCoordinator(logger: logger).run(request)
        let hash = first.run.configHash
        #expect(hash == SHA256.hex(first.run.configJSON) && !first.run.configJSON.contains("price"))
        #expect(try first.store.prices(runID: first.run.id) == StoredPrices(prompt: 1, completion: 2))
        #expect(try first.store.capabilities(runID: first.run.id)?.structuredOutput == .jsonSchema)

        // New prices: the same run (it resumes), the same identity, the new prices.
        request.endpoint?.priceInputPerMillion = 5
        let second = try await RunCoordinator(logger: logger).run(request)
        #expect(second.run.id == first.run.id && second.run.configHash == hash)
        #expect(try second.store.prices(runID: second.run.id) == StoredPrices(prompt: 5, completion: 2))
        // No prices at all: cleared, identity unchanged.
        request.endpoint?.priceInputPerMillion = nil
        request.endpoint?.priceOutputPerMillion = nil
        let third = try await RunCoordinator(logger: logger).run(request)
        #expect(third.run.configHash == hash)
        #expect(try third.store.prices(runID: third.run.id) == nil)
        // A setting that changes results does change it (refused without --force-new).
        var changed = request
        changed.recordsPerCall = 7
        changed.setup.forceNew = true
        let replaced = try await RunCoordinator(logger: logger).run(changed)
        #expect(replaced.run.configHash != hash)
    }

    @Test func exportNamesTheDatasetsModelAndLayer() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        var options = RunFixture.Options()
        options.features = 2
        options.neurons = 2
        options.dataset = DatasetDescription(model: "gpt2-small", layer: "8", hook: "blocks.8.hook_resid_pre")
        let (store, generated) = try RunFixture.create(in: dir.url, name: "fx", options: options)
        let rows = try ExplanationExport.rows(store: store, run: generated.run)
        #expect(!rows.isEmpty && rows.allSatisfy { $0.modelId == "gpt2-small" && $0.layer == "8" })
        // A dataset that says nothing leaves them null.
        let (plain, plainRun) = try RunFixture.create(in: dir.url, name: "plain", options: RunFixture.Options())
        #expect(try ExplanationExport.rows(store: plain, run: plainRun.run).allSatisfy { $0.modelId == nil && $0.layer == nil })
    }

    @Test func theDatasetDescriptionComesFromItsMetadata() {
        #expect(DatasetDescription(metadata: [:]) == nil)
        #expect(DatasetDescription(metadata: ["model": "m", "other": "x"]) == DatasetDescription(model: "m", layer: nil, hook: nil))
    }
}

/// Issue 23 item 5: a rerun with nothing left to ask sends nothing, not even a capability probe.
struct IdleRerunTests {
    @Test func aCompleteRunsRerunSendsNoRequest() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let (dataset, sae) = try ScriptedRun.writeDataset(in: dir, contexts: 40)
        let endpoint = try TestEndpoint(TestEndpoint.Configuration(handler: ScriptedLLM().handler))
        defer { endpoint.stop() }
        let request = try ScriptedRun.request(dir: dir, dataset: dataset, sae: sae, features: "0", neurons: "0-1", endpoint: endpoint.baseURL)
        let logger = PipelineSuites.PipelineTests.quietLogger()
        let first = try await RunCoordinator(logger: logger).run(request)
        #expect(first.summary.outcome == .complete, "\(first.summary.text)")
        let sent = endpoint.requestCount
        #expect(sent > 0)
        let again = try await RunCoordinator(logger: logger).run(request)
        #expect(endpoint.requestCount == sent, "the rerun sent \(endpoint.requestCount - sent) requests")
        #expect(again.summary.outcome == .complete && again.summary.remarks.contains { $0.contains("nothing left to ask") })
        // One unit loses its detection answers: the rerun is not idle and stores them again
        // (from the response cache, so still without a new request).
        let unit = try #require(try again.store.progress(runID: again.run.id).first { !$0.isDead })
        let explanation = try #require(unit.explanation)
        let answers = try again.store.classifications(explanationID: explanation.id, scorer: .detection).count
        _ = try again.store.database.run("DELETE FROM classifications WHERE explanation_id = ? AND scorer = 'detection'", [explanation.id])
        let third = try await RunCoordinator(logger: logger).run(request)
        #expect(third.summary.outcome == .complete && !third.summary.remarks.contains { $0.contains("nothing left to ask") })
        #expect(try third.store.classifications(explanationID: explanation.id, scorer: .detection).count == answers && answers > 0)
    }
}
