@testable import AutoInterp
import AutoInterpLLM
import AutoInterpTestSupport
import Foundation
import Logging
import Testing

// MARK: - Fixtures

/// A pool config over `endpoints` (caps as given, nil = ask `/props`), with quick retries and breaker.
private func poolConfig(
    _ endpoints: [TestEndpoint], caps: [Int?], group: String = "test-group", keyEnvs: [String?]? = nil,
    breaker: LLMEndpointPool.Breaker = .init(failures: 2, cooldown: 0.2, maxCooldown: 1)
) -> LLMEndpointConfig {
    let members = endpoints.enumerated().map { index, endpoint in
        LLMEndpointPool.Member(name: "r\(index)", url: endpoint.baseURL, keyEnv: keyEnvs?[index] ?? nil, maxInFlight: caps[index])
    }
    var config = LLMEndpointConfig(
        baseURL: "", model: "test-model", apiKeyEnv: "AUTOINTERP_TEST_NO_KEY", connectTimeout: 2, requestTimeout: 5, maxInFlight: 4,
        retry: .init(maxAttempts: 6, maxTotalTime: 20, baseBackoff: 0.01, maxBackoff: 0.05, jitter: 0))
    config = config.using(pool: LLMEndpointPool(group: group, endpoints: members, breaker: breaker))
    return config
}

private func quietLogger() -> Logger {
    var logger = Logger(label: "test.pool")
    logger.logLevel = .critical
    return logger
}

private func ask(_ client: LLMClient, _ text: String) async throws -> LLMCompletion {
    try await client.complete(ChatCompletionRequest(messages: [.user(text)], temperature: 0, maxTokens: 16))
}

// MARK: - Tests

/// Timing-sensitive (latency ratios): one at a time with the other client suites.
extension ClientSuites {
struct EndpointPoolTests {
    @Test func threeReplicasAnswerEveryRequestOnceAndTheFastestTakesMost() async throws {
        // r0 is fast, r1 slow, r2 medium but failing its first 4 requests (HTTP 503).
        let fast = try TestEndpoint(latency: .milliseconds(5))
        let slow = try TestEndpoint(latency: .milliseconds(300))
        let flaky = try TestEndpoint(latency: .milliseconds(20), faults: TestFaultPlan { $0 <= 4 ? .status(503) : nil })
        let breaker = LLMEndpointPool.Breaker(failures: 2, cooldown: 0.01, maxCooldown: 0.04)
        defer { [fast, slow, flaky].forEach { $0.stop() } }
        let store = InMemoryResponseStore()
        let client = try LLMClient(
            config: poolConfig([fast, slow, flaky], caps: [2, 2, 2], breaker: breaker), store: store, logger: quietLogger())

        let count = 120
        let answers = try await withThrowingTaskGroup(of: (Int, String).self) { group in
            for i in 0..<count { group.addTask { (i, try await ask(client, "question \(i)").content ?? "") } }
            return try await group.reduce(into: [Int: String]()) { $0[$1.0] = $1.1 }
        }
        #expect(answers.count == count)
        for i in 0..<count { #expect(answers[i] == "echo: question \(i)") }

        // Every answer once: the answered requests plus the 4 refused ones, nothing sent twice;
        // the failing replica came back after its cool-downs and took work again.
        let answered = [fast, slow, flaky].map(\.requestCount)
        #expect(answered[0] + answered[1] + answered[2] == count + 4, "\(answered)")
        #expect(answered[2] > 8, "\(answered)")
        let bodies = [fast, slow, flaky].flatMap(\.seenRequests).map(\.lastUserMessage)
        #expect(Set(bodies).count == count)
        #expect(store.responses.count == count)
        // Faster replicas take more: 5 ms against 20 and 300 ms. Only the order is checked: on a
        // machine running the whole suite a request's own CPU time can reach the slow latency.
        #expect(answered[0] > answered[2] && answered[0] > answered[1], "\(answered)")

        // The calls name the replica's URL; the hash names the group.
        let calls = store.calls.filter { !$0.cached && $0.error == nil }
        #expect(calls.count == count)
        #expect(Set(calls.map(\.endpoint)).isSubset(of: [fast.baseURL, slow.baseURL, flaky.baseURL]))
        #expect(calls.filter { $0.endpoint == fast.baseURL }.count == answered[0])
        let request = ChatCompletionRequest(messages: [.user("question 0")], temperature: 0, maxTokens: 16)
        var sent = request
        sent.model = "test-model"
        #expect(try client.requestHash(for: request)
            == LLMRequestHash.compute(endpoint: "test-group", model: "test-model", canonicalBody: try sent.canonicalBody()))
    }

    @Test func replicasShareOneCacheAndASingleEndpointKeepsItsHash() async throws {
        let one = try TestEndpoint()
        let two = try TestEndpoint()
        defer { one.stop(); two.stop() }
        let store = InMemoryResponseStore()
        let first = try LLMClient(config: poolConfig([one], caps: [2]), store: store, logger: quietLogger())
        _ = try await ask(first, "shared")
        // Another pool of the same group on another server answers from the cache.
        let second = try LLMClient(config: poolConfig([two], caps: [2]), store: store, logger: quietLogger())
        let again = try await ask(second, "shared")
        #expect(again.cached && two.requestCount == 0)

        // One endpoint without a pool hashes its URL, exactly as before pools existed.
        let single = try LLMClient(
            config: LLMEndpointConfig(baseURL: one.baseURL, model: "test-model", apiKeyEnv: "AUTOINTERP_TEST_NO_KEY"))
        var request = ChatCompletionRequest(messages: [.user("shared")], temperature: 0, maxTokens: 16)
        request.model = "test-model"
        #expect(try single.requestHash(for: request)
            == LLMRequestHash.compute(endpoint: one.baseURL, model: "test-model", canonicalBody: try request.canonicalBody()))
        #expect(single.requestsPerReplica.count == 1)
    }

    @Test func aReplicaThatKeepsFailingIsLeftOutThenProbed() async throws {
        let good = try TestEndpoint(latency: .milliseconds(2))
        let broken = try TestEndpoint(latency: .zero, faults: TestFaultPlan { _ in .status(500) })
        defer { good.stop(); broken.stop() }
        // The broken replica has one slot: it is sent exactly `failures` requests before its breaker opens.
        let client = try LLMClient(
            config: poolConfig([broken, good], caps: [1, 4], breaker: .init(failures: 2, cooldown: 30, maxCooldown: 60)),
            logger: quietLogger())
        for i in 0..<30 { _ = try await ask(client, "q\(i)") }
        #expect(broken.requestCount == 2)
        #expect(good.requestCount == 30)

        // With a short cool-down, one half-open probe goes out per cool-down, and it rejoins once it answers.
        let recovering = try TestEndpoint(latency: .zero, faults: TestFaultPlan { $0 <= 3 ? .status(503) : nil })
        defer { recovering.stop() }
        let healing = try LLMClient(
            config: poolConfig([recovering, good], caps: [1, 1], breaker: .init(failures: 2, cooldown: 0.05, maxCooldown: 0.1)),
            logger: quietLogger())
        let deadline = ContinuousClock.now + .seconds(5)
        var i = 0
        while recovering.requestCount < 6, ContinuousClock.now < deadline {
            _ = try await ask(healing, "h\(i)")
            i += 1
            try await Task.sleep(for: .milliseconds(10))
        }
        let recovered = recovering.requestCount
        #expect(recovered >= 6, "the replica never came back: \(recovered) requests")

        // A lone replica whose breaker is open: the call waits out each cool-down for its probe.
        let lone = try TestEndpoint(latency: .zero, faults: TestFaultPlan { $0 <= 3 ? .status(503) : nil })
        defer { lone.stop() }
        let waiting = try LLMClient(
            config: poolConfig([lone], caps: [1], breaker: .init(failures: 2, cooldown: 0.1, maxCooldown: 1)), logger: quietLogger())
        let started = ContinuousClock.now
        let answer = try await ask(waiting, "patient")
        #expect(answer.content == "echo: patient" && lone.requestCount == 4)
        // Open after 2 failures (0.1 s), the probe fails (0.2 s), the next probe answers.
        #expect(ContinuousClock.now - started >= .milliseconds(300))
    }

    @Test func llamaCppSlotsCapAReplicaWithoutItsOwnCap() async throws {
        let endpoint = try TestEndpoint(TestEndpoint.Configuration(latency: .milliseconds(40), totalSlots: 3))
        defer { endpoint.stop() }
        let client = try LLMClient(config: poolConfig([endpoint], caps: [nil]), logger: quietLogger())
        try await withThrowingTaskGroup(of: Void.self) { group in
            for i in 0..<12 { group.addTask { _ = try await ask(client, "s\(i)") } }
            try await group.waitForAll()
        }
        #expect(endpoint.peakConcurrency == 3)
        #expect(endpoint.requestCount == 12)  // `/props` is not a chat request
    }

    @Test func aRefusedKeyOnOneReplicaStopsEveryCall() async throws {
        let fine = try TestEndpoint(latency: .milliseconds(30))
        let refusing = try TestEndpoint(latency: .zero, faults: TestFaultPlan { _ in .status(401) })
        defer { fine.stop(); refusing.stop() }
        let client = try LLMClient(
            config: poolConfig([fine, refusing], caps: [1, 1], keyEnvs: [nil, "AUTOINTERP_POOL_KEY_B"]), logger: quietLogger(),
            environment: { $0 == "AUTOINTERP_POOL_KEY_B" ? "sk-pool-secret" : nil })
        // Four calls at once over two one-slot replicas: the second goes to the refusing one.
        let errors: [LLMError] = await withTaskGroup(of: LLMError?.self) { group in
            for i in 0..<4 {
                group.addTask {
                    do {
                        _ = try await ask(client, "k\(i)")
                        return nil
                    } catch {
                        return error as? LLMError
                    }
                }
            }
            var found: [LLMError] = []
            for await error in group { if let error { found.append(error) } }
            return found
        }
        #expect(client.isHalted)
        #expect(errors.count >= 2 && errors.allSatisfy(\.isFatalForRun))
        let first = try #require(errors.first { !$0.isHalted })
        #expect(first.isAuthenticationFailure && first.isFatalForRun)
        #expect(first.message.contains(refusing.baseURL) && first.message.contains("AUTOINTERP_POOL_KEY_B"))
        #expect(!first.message.contains("sk-pool-secret"))
        // After the 401 nothing is sent to any replica.
        let sent = fine.requestCount + refusing.requestCount
        await #expect(throws: LLMError.self) { _ = try await ask(client, "after") }
        #expect(fine.requestCount + refusing.requestCount == sent)
        #expect(refusing.requestCount == 1)
    }

    @Test func aMixedPoolIsRefusedInOneLine() async throws {
        let full = try TestEndpoint(TestEndpoint.Configuration(structuredOutputs: .jsonSchema))
        let partial = try TestEndpoint(TestEndpoint.Configuration(structuredOutputs: .jsonObjectOnly))
        defer { full.stop(); partial.stop() }
        let client = try LLMClient(config: poolConfig([full, partial], caps: [2, 2]), logger: quietLogger())
        do {
            _ = try await StructuredOutputProbe.probe(client)
            Issue.record("a mixed pool was accepted")
        } catch let error as LLMError {
            #expect(error.isFatalForRun)
            #expect(error.message.contains("is mixed") && error.message.contains("\"r1\"") && error.message.contains(partial.baseURL))
            #expect(error.message.contains("json_schema") && error.message.contains("json_object"))
            #expect(!error.message.contains("\n"))
        }
        // A uniform pool probes every replica and agrees.
        let same = try TestEndpoint(TestEndpoint.Configuration(structuredOutputs: .jsonSchema))
        defer { same.stop() }
        let uniform = try LLMClient(config: poolConfig([full, same], caps: [2, 2]), logger: quietLogger())
        let support = try await StructuredOutputProbe.probe(uniform)
        #expect(support.level == .jsonSchema && support.certain)
        #expect(same.requestCount == 1)
    }

    @Test func aPoolWithAndWithoutLogprobsIsRefused() async throws {
        let with = try TestEndpoint()
        let without = try TestEndpoint(latency: .zero) { seen in
            var reply = TestReply.echo(seen)
            reply.logprobs = nil
            return reply
        }
        defer { with.stop(); without.stop() }
        let client = try LLMClient(config: poolConfig([with, without], caps: [2, 2]), logger: quietLogger())
        await #expect {
            _ = try await SimulatorModeProbe.resolve(.auto, client: client, model: "test-model")
        } throws: { error in
            let message = (error as? LLMError)?.message ?? ""
            return message.contains("is mixed") && message.contains("\"r1\"") && message.contains("logprobs") && message.contains("json")
        }
        // A forced mode asks nothing of the replicas.
        #expect(try await SimulatorModeProbe.resolve(.sparse, client: client, model: "test-model").mode == .sparse)
    }

    @Test func aRunOverAPoolStoresTheReplicaOfEveryCallAndRefusesAMixedPool() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let (dataset, sae) = try ScriptedRun.writeDataset(in: dir)
        let endpoints = try [5, 40].map { ms in
            try TestEndpoint(TestEndpoint.Configuration(latency: .milliseconds(ms), handler: ScriptedLLM().handler))
        }
        defer { endpoints.forEach { $0.stop() } }
        var request = try ScriptedRun.request(dir: dir, dataset: dataset, sae: sae, neurons: "0-1", endpoint: endpoints[0].baseURL)
        request.stages = [.explain, .simulate, .score]
        request.endpoint = poolConfig(endpoints, caps: [2, 2])
        let summary = try await RunCoordinator(logger: quietLogger()).run(request).summary
        #expect(summary.scored == 2 && summary.stoppedEarly == nil, "\(summary.text)")
        let store = try RunStore(url: request.setup.databaseURL)
        let run = try #require(try store.run(named: "run"))
        #expect(try RunConfig.decode(run.configJSON).pipeline?.endpoint == "test-group")
        let sent = try store.llmCalls().filter { !$0.cached }
        #expect(!sent.isEmpty && sent.allSatisfy { $0.endpoint == endpoints[0].baseURL || $0.endpoint == endpoints[1].baseURL })
        let report = try ReportWriter.write(store: store, run: run)
        let markdown = try String(contentsOf: report.markdown, encoding: .utf8)
        #expect(markdown.contains("By endpoint") && markdown.contains(endpoints[0].baseURL) && markdown.contains(endpoints[1].baseURL))

        let partial = try TestEndpoint(TestEndpoint.Configuration(structuredOutputs: .jsonObjectOnly, handler: ScriptedLLM().handler))
        defer { partial.stop() }
        var mixed = try ScriptedRun.request(name: "mixed", dir: dir, dataset: dataset, sae: sae, neurons: "0", endpoint: partial.baseURL)
        mixed.endpoint = poolConfig([endpoints[0], partial], caps: [2, 2])
        let refused = try await RunCoordinator(logger: quietLogger()).run(mixed).summary
        #expect(refused.stoppedEarly?.contains("is mixed") == true && refused.scored == 0, "\(refused.text)")
    }

    @Test func theCLIRunsOverAnEndpointsFile() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let (dataset, sae) = try ScriptedRun.writeDataset(in: dir)
        let endpoints = try (0..<2).map { _ in try TestEndpoint(TestEndpoint.Configuration(handler: ScriptedLLM().handler)) }
        let partial = try TestEndpoint(TestEndpoint.Configuration(structuredOutputs: .jsonObjectOnly, handler: ScriptedLLM().handler))
        defer { (endpoints + [partial]).forEach { $0.stop() } }
        func file(_ name: String, _ urls: [String]) throws -> String {
            let members = urls.enumerated().map { #"{"name": "r\#($0.offset)", "url": "\#($0.element)", "max_in_flight": 2}"# }
            let path = dir.path(name).path
            try Data(#"{"group": "scripted", "model": "test-model", "endpoints": [\#(members.joined(separator: ", "))]}"#.utf8)
                .write(to: URL(fileURLWithPath: path))
            return path
        }
        let good = try file("pool.json", endpoints.map(\.baseURL))
        func run(_ name: String, _ extra: [String]) throws -> CLIRunner.Result {
            try CLIRunner.run([
                "run", "--activations", dataset.path, "--sae", sae.path, "--neurons", "0-1", "--name", name,
                "--results", dir.path("results").path, "--prompts", ScriptedRun.promptsFolder.path, "--rubric", ScriptedRun.rubricFile.path,
                "--stages", "explain,simulate,score", "--quiet",
            ] + extra)
        }
        let result = try run("pool", ["--endpoints", good])
        #expect(result.status == 0 && result.stdout.contains("2 units, 2 scored"), "\(result.stdout) \(result.stderr)")
        #expect(endpoints.allSatisfy { $0.requestCount > 0 })

        let mixed = try run("mixed", ["--endpoints", try file("mixed.json", [endpoints[0].baseURL, partial.baseURL])])
        #expect(mixed.status != 0 && (mixed.stdout + mixed.stderr).contains("is mixed"), "\(mixed.stdout) \(mixed.stderr)")
        let both = try run("both", ["--endpoints", good, "--endpoint", endpoints[0].baseURL])
        #expect(both.status != 0 && both.stderr.contains("not both"), "\(both.stderr)")
    }

    @Test func endpointsFilesAreCheckedWithOneLine() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        func load(_ text: String, model: String? = nil) throws -> LLMEndpointPool {
            let path = dir.path("endpoints.json").path
            try Data(text.utf8).write(to: URL(fileURLWithPath: path))
            return try LLMEndpointPool.load(path: path, defaultGroup: model)
        }
        let pool = try load(#"""
            {"group": "g", "model": "m", "rpm": 300, "endpoints": [
             {"name": "a", "url": "http://127.0.0.1:1/v1", "key_env": "KEY_A", "max_in_flight": 3, "weight": 2},
             {"name": "b", "url": "http://127.0.0.1:2/v1", "tpm": 1000}], "breaker": {"failures": 5}}
            """#)
        #expect(pool.group == "g" && pool.endpoints[0].keyEnv == "KEY_A" && pool.endpoints[0].maxInFlight == 3)
        #expect(pool.breaker.failures == 5 && pool.breaker.cooldown == 5)
        let config = LLMEndpointConfig(baseURL: "", model: "", maxInFlight: 7).using(pool: pool)
        #expect(config.model == "m" && config.endpointName == "g" && config.maxInFlight == 3 + 7)
        try config.validate()

        let bare = try load(#"[{"name": "a", "url": "http://127.0.0.1:1/v1"}]"#, model: "llama")
        #expect(bare.group == "llama")
        #expect(throws: LLMError.self) { try load(#"[{"name": "a", "url": "http://127.0.0.1:1/v1"}]"#) }
        #expect(throws: LLMError.self) { try load("{not json") }

        let problems: [(String, String)] = [
            (#"{"group": "g", "endpoints": []}"#, "lists no endpoints"),
            (#"{"group": "g", "endpoints": [{"name": "a", "url": "http://h:1/v1"}, {"name": "a", "url": "http://h:2/v1"}]}"#, "named \"a\""),
            (#"{"group": "g", "endpoints": [{"name": "a", "url": "ftp://h/v1"}]}"#, "endpoint \"a\" of group \"g\""),
            (#"{"group": "g", "endpoints": [{"name": "a", "url": "http://h:1/v1", "weight": 0}]}"#, "weight"),
            (#"{"group": "g", "endpoints": [{"name": "a", "url": "http://h:1/v1", "key_env": "sk-123 4"}]}"#, "environment variable"),
        ]
        for (text, expected) in problems {
            let config = LLMEndpointConfig(baseURL: "", model: "m").using(pool: try load(text))
            do {
                try config.validate()
                Issue.record("accepted: \(text)")
            } catch let error as LLMError {
                #expect(error.message.contains(expected), "\(error.message)")
                #expect(!error.message.contains("\n"))
            }
        }
    }
}
}
