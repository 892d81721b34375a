import Foundation
import Synchronization

/// Counts a run's explanations by their normalised text (``ExplanationCheck/normalized(_:)``:
/// case, punctuation and spacing ignored), so the explain stage can refuse one answer given to
/// too many units, and stop a run whose endpoint gives every unit the same answer.
///
/// - At most ``maxRepeats`` units of a run keep the same explanation, or half of the run's units
///   when that is more (``limit(units:)``): a further identical answer is *suspect* (an echoing or
///   stuck endpoint, or a model that says the same of every unit) and refused with that reason.
///   Three, because a few units may honestly share a short explanation ("commas", "function
///   words"); half, because an explanation given to most of a run tells no unit apart (its
///   control scores like the unit), while a large run may hold many honest repeats. A stuck
///   endpoint is caught sooner by the rule below.
/// - When the first ``allAlikeAfter`` answers of a run (stored or refused as suspect) are all the
///   same, the run stops with one line naming the endpoint: nothing later can be trusted.
///
/// Seeded once from the explanations the run already holds, so reruns count what earlier runs stored.
final class ExplanationTally: Sendable {
    /// The most units of one run that may share one explanation.
    static let maxRepeats = 3
    /// The most units of a run of `units` units that may share one explanation.
    static func limit(units: Int) -> Int { max(maxRepeats, units / 2) }

    /// Answers after which a run whose answers are all identical is stopped.
    static let allAlikeAfter = 5

    enum Verdict: Equatable {
        /// Keep it (counted as stored).
        case keep
        /// Refuse it: `others` units already hold the same explanation.
        case suspect(others: Int)
        /// Stop the run: the first `answers` answers were all this one.
        case stop(answers: Int)
    }

    private struct State {
        var seeded = false
        var limit = ExplanationTally.maxRepeats
        var stored: [String: Int] = [:]
        var first: String?
        var allSame = true
        var answers = 0

        mutating func count(_ key: String) {
            answers += 1
            if first == nil { first = key } else if first != key { allSame = false }
        }
    }

    private let state = Mutex(State())

    /// Counts the explanations already stored and the run's units (once; later calls do nothing).
    func seedIfNeeded(_ load: () throws -> (texts: [String], units: Int)) rethrows {
        guard !state.withLock({ $0.seeded }) else { return }
        let (texts, units) = try load()
        state.withLock { state in
            guard !state.seeded else { return }
            state.seeded = true
            state.limit = Self.limit(units: units)
            for text in texts {
                let key = ExplanationCheck.normalized(text)
                state.count(key)
                state.stored[key, default: 0] += 1
            }
        }
    }

    /// Counts one new answer and says whether it may be stored.
    func register(_ text: String) -> Verdict {
        let key = ExplanationCheck.normalized(text)
        return state.withLock { state in
            state.count(key)
            if state.allSame, state.answers >= Self.allAlikeAfter { return .stop(answers: state.answers) }
            let others = state.stored[key] ?? 0
            if others >= state.limit { return .suspect(others: others) }
            state.stored[key] = others + 1
            return .keep
        }
    }

    /// Takes back a kept answer that could not be stored after all.
    func forget(_ text: String) {
        let key = ExplanationCheck.normalized(text)
        state.withLock { state in state.stored[key] = max(0, (state.stored[key] ?? 1) - 1) }
    }
}
