import Foundation

/// The judge of a baseline run without an LLM endpoint: the rubric stage is left out of such
/// runs, so it is never asked; if it were, every verdict fails with the fix.
package struct NoJudge: RubricJudge {
    package var model: String { "none" }

    package init() {}

    package func rate(explanation: String, example: RubricExample) async throws -> RubricVerdict {
        .failed(reason: "no LLM judge: the rubric stage needs an LLM endpoint and model")
    }
}
