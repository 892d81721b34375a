public import AutoInterpLLM
import Foundation

/// The simulator that asks an LLM, in logprob or JSON mode.
///
/// Records are sent ``recordsPerCall`` at a time (batches run concurrently; the client caps
/// requests in flight). When any record of a reply does not parse, the batch is asked once more
/// with the bad answer and the reason shown back. When records are still unusable after that and
/// the batch holds more than ``largestUnsplitBatch`` records, those records are asked again in two halves,
/// each with its own call and retry (a model that loses its place in ten excerpts often keeps it
/// in five); records unusable after that are `.failed` with the reason. Requests are
/// deterministic (temperature 0), so a rerun is answered from the response cache.
public struct LLMSimulator: ActivationSimulator {
    /// The default number of records per call; see the README ("Simulator batching").
    public static let defaultRecordsPerCall = 10
    /// A batch of at most this many records that still fails after its retry is not split.
    public static let largestUnsplitBatch = 5
    /// `top_logprobs` asked for in logprob mode when the endpoint allows it.
    public static let defaultTopLogprobs = 20

    public let client: LLMClient
    public let template: PromptTemplate
    public let model: String
    /// `.sparse`, `.logprobs` or `.json` (``SimulatorMode/auto`` is resolved before, see ``SimulatorModeProbe``).
    public let resolvedMode: SimulatorMode
    public let recordsPerCall: Int
    public let topLogprobs: Int
    /// How the sparse and JSON answers are constrained: a JSON schema where the endpoint honours
    /// one, else JSON mode, else plain text parsed as JSON.
    public let structuredOutput: StructuredOutputLevel
    public var mode: String { resolvedMode.rawValue }

    /// - Parameters:
    ///   - template: ``PromptSet/simulatorSparse``, ``PromptSet/simulatorLogprobs`` or ``PromptSet/simulatorJSON``, matching `mode`.
    ///   - model: the model asked; nil uses the client's.
    public init(
        client: LLMClient, template: PromptTemplate, mode: SimulatorMode, model: String? = nil,
        recordsPerCall: Int = LLMSimulator.defaultRecordsPerCall, topLogprobs: Int = LLMSimulator.defaultTopLogprobs,
        structuredOutput: StructuredOutputLevel = .jsonObject
    ) {
        precondition(mode != .auto, "resolve .auto with SimulatorModeProbe first")
        self.client = client
        self.template = template
        self.model = model ?? client.config.model
        self.resolvedMode = mode
        self.recordsPerCall = max(1, recordsPerCall)
        self.topLogprobs = topLogprobs
        self.structuredOutput = structuredOutput
    }

    /// The request for one batch (exposed for tests and token estimates).
    public func request(explanation: String, records: [[String]]) throws -> ChatCompletionRequest {
        let tokenCount = records.reduce(0) { $0 + $1.count }
        switch resolvedMode {
        case .sparse:
            let messages = try template.render([
                "explanation": explanation, "records": SparseAnswer.records(records), "token_count": String(tokenCount),
            ])
            return ChatCompletionRequest(
                model: model, messages: messages, temperature: 0, maxTokens: SparseAnswer.maxTokens(tokens: tokenCount),
                responseFormat: structuredOutput.responseFormat(name: "sparse_simulation", schema: SparseAnswer.schema(tokens: tokenCount)))
        case .json:
            let messages = try template.render([
                "explanation": explanation, "records": RecordFormat.blocks(records),
                "answer_shape": SimulatorAnswerFormat.shape(records: records.count),
            ])
            return ChatCompletionRequest(
                model: model, messages: messages, temperature: 0, maxTokens: 64 + 10 * tokenCount,
                responseFormat: structuredOutput == .none ? nil : .jsonObject)
        case .logprobs, .auto:
            let messages = try template.render([
                "explanation": explanation, "records": RecordFormat.blocks(records),
                "answer_shape": "",
            ])
            return ChatCompletionRequest(
                model: model, messages: messages, temperature: 0, maxTokens: 64 + 8 * tokenCount + 12 * records.count,
                logprobs: true, topLogprobs: topLogprobs)
        }
    }

    public func simulate(explanation: String, records: [[String]]) async throws -> [SimulationOutcome] {
        guard !records.isEmpty else { return [] }
        let batches = stride(from: 0, to: records.count, by: recordsPerCall).map { Array(records[$0..<min(records.count, $0 + recordsPerCall)]) }
        return try await withThrowingTaskGroup(of: (Int, [SimulationOutcome]).self) { group in
            for (b, batch) in batches.enumerated() {
                group.addTask { (b, try await simulateSplitting(explanation: explanation, records: batch)) }
            }
            var results = [[SimulationOutcome]](repeating: [], count: batches.count)
            for try await (b, outcomes) in group { results[b] = outcomes }
            return results.flatMap { $0 }
        }
    }

    /// One batch; when records still fail after the retry and the batch is larger than
    /// ``largestUnsplitBatch``, the failed records are asked again once, in two halves (not split further).
    private func simulateSplitting(explanation: String, records: [[String]]) async throws -> [SimulationOutcome] {
        var outcomes = try await simulateBatch(explanation: explanation, records: records)
        let failed = outcomes.indices.filter { outcomes[$0].values == nil }
        guard records.count > Self.largestUnsplitBatch, !failed.isEmpty else { return outcomes }
        let half = (failed.count + 1) / 2
        let first = Array(failed[..<half]), second = Array(failed[half...])
        async let firstAgain = simulateBatch(explanation: explanation, records: first.map { records[$0] })
        async let secondAgain = second.isEmpty ? [] : simulateBatch(explanation: explanation, records: second.map { records[$0] })
        for (part, again) in [(first, try await firstAgain), (second, try await secondAgain)] {
            for (index, outcome) in zip(part, again) {
                if case .failed(let reason) = outcome {
                    outcomes[index] = .failed(reason: "\(reason) (asked again in a batch of \(part.count))")
                } else {
                    outcomes[index] = outcome
                }
            }
        }
        return outcomes
    }

    /// One call (and at most one retry) for one batch. An answer that cannot be used is dropped
    /// from the response cache, so the next run asks again instead of replaying it.
    private func simulateBatch(explanation: String, records: [[String]]) async throws -> [SimulationOutcome] {
        var request = try request(explanation: explanation, records: records)
        let first = try await client.complete(request)
        let firstOutcomes = outcomes(of: first, records: records, maxTokens: request.maxTokens)
        let failures = firstOutcomes.enumerated().compactMap { i, outcome -> String? in
            if case .failed(let reason) = outcome { return reason }
            return nil
        }
        guard !failures.isEmpty else { return firstOutcomes }
        client.discard(first)
        // Retry once, showing the bad answer and what was wrong with it (a distinct, cacheable request).
        let shownReasons = Array(Set(failures)).sorted().prefix(3).joined(separator: "; ")
        request.messages += [
            .assistant(first.content ?? ""),
            .user(resolvedMode == .sparse
                ? "That answer could not be used: \(shownReasons). Answer again with only {\"fires\": [[number, activation], ...]}, numbers from the excerpts above."
                : "That answer could not be used: \(shownReasons). Answer again in exactly the format asked, covering every token of every excerpt."),
        ]
        let second = try await client.complete(request)
        let secondOutcomes = outcomes(of: second, records: records, maxTokens: request.maxTokens)
        if secondOutcomes.contains(where: { $0.values == nil }) { client.discard(second) }
        return zip(firstOutcomes, secondOutcomes).map { firstOutcome, secondOutcome in
            if case .predicted = firstOutcome { return firstOutcome }
            if case .failed(let reason) = secondOutcome { return .failed(reason: "\(reason) (after one retry)") }
            return secondOutcome
        }
    }

    /// The outcomes of one answer; a cut-off answer fails every record with that reason.
    private func outcomes(of answer: LLMCompletion, records: [[String]], maxTokens: Int?) -> [SimulationOutcome] {
        if answer.isCutOff {
            let reason = "the answer was cut off at max_tokens (\(maxTokens.map(String.init) ?? "?")): \(SimulationParser.preview(answer.content ?? ""))"
            return records.map { _ in .failed(reason: reason) }
        }
        return parse(answer.response, records: records)
    }

    private func parse(_ response: ChatCompletionResponse, records: [[String]]) -> [SimulationOutcome] {
        switch resolvedMode {
        case .sparse: SparseAnswer.parse(response.content ?? "", records: records)
        case .json: SimulationParser.parseJSON(response.content ?? "", records: records)
        case .logprobs, .auto: SimulationParser.parseLogprobs(response.tokenLogprobs, records: records)
        }
    }
}
