import AutoInterpLLM
import Foundation

/// One LLM call for a batch whose answer is a list with one item per example (the judge's
/// ratings, the classifiers' 0/1 answers), shared by the batched stages.
///
/// A cut-off or unreadable answer is asked again once, showing the bad answer, the reason and
/// `instruction` (what to answer instead); an unusable answer is dropped from the response cache
/// so the next run asks again. Returns the parsed value with the completion it came from, or the
/// last reason (marked "after one retry").
enum ListAnswerCall {
    static func ask<Value>(
        _ client: LLMClient, _ request: ChatCompletionRequest, instruction: String,
        parse: (String) -> Result<Value, StageFailure>
    ) async throws -> Result<(value: Value, completion: LLMCompletion), StageFailure> {
        var request = request
        var reason = ""
        for attempt in 0..<2 {
            let answer = try await client.complete(request)
            let content = answer.content ?? ""
            let parsed: Result<Value, StageFailure> = answer.isCutOff
                ? .failure(StageFailure("the answer was cut off at max_tokens (\(request.maxTokens ?? 0)): \(SimulationParser.preview(content))"))
                : parse(content)
            switch parsed {
            case .success(let value): return .success((value, answer))
            case .failure(let failure):
                client.discard(answer)
                reason = failure.reason
                if attempt == 0 {
                    request.messages += [
                        .assistant(content), .user("That answer could not be used (\(failure.reason)). \(instruction)"),
                    ]
                }
            }
        }
        return .failure(StageFailure("\(reason) (after one retry)"))
    }
}

/// Questions asked a batch per call, the calls in parallel, the answers in question order.
enum BatchedCalls {
    /// `ask` for each consecutive batch of at most `size` of `items`, concurrently; the answers
    /// joined in the items' order.
    static func map<Item: Sendable, Answer: Sendable>(
        _ items: [Item], size: Int, _ ask: @escaping @Sendable ([Item]) async throws -> [Answer]
    ) async throws -> [Answer] {
        let size = max(1, size)
        let batches = stride(from: 0, to: items.count, by: size).map { Array(items[$0..<min(items.count, $0 + size)]) }
        return try await withThrowingTaskGroup(of: (Int, [Answer]).self) { group in
            for (b, batch) in batches.enumerated() {
                group.addTask { (b, try await ask(batch)) }
            }
            var results = [[Answer]](repeating: [], count: batches.count)
            for try await (b, answers) in group { results[b] = answers }
            return results.flatMap { $0 }
        }
    }
}
