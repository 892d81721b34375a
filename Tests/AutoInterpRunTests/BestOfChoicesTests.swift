import AutoInterpLLM
import AutoInterpTestSupport
import Foundation
import Synchronization
import Testing

@testable import AutoInterp

extension PipelineSuites {
    /// Best-of-K in one call (`n`): on the scripted endpoint, K = 4 samples are one explainer call
    /// per unit where the endpoint gives `n` choices, each checked like a single answer (an unusable
    /// one is a recorded candidate failure), tokens counted over every choice, nothing asked again
    /// on a rerun; an endpoint that ignores `n` (one choice) or refuses it above a bound (llama.cpp:
    /// at most its slots) costs no extra call, and the run remembers it; batch lines carry `n`.
    @Suite(.serialized) struct BestOfChoicesTests {
        /// How the scripted endpoint treats `n`.
        enum Choices: Sendable {
            case honoured
            /// One choice whatever `n` asks (a server that ignores `n`).
            case ignored
            /// HTTP 400 above this many, as llama.cpp's server answers `n` above its slot count.
            case atMost(Int)
        }

        final class Counter: Sendable {
            let value = Mutex(0)
        }

        /// The completion tokens the scripted explainer bills per choice.
        static let tokensPerChoice = 7

        /// Sample k's answer: the scripted explainer's (the planted class) for even k, another class for
        /// odd k, blank for the `unusable` samples; choice i of a call seeded s is sample s + i.
        static func reply(_ seen: ChatRequestSeen, unusable: Set<Int>, oneChoice: Bool) -> TestReply {
            let scripted = ScriptedLLM()
            guard let request = seen.request, Self.isExplain(seen) else { return scripted.reply(seen) }
            let first = request.seed ?? 0
            let json = request.responseFormat?.type == "json_schema"
            let answers = (first..<first + (oneChoice ? 1 : max(1, request.n ?? 1))).map { sample -> String in
                if unusable.contains(sample) { return "   " }
                if sample.isMultiple(of: 2) { return scripted.reply(seen).content }
                let other = ScriptedLLM.classes[(sample / 2) % ScriptedLLM.classes.count].name
                return json ? "{\"explanation\": \(SimulatorAnswerFormat.quoted(other))}" : "Explanation: \(other)."
            }
            var reply = scripted.reply(seen)
            reply.content = answers[0]
            reply.choices = answers
            reply.completionTokens = tokensPerChoice
            return reply
        }

        static func isExplain(_ seen: ChatRequestSeen) -> Bool {
            guard let request = seen.request else { return false }
            let user = request.messages.first { $0.role == "user" }?.content ?? ""
            return ScriptedLLM.responders.first { $0.matches(request, user) }?.stage == StageName.explain.rawValue
        }

        static func endpoint(_ choices: Choices, unusable: Set<Int> = [], refused: Counter? = nil) throws -> TestEndpoint {
            var configuration = TestEndpoint.Configuration(handler: { seen in
                if case .ignored = choices { return Self.reply(seen, unusable: unusable, oneChoice: true) }
                return Self.reply(seen, unusable: unusable, oneChoice: false)
            })
            if case .atMost(let limit) = choices {
                configuration.router = { seen in
                    guard let request = try? JSONDecoder().decode(ChatCompletionRequest.self, from: seen.body), let n = request.n, n > limit
                    else { return nil }
                    refused?.value.withLock { $0 += 1 }
                    let message = "Field 'n': Value must be between 1 <= value <= \(limit), but got \(n)"
                    return (400, Data(#"{"error":{"code":400,"message":"\#(message)","type":"invalid_request_error"}}"#.utf8))
                }
            }
            return try TestEndpoint(configuration)
        }

        static func request(_ dir: TemporaryDirectory, endpoint: TestEndpoint, features: String = "0-1") throws -> RunRequest {
            let (dataset, sae) = try ScriptedRun.writeDataset(in: dir, contexts: 60)
            var request = try ScriptedRun.request(
                dir: dir, dataset: dataset, sae: sae, features: features, neurons: "none", endpoint: endpoint.baseURL)
            request.explainerSamples = 4
            request.stages = [.explain, .simulate, .score]
            request.unitsInFlight = 1  // one unit after the other: the second sees what the first learnt
            request.controls = .none
            return request
        }

        @Test func fourSamplesAreOneCallPerUnitWithEveryChoiceCheckedAndCounted() async throws {
            let dir = try TemporaryDirectory()
            defer { dir.remove() }
            let endpoint = try Self.endpoint(.honoured, unusable: [3])
            defer { endpoint.stop() }
            let request = try Self.request(dir, endpoint: endpoint)
            let result = try await RunCoordinator(logger: DetectionTests.quietLogger()).run(request)
            #expect(result.summary.isComplete, "\(result.summary.text)")
            let explainCalls = endpoint.seenRequests.filter(Self.isExplain)
            #expect(explainCalls.count == 2 && explainCalls.allSatisfy { $0.request?.n == 4 && $0.request?.temperature == 1 })
            let store = result.store
            for progress in try store.progress(runID: result.run.id) {
                let winner = try #require(progress.explanation)
                // Samples 0 and 2 name the planted class, 1 another one, 3 is blank: a recorded failure, never a candidate.
                #expect(try store.candidateExplanations(unitID: progress.unit.id).compactMap(\.candidateSample).sorted().count == 2)
                let failures = try store.candidateFailures(explanationID: winner.id)
                #expect(failures.map(\.sample) == [3] && failures.first?.answer == "   ", "\(failures)")
            }
            // Prompt tokens once per call, completion tokens of all four choices.
            // (The explain stage's calls include best-of-K's simulations: the explanations name their call.)
            let hashes = Set(try store.explanations(runID: result.run.id).compactMap(\.requestHash))
            let all = try store.llmCalls()
            let calls = all.filter { hashes.contains($0.requestHash) && !$0.cached }
            #expect(
                calls.count == 2 && calls.allSatisfy { $0.completionTokens == 4 * Self.tokensPerChoice && ($0.promptTokens ?? 0) > 0 },
                "\(all.map { ($0.stage ?? "-", $0.cached, $0.completionTokens ?? -1) })")
            // Resumed: nothing asked again.
            let before = endpoint.requestCount
            _ = try await RunCoordinator(logger: DetectionTests.quietLogger()).run(request)
            #expect(endpoint.requestCount == before)
        }

        @Test func anEndpointThatIgnoresNCostsNoExtraCallAndIsRemembered() async throws {
            let dir = try TemporaryDirectory()
            defer { dir.remove() }
            let endpoint = try Self.endpoint(.ignored)
            defer { endpoint.stop() }
            let request = try Self.request(dir, endpoint: endpoint)
            let result = try await RunCoordinator(logger: DetectionTests.quietLogger()).run(request)
            #expect(result.summary.isComplete, "\(result.summary.text)")
            let explainCalls = endpoint.seenRequests.filter(Self.isExplain).compactMap(\.request)
            // The first unit: one call with n (one choice back, its sample 0) and samples 1-3 alone;
            // the second: four calls without n, as the run now knows.
            #expect(explainCalls.count == 8 && explainCalls.count { $0.n != nil } == 1, "\(explainCalls.map(\.n))")
            #expect(try result.store.capabilities(runID: result.run.id)?.choicesPerCall == 1)
            for progress in try result.store.progress(runID: result.run.id) {
                #expect(try result.store.candidateExplanations(unitID: progress.unit.id).count == 3)
            }
            let before = endpoint.requestCount
            _ = try await RunCoordinator(logger: DetectionTests.quietLogger()).run(request)
            #expect(endpoint.requestCount == before)
        }

        @Test func anEndpointThatRefusesNAboveItsSlotsGetsThatMany() async throws {
            let dir = try TemporaryDirectory()
            defer { dir.remove() }
            let refused = Counter()
            let endpoint = try Self.endpoint(.atMost(2), refused: refused)
            defer { endpoint.stop() }
            let request = try Self.request(dir, endpoint: endpoint)
            let result = try await RunCoordinator(logger: DetectionTests.quietLogger()).run(request)
            #expect(result.summary.isComplete, "\(result.summary.text)")
            // One refusal in the run (n = 4), then every unit in calls of two choices.
            #expect(refused.value.withLock { $0 } == 1)
            let explainCalls = endpoint.seenRequests.filter(Self.isExplain).compactMap(\.request)
            #expect(explainCalls.count == 4 && explainCalls.allSatisfy { $0.n == 2 }, "\(explainCalls.map(\.n))")
            #expect(Set(explainCalls.compactMap(\.seed)) == [0, 2])
            #expect(try result.store.capabilities(runID: result.run.id)?.choicesPerCall == 2)
            for progress in try result.store.progress(runID: result.run.id) {
                #expect(try result.store.candidateExplanations(unitID: progress.unit.id).count == 3)
            }
            let before = endpoint.requestCount
            _ = try await RunCoordinator(logger: DetectionTests.quietLogger()).run(request)
            #expect(endpoint.requestCount == before && refused.value.withLock { $0 } == 1)
        }

        @Test func batchLinesCarryN() async throws {
            let dir = try TemporaryDirectory()
            defer { dir.remove() }
            let endpoint = try Self.endpoint(.honoured)
            defer { endpoint.stop() }
            var request = try Self.request(dir, endpoint: endpoint, features: "0")
            request.batch = BatchSettings(backend: .file(nil))
            let handler: @Sendable (ChatRequestSeen) -> TestReply = { Self.reply($0, unusable: [], oneChoice: false) }
            var result = try await RunCoordinator(logger: DetectionTests.quietLogger()).run(request)
            var lines: [[String: Any]] = []
            var waves = 0
            while result.summary.stoppedEarly != nil, waves < 10 {
                for batch in try result.store.batches() where batch.status == .written {
                    let text = try String(contentsOf: URL(fileURLWithPath: batch.localPath), encoding: .utf8)
                    lines += text.split(separator: "\n").compactMap {
                        try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
                    }
                }
                _ = try FileBatchRunner.answerOpenBatches(of: result.store, handler: handler)
                waves += 1
                result = try await RunCoordinator(logger: DetectionTests.quietLogger()).run(request)
            }
            #expect(result.summary.stoppedEarly == nil && result.summary.isComplete, "\(result.summary.text)")
            let bodies = lines.compactMap { $0["body"] as? [String: Any] }
            let explainLines = bodies.filter { ($0["n"] as? Int) != nil }
            #expect(explainLines.count == 1 && explainLines.first?["n"] as? Int == 4, "\(bodies.map { $0["n"] ?? "-" })")
            let progress = try #require(try result.store.progress(runID: result.run.id).first)
            #expect(try result.store.candidateExplanations(unitID: progress.unit.id).count == 3)
            #expect(endpoint.seenRequests.filter(Self.isExplain).isEmpty)
        }
    }
}
