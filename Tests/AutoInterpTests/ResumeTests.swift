import AutoInterpLLM
import AutoInterpTestSupport
import Foundation
import Testing

@testable import AutoInterp

/// Killing `autointerp run` (kill -9) and running the same command again finishes the run with
/// no duplicate rows, no lost rows and no network request for work answered before the kill.
extension PipelineSuites {
struct ResumeTests {
    @Test func killedRunResumesWithoutDuplicatesOrRepeatedCalls() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let (dataset, sae) = try ScriptedRun.writeDataset(in: dir, contexts: 60)
        let endpoint = try TestEndpoint(TestEndpoint.Configuration(latency: .milliseconds(40), handler: ScriptedLLM().handler))
        defer { endpoint.stop() }
        let args = [
            "run", "--activations", dataset.path, "--sae", sae.path, "--features", "all", "--neurons", "0-3", "--name", "r",
            "--results", dir.path("results").path, "--endpoint", endpoint.baseURL, "--model", "m", "--api-key-env", "AUTOINTERP_TEST_NO_KEY",
            "--prompts", ScriptedRun.promptsFolder.path, "--max-in-flight", "4", "--per-bin", "1", "--non-activating", "2", "--quiet",
        ]

        // First invocation: killed with SIGKILL once the endpoint has answered some requests.
        // Waiting and polling happen off the cooperative pool, so other suites' tasks keep running.
        let child = try ScriptedProcess(args)
        let (wasRunning, killed) = try await offCooperativePool {
            let deadline = Date().addingTimeInterval(60)
            while endpoint.requestCount < 40, child.isRunning, Date() < deadline { usleep(2000) }
            let running = child.isRunning
            child.kill9()
            return (running, child.wait())
        }
        #expect(wasRunning, "the run finished before it could be killed")
        #expect(killed.status != 0)
        let seenBeforeKill = endpoint.requestCount

        // What the database holds after the crash.
        let url = dir.path("results/r/autointerp.sqlite")
        let cachedAtKill: Set<String>
        let explanationsAtKill: [StoredExplanation]
        var simulationsAtKill = 0
        do {
            let store = try RunStore(url: url)
            cachedAtKill = Set(try store.database.query("SELECT request_hash FROM llm_cache").compactMap { $0.string("request_hash") })
            let run = try #require(try store.run(named: "r"))
            explanationsAtKill = try store.explanations(runID: run.id)
            for explanation in explanationsAtKill { simulationsAtKill += try store.simulations(explanationID: explanation.id).count }
        }
        #expect(!cachedAtKill.isEmpty && !explanationsAtKill.isEmpty)

        // Second invocation: the same command runs to completion.
        let resumed = try await offCooperativePool { try CLIRunner.run(args, timeout: 120) }
        #expect(resumed.status == 0, "\(resumed.stderr)")
        #expect(resumed.stdout.contains("run finished: every unit has its results"), "\(resumed.stdout)")

        // No request answered (and cached) before the kill is sent again.
        let all = endpoint.seenRequests
        let secondRun = all.dropFirst(seenBeforeKill)
        func hash(_ seen: ChatRequestSeen) -> String {
            LLMRequestHash.compute(endpoint: endpoint.baseURL, model: seen.request?.model ?? "m", canonicalBody: seen.body)
        }
        let resent = secondRun.filter { cachedAtKill.contains(hash($0)) }
        #expect(resent.isEmpty, "\(resent.count) cached requests were sent again")
        let distinct = Set(all.map(hash))
        #expect(secondRun.count <= distinct.count - cachedAtKill.count)
        // Only requests not answered into the cache at the kill may reach the endpoint twice: the 4
        // in flight, and answers received whose slot was already freed (`LLMClient.send` releases
        // it when the HTTP answer arrives, before the answer is stored), at most 4 more.
        #expect(all.count - distinct.count <= 8)

        // Every unit complete, exactly once; nothing stored before the kill was lost or changed.
        let store = try RunStore(url: url)
        let run = try #require(try store.run(named: "r"))
        #expect(run.status == "done")
        let units = try store.units(runID: run.id)
        #expect(units.count == 11)
        var simulations = 0
        for unit in units {
            let explanations = try store.explanations(unitID: unit.id)
            #expect(explanations.count == 1, "\(unit.unit)")
            guard let explanation = explanations.first else { continue }
            let sims = try store.simulations(explanationID: explanation.id)
            simulations += sims.count
            let scored = try store.examples(unitID: unit.id, role: .score, subset: .top).count
                + store.examples(unitID: unit.id, role: .score, subset: .random).count
            #expect(sims.count == scored && scored > 0)
            // Six correlations, five detection and five fuzzing metrics.
            #expect(try store.scores(explanationID: explanation.id).count == 16)
            #expect(try store.rubricRatings(explanationID: explanation.id).count == store.examples(unitID: unit.id, role: .score, subset: .quantile).count)
        }
        let explanations = try store.explanations(runID: run.id)
        for old in explanationsAtKill {
            #expect(explanations.contains { $0.id == old.id && $0.text == old.text }, "explanation \(old.id) was lost")
        }
        #expect(simulations >= simulationsAtKill)
        // Row counts straight from the tables: no duplicates anywhere.
        let count = { (sql: String) in try store.database.scalar(sql).flatMap(Int.init(sqliteValue:)) ?? -1 }
        #expect(try count("SELECT COUNT(*) FROM explanations") == 11)
        #expect(try count("SELECT COUNT(*) FROM simulations") == simulations)
        #expect(try count("SELECT COUNT(*) FROM (SELECT explanation_id, subset, record_idx FROM simulations GROUP BY 1, 2, 3 HAVING COUNT(*) > 1)") == 0)
        #expect(try count("SELECT COUNT(*) FROM scores") == 11 * 16)
        #expect(try count("SELECT COUNT(*) FROM classifications WHERE status = 'ok'") == count("SELECT COUNT(*) FROM classifications"))
        #expect(try count("SELECT COUNT(*) FROM classifications") == 2 * count("SELECT COUNT(*) FROM examples WHERE role = 'classify'"))
        #expect(try count("SELECT COUNT(*) FROM (SELECT explanation_id, record_idx FROM rubric_ratings GROUP BY 1, 2 HAVING COUNT(*) > 1)") == 0)
    }
}
}
