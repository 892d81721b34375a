import AutoInterp
package import AutoInterpLLM
import Foundation

/// A test-endpoint handler that reads the prompts `autointerp run` sends and answers like a
/// sensible model of the planted ``SyntheticDataset`` concepts, or breaks on purpose.
///
/// - explainer: names the word class carrying most of the activation in the excerpts shown
///   (worked examples in `<example>` tags are ignored), e.g. "animal words";
/// - simulator: predicts 9 for tokens of the class named by the explanation and 0 otherwise,
///   as JSON or as tab lines with top logprobs at each value;
/// - sparse simulator: lists `[number, 9]` for the numbered tokens of the explanation's class;
/// - judge: for each `Excerpt N:` line, rates 3 when the marked token belongs to the
///   explanation's class, else 1 if the excerpt holds such a token, else 0 (`{"ratings": [...]}`);
/// - detection / fuzzing scorer (`{"answers": …}`): for each `Example N:` line, 1 when the example
///   holds a word of the explanation's class (detection) or every `<<highlighted>>` word is one
///   (fuzzing), else 0; with logprobs (0.9 on the answer) when asked;
/// - intruder scorer (`{"intruder": N}`): the `Example N:` line without a word of the class (function
///   words aside) that most examples hold, example 1 when no single one lacks it;
/// - metric audit (`autointerp audit`): broader `any word`, narrower `only the word "…"` (the
///   class's first word), which the simulator and scorers read like a class;
/// - probe (`Reply with the single digit 7…`): answers with logprobs when `logprobs` is true;
/// - structured-output probe: answers the object asked for (a schema-honouring endpoint).
///
/// Token counts in `usage` are estimates (``estimateTokens(_:)``; answer tokens in logprob mode).
package struct ScriptedLLM: Sendable {
    /// How the simulator answers.
    package enum SimulatorBehaviour: Sendable, Equatable {
        case sensible
        /// A record with one value too few.
        case wrongLength
        /// Text that is not JSON (in logprob mode: no excerpt blocks).
        case badJSON
        /// Tokens copied back wrongly.
        case misaligned
        /// JSON mode: tokens copied back wrongly when the call holds more than this many records.
        case misalignedOver(Int)
        /// Logprob mode: no digit among the top logprobs at the value positions.
        case noDigits
        /// Logprob mode: an answer without logprobs.
        case noLogprobs
        /// Bad JSON on the first attempt, sensible on the retry.
        case badJSONOnce
    }

    /// How the judge answers.
    package enum JudgeBehaviour: Sendable, Equatable {
        case sensible
        case garbage
    }

    /// How the detection and fuzzing scorer answers.
    package enum ClassifierBehaviour: Sendable, Equatable {
        case sensible
        /// Text that is not JSON.
        case garbage
        /// One answer too few.
        case wrongCount
        /// Every answer inverted (a scorer that disagrees with the explanation).
        case inverted
        /// Not JSON on the first attempt, sensible on the retry.
        case garbageOnce
    }

    /// How the intruder scorer answers.
    package enum IntruderBehaviour: Sendable, Equatable {
        /// Names the example without a word of the class most examples share (example 1 when none is apart).
        case sensible
        /// Text that names no number.
        case garbage
        /// A number outside 1...count.
        case outOfRange
    }

    package var simulator: SimulatorBehaviour
    package var intruder: IntruderBehaviour = .sensible
    package var judge: JudgeBehaviour
    /// Whether the endpoint returns logprobs (decides the `auto` simulator mode).
    package var logprobs: Bool
    /// Whether the explainer answers with nothing usable.
    package var emptyExplanations: Bool
    package var classifier: ClassifierBehaviour
    /// Answers tried before the built-in ``responders`` (a test's own LLM stage).
    package var extraResponders: [Responder] = []

    package init(
        simulator: SimulatorBehaviour = .sensible, judge: JudgeBehaviour = .sensible, logprobs: Bool = true, emptyExplanations: Bool = false,
        classifier: ClassifierBehaviour = .sensible
    ) {
        self.simulator = simulator
        self.judge = judge
        self.classifier = classifier
        self.logprobs = logprobs
        self.emptyExplanations = emptyExplanations
    }

    /// Word classes by the explanation naming them.
    package static let classes: [(name: String, words: Set<String>)] = [
        ("animal words", Set(SyntheticDataset.animals)), ("number words", Set(SyntheticDataset.numbers)),
        ("colour words", Set(SyntheticDataset.colours)), ("verbs", Set(SyntheticDataset.verbs)),
        ("place words", Set(SyntheticDataset.places)), ("function words", Set(SyntheticDataset.function)),
    ]

    /// The class an explanation names (nil when none); the metric audit's variants: `only the
    /// word "cat"` names that word alone, `any word` every class's words.
    package static func words(for explanation: String) -> Set<String>? {
        let lower = explanation.lowercased()
        if let start = lower.range(of: "only the word \""), let end = lower[start.upperBound...].firstIndex(of: "\"") {
            return [String(lower[start.upperBound..<end])]
        }
        if lower.contains("any word") { return classes.reduce(into: Set<String>()) { $0.formUnion($1.words) } }
        return classes.first { lower.contains($0.name) }?.words
    }

    /// The metric audit's rewrite of the `Explanation: ` line of `user`: broader `any word`,
    /// narrower `only the word "<the class's first word>"`.
    fileprivate func auditVariant(_ user: String) -> TestReply {
        let explanation = user.split(separator: "\n").first { $0.hasPrefix("Explanation: ") }.map { String($0.dropFirst(13)) } ?? ""
        if user.contains("Write the broader explanation.") { return TestReply(content: "Explanation: any word.") }
        let word = Self.words(for: explanation)?.sorted().first ?? "the"
        return TestReply(content: "Explanation: only the word \"\(word)\".")
    }

    /// The handler to give a ``TestEndpoint``.
    package var handler: @Sendable (ChatRequestSeen) -> TestReply {
        let script = self
        return { seen in script.reply(seen) }
    }

    // MARK: - Answers

    /// How the endpoint answers one kind of prompt: which requests are its (`matches`), and the answer.
    package struct Responder: Sendable {
        /// The stage (or probe) whose prompts it answers.
        package var stage: String
        package var matches: @Sendable (ChatCompletionRequest, _ user: String) -> Bool
        package var answer: @Sendable (ScriptedLLM, ChatCompletionRequest, _ user: String, _ isRetry: Bool) -> TestReply

        package init(
            stage: String, matches: @escaping @Sendable (ChatCompletionRequest, String) -> Bool,
            answer: @escaping @Sendable (ScriptedLLM, ChatCompletionRequest, String, Bool) -> TestReply
        ) {
            self.stage = stage
            self.matches = matches
            self.answer = answer
        }
    }

    /// The answers of the probes and of every built-in LLM stage, first match wins (the explainer
    /// last: it answers any other prompt). A stage added to the catalogue with an LLM prompt adds
    /// its responder here (``StageCatalog/builtIn`` is checked against this list by a test) or,
    /// in a test, to ``extraResponders``.
    package static let responders: [Responder] = [
        Responder(stage: "probe-logprobs", matches: { _, user in user.hasPrefix("Reply with the single digit 7") }) { llm, request, _, _ in
            llm.probe(request)
        },
        Responder(stage: "probe-structured", matches: { _, user in user.contains(#"Return the JSON object {"color": "green", "count": 3}"#) }) {
            _, _, _, _ in TestReply(content: #"{"color": "green", "count": 3}"#)
        },
        Responder(stage: StageName.detection.rawValue + "," + StageName.fuzzing.rawValue, matches: { _, user in user.contains("{\"answers\"") }) {
            llm, request, user, isRetry in llm.classify(user, logprobs: request.logprobs == true && llm.logprobs, isRetry: isRetry)
        },
        Responder(stage: StageName.intruder.rawValue, matches: { _, user in user.contains("{\"intruder\"") }) { llm, _, user, _ in
            llm.findIntruder(user)
        },
        Responder(stage: StageName.simulate.rawValue + "-logprobs", matches: { request, _ in request.logprobs == true }) { llm, _, user, isRetry in
            llm.simulateLogprobs(user, isRetry: isRetry)
        },
        Responder(stage: StageName.simulate.rawValue, matches: { _, user in user.contains("{\"fires\"") }) { llm, _, user, isRetry in
            llm.simulateSparse(user, isRetry: isRetry)
        },
        Responder(
            stage: "audit",
            matches: { _, user in user.contains("Write the broader explanation.") || user.contains("Write the narrower explanation.") }
        ) {
            llm, _, user, _ in llm.auditVariant(user)
        },
        Responder(stage: StageName.rubric.rawValue, matches: { _, user in user.contains("{\"ratings\"") }) { llm, _, user, _ in llm.rate(user) },
        Responder(stage: StageName.simulate.rawValue + "-json", matches: { request, _ in request.responseFormat?.type == "json_object" }) {
            llm, _, user, isRetry in llm.simulateJSON(user, isRetry: isRetry)
        },
        Responder(stage: StageName.explain.rawValue, matches: { _, _ in true }) { llm, request, user, _ in
            var reply = llm.explain(user)
            if request.responseFormat?.type == "json_schema", let text = reply.content.split(separator: ":", maxSplits: 1).last {
                let phrase = text.trimmingCharacters(in: CharacterSet(charactersIn: " ."))
                reply = TestReply(content: "{\"explanation\": \(SimulatorAnswerFormat.quoted(phrase))}")
            }
            return reply
        },
    ]

    package func reply(_ seen: ChatRequestSeen) -> TestReply {
        guard let request = seen.request else { return TestReply(content: "") }
        let user = request.messages.first { $0.role == "user" }?.content ?? ""
        let isRetry = request.messages.count > 2
        let promptTokens = max(1, request.messages.reduce(0) { $0 + Self.estimateTokens($1.content) + 4 })
        let responder = (extraResponders + Self.responders).first { $0.matches(request, user) }
        var reply = responder?.answer(self, request, user, isRetry) ?? TestReply(content: "")
        reply.promptTokens = promptTokens
        if reply.logprobs == nil { reply.completionTokens = max(1, Self.estimateTokens(reply.content)) }
        return reply
    }

    fileprivate func probe(_ request: ChatCompletionRequest) -> TestReply {
        guard logprobs, request.logprobs == true else { return TestReply(content: "7") }
        let top = (request.topLogprobs ?? 0)
        var alternatives: [ChatCompletionResponse.TopLogprob] = []
        for k in 0..<min(top, 11) {
            let logprob: Double = k == 0 ? -0.01 : -5.0 - Double(k)
            alternatives.append(ChatCompletionResponse.TopLogprob(token: String((7 + k) % 11), logprob: logprob))
        }
        return TestReply(content: "7", logprobs: [.init(token: "7", logprob: -0.01, topLogprobs: alternatives)], completionTokens: 1)
    }

    fileprivate func explain(_ user: String) -> TestReply {
        if emptyExplanations { return TestReply(content: "   ") }
        var weight: [String: Int] = [:]
        for record in Self.excerpts(Self.withoutExamples(user)) {
            for (token, value) in record where value > 0 {
                if let name = Self.classes.first(where: { $0.words.contains(token) })?.name { weight[name, default: 0] += value }
            }
        }
        var best = "function words"
        var bestWeight = 0
        for (name, total) in weight.sorted(by: { $0.key < $1.key }) where total > bestWeight {
            best = name
            bestWeight = total
        }
        return TestReply(content: "Explanation: \(best).")
    }

    private func predictions(_ user: String) -> (tokens: [[String]], values: [[Int]]) {
        let text = Self.withoutExamples(user)
        let explanation = text.split(separator: "\n").first { $0.hasPrefix("Explanation of the unit: ") }
            .map { String($0.dropFirst("Explanation of the unit: ".count)) } ?? ""
        let words = Self.words(for: explanation) ?? []
        let tokens = Self.excerpts(text).map { $0.map(\.token) }
        return (tokens, tokens.map { $0.map { words.contains($0) ? 9 : 0 } })
    }

    fileprivate func simulateJSON(_ user: String, isRetry: Bool) -> TestReply {
        var (tokens, values) = predictions(user)
        switch simulator {
        case .badJSON: return TestReply(content: "{\"1\": [[\"the\", 0], oops")
        case .badJSONOnce where !isRetry: return TestReply(content: "not json at all")
        case .wrongLength:
            if !values.isEmpty, !values[0].isEmpty {
                values[0].removeLast()
                tokens[0].removeLast()
            }
        case .misaligned: tokens = tokens.map { $0.map { $0 + "x" } }
        case .misalignedOver(let records) where tokens.count > records: tokens = tokens.map { $0.map { $0 + "x" } }
        default: break
        }
        return TestReply(content: SimulatorAnswerFormat.json(tokens: tokens, values: values))
    }

    fileprivate func simulateSparse(_ user: String, isRetry: Bool) -> TestReply {
        let text = Self.withoutExamples(user)
        let explanation = text.split(separator: "\n").first { $0.hasPrefix("Explanation of the unit: ") }
            .map { String($0.dropFirst("Explanation of the unit: ".count)) } ?? ""
        let words = Self.words(for: explanation) ?? []
        // Excerpt lines are `number<TAB>token`.
        let numbered = text.split(separator: "\n").compactMap { line -> (Int, String)? in
            let parts = line.split(separator: "\t", maxSplits: 1, omittingEmptySubsequences: false)
            guard parts.count == 2, let n = Int(parts[0]) else { return nil }
            return (n, String(parts[1]))
        }
        var pairs = numbered.filter { words.contains($0.1.trimmingCharacters(in: .whitespaces)) }.map { "[\($0.0), 9]" }
        switch simulator {
        case .badJSON: return TestReply(content: "{\"fires\": [[1, 9], oops")
        case .badJSONOnce where !isRetry: return TestReply(content: "not json at all")
        case .wrongLength: pairs.append("[\(numbered.count + 5), 9]")
        case .misaligned: pairs.append("[1, 12]")
        default: break
        }
        return TestReply(content: "{\"fires\": [\(pairs.joined(separator: ", "))]}")
    }

    fileprivate func simulateLogprobs(_ user: String, isRetry: Bool) -> TestReply {
        var (tokens, values) = predictions(user)
        if simulator == .badJSON || (simulator == .badJSONOnce && !isRetry) {
            return TestReply(content: "I cannot do that.", logprobs: [.init(token: "I cannot do that.", logprob: -0.1)])
        }
        if simulator == .wrongLength, !tokens.isEmpty, !tokens[0].isEmpty {
            tokens[0].removeLast()
            values[0].removeLast()
        }
        if simulator == .misaligned { tokens = tokens.map { $0.map { $0 + "x" } } }
        var pieces: [ChatCompletionResponse.TokenLogprob] = []
        func add(_ text: String) { pieces.append(.init(token: text, logprob: -0.01, topLogprobs: [.init(token: text, logprob: -0.01)])) }
        for (r, record) in tokens.enumerated() {
            add(RecordFormat.openTag(r + 1))
            add("\n")
            for (i, token) in record.enumerated() {
                add(token)
                add("\t")
                let v = values[r][i]
                let top: [ChatCompletionResponse.TopLogprob]
                if simulator == .noDigits {
                    top = [.init(token: " \(v)", logprob: -0.1), .init(token: "x", logprob: -3)]
                } else if v > 0 {
                    top = [.init(token: "\(v)", logprob: log(0.85)), .init(token: "\(v - 1)", logprob: log(0.1)), .init(token: "0", logprob: log(0.05))]
                } else {
                    top = [.init(token: "0", logprob: log(0.9)), .init(token: "1", logprob: log(0.07)), .init(token: "9", logprob: log(0.03))]
                }
                pieces.append(.init(token: "\(v)", logprob: top[0].logprob, topLogprobs: top))
                add("\n")
            }
            add(RecordFormat.closeTag)
            add("\n")
        }
        let content = pieces.map(\.token).joined()
        return TestReply(content: content, logprobs: simulator == .noLogprobs ? nil : pieces, completionTokens: pieces.count)
    }

    fileprivate func classify(_ user: String, logprobs withLogprobs: Bool, isRetry: Bool) -> TestReply {
        if classifier == .garbage || (classifier == .garbageOnce && !isRetry) { return TestReply(content: "I would rather not say.") }
        let lines = user.split(separator: "\n")
        let explanation = lines.first { $0.hasPrefix("Explanation: ") }.map { String($0.dropFirst("Explanation: ".count)) } ?? ""
        let words = Self.words(for: explanation) ?? []
        let fuzzing = user.contains("<<highlighted>>")
        var answers = lines.filter { $0.hasPrefix("Example ") }.map { line -> Int in
            let text = String(line.drop { $0 != ":" }.dropFirst())
            guard fuzzing else {
                return text.split(separator: " ").contains { words.contains(String($0)) } ? 1 : 0
            }
            var highlighted: [String] = []
            var rest = text[...]
            while let open = rest.range(of: "<<"), let close = rest.range(of: ">>", range: open.upperBound..<rest.endIndex) {
                highlighted += rest[open.upperBound..<close.lowerBound].split(separator: " ").map(String.init)
                rest = rest[close.upperBound...]
            }
            return !highlighted.isEmpty && highlighted.allSatisfy { words.contains($0) } ? 1 : 0
        }
        if classifier == .inverted { answers = answers.map { 1 - $0 } }
        if classifier == .wrongCount { answers = Array(answers.dropLast()) }
        let content = "{\"answers\": [" + answers.map(String.init).joined(separator: ", ") + "]}"
        guard withLogprobs else { return TestReply(content: content) }
        var pieces: [ChatCompletionResponse.TokenLogprob] = [.init(token: "{\"answers\": [", logprob: -0.01)]
        for (i, answer) in answers.enumerated() {
            let top: [ChatCompletionResponse.TopLogprob] = [
                .init(token: "\(answer)", logprob: log(0.9)), .init(token: "\(1 - answer)", logprob: log(0.1)),
            ]
            pieces.append(.init(token: "\(answer)", logprob: log(0.9), topLogprobs: top))
            pieces.append(.init(token: i == answers.count - 1 ? "]}" : ", ", logprob: -0.01))
        }
        if answers.isEmpty { pieces.append(.init(token: "]}", logprob: -0.01)) }
        return TestReply(content: content, logprobs: pieces, completionTokens: pieces.count)
    }

    fileprivate func findIntruder(_ user: String) -> TestReply {
        switch intruder {
        case .garbage: return TestReply(content: "I cannot tell them apart.")
        case .outOfRange: return TestReply(content: "{\"intruder\": 9}")
        case .sensible: break
        }
        let examples = user.split(separator: "\n").filter { $0.hasPrefix("Example ") }.map { line in
            Set(line.drop { $0 != ":" }.dropFirst().split(separator: " ").map(String.init))
        }
        var answer = 1
        for (name, words) in Self.classes where name != "function words" {
            let without = examples.indices.filter { examples[$0].isDisjoint(with: words) }
            if without.count == 1, examples.count > 2 {
                answer = without[0] + 1
                break
            }
        }
        return TestReply(content: "{\"intruder\": \(answer)}")
    }

    fileprivate func rate(_ user: String) -> TestReply {
        if judge == .garbage { return TestReply(content: "Hmm, hard to say.") }
        let lines = user.split(separator: "\n")
        let explanation = lines.first { $0.hasPrefix("Explanation: ") }.map { String($0.dropFirst("Explanation: ".count)) } ?? ""
        let words = Self.words(for: explanation) ?? []
        let ratings = lines.filter { $0.hasPrefix("Excerpt ") }.map { line -> Int in
            let excerpt = line.drop { $0 != ":" }.dropFirst()
            var marked = ""
            if let open = excerpt.range(of: "[["), let close = excerpt.range(of: "]]", range: open.upperBound..<excerpt.endIndex) {
                marked = String(excerpt[open.upperBound..<close.lowerBound]).trimmingCharacters(in: .whitespaces)
            }
            if words.contains(marked) { return 3 }
            let plain = excerpt.replacingOccurrences(of: "[[", with: " ").replacingOccurrences(of: "]]", with: " ")
            return plain.split(separator: " ").contains { words.contains(String($0)) } ? 1 : 0
        }
        return TestReply(content: "{\"ratings\": [\(ratings.map(String.init).joined(separator: ", "))]}")
    }

    /// A BPE-like token estimate: each run of letters or digits (one more per 6 characters
    /// beyond the first 6), each punctuation mark, newline and tab; spaces join the next word.
    package static func estimateTokens(_ text: String) -> Int {
        var count = 0
        var run = 0
        for character in text {
            if character.isLetter || character.isNumber {
                if run % 6 == 0 { count += 1 }
                run += 1
            } else {
                run = 0
                if character != " " { count += 1 }
            }
        }
        return count
    }

    // MARK: - Reading prompts

    /// The text with every `<example> … </example>` part removed.
    package static func withoutExamples(_ text: String) -> String {
        var out = ""
        var rest = text[...]
        while let open = rest.range(of: "<example>") {
            out += rest[..<open.lowerBound]
            guard let close = rest.range(of: "</example>", range: open.upperBound..<rest.endIndex) else { return out }
            rest = rest[close.upperBound...]
        }
        return out + rest
    }

    /// The excerpt blocks of a prompt: per excerpt, (token, value) lines (value 0 when absent).
    package static func excerpts(_ text: String) -> [[(token: String, value: Int)]] {
        var records: [[(token: String, value: Int)]] = []
        var current: [(token: String, value: Int)]?
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            if RecordFormat.openTagNumber(line) != nil {
                current = []
            } else if line.trimmingCharacters(in: .whitespaces) == RecordFormat.closeTag {
                if let current { records.append(current) }
                current = nil
            } else if current != nil {
                let parts = line.split(separator: "\t", omittingEmptySubsequences: false)
                current?.append((String(parts[0]), parts.count > 1 ? Int(parts[1]) ?? 0 : 0))
            }
        }
        return records
    }
}
