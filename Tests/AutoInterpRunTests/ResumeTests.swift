import AutoInterpLLM
import AutoInterpTestSupport
import Foundation
import Testing

@testable import AutoInterp

/// Killing `autointerp run` (kill -9) and running the same command again finishes the run with
/// no duplicate rows, no lost rows and no network request for work answered before the kill.
extension PipelineSuites {
@Suite(.serialized) struct ResumeTests {
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
        #expect(run.status == .done)
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
        #expect(try count("SELECT COUNT(*) FROM explanations WHERE control_of IS NULL") == 11)
        #expect(try count("SELECT COUNT(*) FROM simulations WHERE explanation_id IN (SELECT id FROM explanations WHERE control_of IS NULL)") == simulations)
        #expect(try count("SELECT COUNT(*) FROM (SELECT explanation_id, subset, record_idx FROM simulations GROUP BY 1, 2, 3 HAVING COUNT(*) > 1)") == 0)
        // The control pass ran after the units: one control each, scored like the unit.
        #expect(try count("SELECT COUNT(*) FROM explanations WHERE control_of IS NOT NULL AND explainer = 'control'") == 11)
        #expect(try count("SELECT COUNT(*) FROM scores") == 2 * 11 * 16)
        #expect(try count("SELECT COUNT(*) FROM classifications WHERE status = 'ok'") == count("SELECT COUNT(*) FROM classifications"))
        #expect(try count("SELECT COUNT(*) FROM classifications") == 2 * 2 * count("SELECT COUNT(*) FROM examples WHERE role = 'classify'"))
        #expect(try count("SELECT COUNT(*) FROM (SELECT explanation_id, record_idx FROM rubric_ratings GROUP BY 1, 2 HAVING COUNT(*) > 1)") == 0)
    }

    /// Killed during the control pass (after the first control simulation is stored), the same
    /// command finishes the controls: what was stored is kept as it was, no answered request is sent again.
    @Test func runKilledInTheControlPassResumesIt() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let (dataset, sae) = try ScriptedRun.writeDataset(in: dir, contexts: 60)
        let endpoint = try TestEndpoint(TestEndpoint.Configuration(latency: .milliseconds(60), handler: ScriptedLLM().handler))
        defer { endpoint.stop() }
        let args = [
            "run", "--activations", dataset.path, "--sae", sae.path, "--features", "0-3", "--neurons", "0-3", "--name", "c",
            "--results", dir.path("results").path, "--endpoint", endpoint.baseURL, "--model", "m", "--api-key-env", "AUTOINTERP_TEST_NO_KEY",
            "--prompts", ScriptedRun.promptsFolder.path, "--max-in-flight", "2", "--per-bin", "1", "--non-activating", "2", "--quiet",
            "--stages", "explain,simulate,score",
        ]
        let url = dir.path("results/c/autointerp.sqlite")
        let controlSimulations = """
            SELECT COUNT(*) FROM simulations s JOIN explanations e ON e.id = s.explanation_id WHERE e.control_of IS NOT NULL
            """
        let child = try ScriptedProcess(args)
        let (wasRunning, killed) = try await offCooperativePool { () throws -> (Bool, CLIRunner.Result) in
            let deadline = Date().addingTimeInterval(90)
            var store: RunStore?
            while child.isRunning, Date() < deadline {
                usleep(3000)
                if store == nil, FileManager.default.fileExists(atPath: url.path) { store = try? RunStore(url: url) }
                let seen = (try? store?.database.scalar(controlSimulations)).flatMap { $0.flatMap(Int.init(sqliteValue:)) } ?? 0
                if seen > 0 { break }
            }
            let running = child.isRunning
            child.kill9()
            return (running, child.wait())
        }
        #expect(wasRunning, "the run finished before its control pass could be killed")
        #expect(killed.status != 0)
        let seenBeforeKill = endpoint.requestCount

        let store = try RunStore(url: url)
        let run = try #require(try store.run(named: "c"))
        let count = { (sql: String) in try store.database.scalar(sql).flatMap(Int.init(sqliteValue:)) ?? -1 }
        let controlsAtKill = try store.controlExplanations(runID: run.id)
        let simulationsAtKill = try store.database.query(
            "SELECT s.id, s.created_at, s.pred_json FROM simulations s JOIN explanations e ON e.id = s.explanation_id WHERE e.control_of IS NOT NULL"
        ).map { [String($0.int64("id") ?? 0), $0.string("created_at") ?? "", $0.string("pred_json") ?? ""] }
        let cachedAtKill = Set(try store.database.query("SELECT request_hash FROM llm_cache").compactMap { $0.string("request_hash") })
        let scoredControlsAtKill = try store.controlProgress(runID: run.id).count { $0.hasScore(.spearman, .all) }
        #expect(controlsAtKill.count == 8 && !simulationsAtKill.isEmpty)
        #expect(scoredControlsAtKill < 8, "every control was scored before the kill")

        let resumed = try await offCooperativePool { try CLIRunner.run(args, timeout: 120) }
        #expect(resumed.status == 0, "\(resumed.stderr)")
        #expect(resumed.stdout.contains("controls (another unit's explanation, the random floor): 8 stored, 8 scored, 0 failed"), "\(resumed.stdout)")

        // The controls stored before the kill are the ones used; their simulations are untouched.
        #expect(try store.controlExplanations(runID: run.id) == controlsAtKill)
        let simulationsAfter = try store.database.query(
            "SELECT s.id, s.created_at, s.pred_json FROM simulations s JOIN explanations e ON e.id = s.explanation_id WHERE e.control_of IS NOT NULL"
        ).map { [String($0.int64("id") ?? 0), $0.string("created_at") ?? "", $0.string("pred_json") ?? ""] }
        for row in simulationsAtKill { #expect(simulationsAfter.contains(row), "control simulation \(row[0]) changed") }
        for control in try store.controlProgress(runID: run.id) {
            #expect(control.simulated.count == control.scoredExamples && control.failedSimulations == 0, "\(control.unit.unit)")
            #expect(control.scores.count == 6)
        }
        // No request answered before the kill reaches the endpoint again; nothing is duplicated.
        let resent = endpoint.seenRequests.dropFirst(seenBeforeKill).filter { seen in
            cachedAtKill.contains(LLMRequestHash.compute(endpoint: endpoint.baseURL, model: seen.request?.model ?? "m", canonicalBody: seen.body))
        }
        #expect(resent.isEmpty, "\(resent.count) cached requests were sent again")
        #expect(try count("SELECT COUNT(*) FROM explanations") == 16)
        #expect(try count("SELECT COUNT(*) FROM (SELECT explanation_id, subset, record_idx FROM simulations GROUP BY 1, 2, 3 HAVING COUNT(*) > 1)") == 0)
        #expect(try count("SELECT COUNT(*) FROM scores") == 16 * 6)
        // The control calls are logged under the simulate stage.
        #expect(try count("SELECT COUNT(DISTINCT unit) FROM llm_calls WHERE stage = 'simulate'") == 8)
    }
}
}
