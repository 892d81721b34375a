public import AutoInterpLLM
import Foundation

/// Reads a classification answer: `{"answers": [0, 1, …]}` (or a bare list) with exactly one
/// 0/1 per example, and p(1) per answer from the top logprobs of the answer's digit tokens.
public enum ClassificationAnswer {
    /// The answer's JSON schema for `count` examples.
    public static func schema(count: Int) -> JSONSchemaValue {
        .object(properties: ["answers": .array(items: .integer(minimum: 0, maximum: 1), minItems: count, maxItems: count)])
    }

    /// `max_tokens` for `count` answers: the JSON frame and about 2 tokens an answer, with room
    /// for the white space a grammar allows.
    public static func maxTokens(count: Int) -> Int { 24 + 4 * count }

    /// The answers of `content` for `count` examples, or why they cannot be read.
    public static func parse(_ content: String, count: Int) -> Result<[Int], StageFailure> {
        ListAnswer.parse(content, key: "answers", count: count, words: .init(speaker: "scorer", items: "answers", questions: "examples")) {
            position, item in
            switch item {
            case .number(let x) where x == 0 || x == 1: return .success(Int(x))
            case .bool(let b): return .success(b ? 1 : 0)
            case .string(let s) where ["0", "1"].contains(s.trimmingCharacters(in: .whitespaces)):
                return .success(s.trimmingCharacters(in: .whitespaces) == "1" ? 1 : 0)
            default: return .failure(StageFailure("answer \(position) of the scorer's answer is not 0 or 1"))
            }
        }
    }

    /// The digit of a token when, without white space and JSON punctuation, it is exactly `0` or `1`.
    static func digit(_ token: String) -> Int? {
        let core = token.trimmingCharacters(in: CharacterSet.whitespacesAndNewlines.union(CharacterSet(charactersIn: "[]{},:\"")))
        switch core {
        case "0": return 0
        case "1": return 1
        default: return nil
        }
    }

    /// p(1) for each of `count` answers: the answer tokens are the tokens after the first `[`
    /// whose text is a lone 0 or 1; at each, p(1) = P(1) / (P(0) + P(1)) over its top logprobs
    /// (delphi's normalisation). Nil when there are no logprobs or the digit tokens cannot be
    /// matched one to one with the answers (then the answers stand without confidences).
    public static func probabilities(_ logprobs: [ChatCompletionResponse.TokenLogprob]?, count: Int) -> [Double]? {
        guard let logprobs, !logprobs.isEmpty else { return nil }
        var inList = false
        var result: [Double] = []
        for entry in logprobs {
            if !inList {
                guard let bracket = entry.token.firstIndex(of: "[") else { continue }
                inList = true
                // A token such as `[1` carries the first answer itself.
                guard digit(String(entry.token[entry.token.index(after: bracket)...])) != nil else { continue }
            }
            guard let chosen = digit(entry.token) else { continue }
            var p0 = 0.0, p1 = 0.0
            for alternative in entry.topLogprobs where alternative.logprob.isFinite || alternative.logprob == -.infinity {
                switch digit(alternative.token) {
                case 0: p0 += exp(alternative.logprob)
                case 1: p1 += exp(alternative.logprob)
                default: break
                }
            }
            if p0 + p1 > 0 {
                result.append(p1 / (p0 + p1))
            } else {
                result.append(Double(chosen))
            }
        }
        return result.count == count ? result.map { min(1, max(0, $0)) } : nil
    }
}
