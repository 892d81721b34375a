import AutoInterpTestSupport
import Foundation
import Testing

@testable import AutoInterp

/// `--intruder-groups`: a count or decile ranges, refused in one line when empty, overlapping or
/// outside 1-10; kept in the run config as text (nothing for the default three groups).
struct IntruderGroupsTests {
    @Test func aCountSplitsEvenlyAndRangesParse() throws {
        #expect(try IntruderGroups(parsing: "2").ranges == [1...5, 6...10])
        #expect(try IntruderGroups(parsing: "5").ranges == [1...2, 3...4, 5...6, 7...8, 9...10])
        #expect(try IntruderGroups(parsing: "1-3,4-6,7-10") == .default)
        #expect(try IntruderGroups(parsing: " 9-10, 1-2 ,7").ranges == [1...2, 7...7, 9...10])
        #expect(IntruderGroups.default.description == "1-3,4-6,7-10")
        let data = try JSONEncoder().encode(try IntruderGroups(parsing: "1-2,9-10"))
        #expect(String(decoding: data, as: UTF8.self) == "\"1-2,9-10\"")
        #expect(try JSONDecoder().decode(IntruderGroups.self, from: data).ranges == [1...2, 9...10])
    }

    @Test(arguments: [
        ("", "is empty"), ("0", "between 1 and 10"), ("11", "between 1 and 10"), ("1-3,,4-6", "empty group"),
        ("1-4,3-6", "overlap"), ("0-3", "outside deciles 1-10"), ("8-11", "outside deciles 1-10"), ("6-4", "is empty"),
        ("a-b", "not a decile range"), ("1-2-3", "not a decile range"), ("-3", "between 1 and 10"), ("3-", "not a decile range"),
    ])
    func hostileValuesAreRefusedInOneLine(_ value: String, _ problem: String) {
        #expect {
            _ = try IntruderGroups(parsing: value)
        } throws: { error in
            let text = "\(error)"
            return text.contains("intruder groups") && text.contains(problem) && !text.contains("\n")
        }
    }
}

extension PipelineSuites.IntruderRunTests {
    /// 2 and 5 groups: that many prompts per unit, each from its own deciles, with an accuracy per
    /// group; the value is in the run config, and a resume with another one is refused.
    @Test(arguments: [2, 5])
    func groupsGiveThatManyPromptsPerUnit(_ count: Int) async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        var request = try Self.localRequest(dir, stages: [.explain, .intruder])
        request.setup.neurons = try UnitSpec(parsing: "0")
        let groups = try IntruderGroups(parsing: "\(count)")
        request.intruderGroups = groups
        let result = try await RunCoordinator(logger: IntruderTests.quietLogger()).run(request)
        #expect(result.summary.isComplete, "\(result.summary.text)")
        let progress = try #require(try result.store.progress(runID: result.run.id).first)
        let answers = try result.store.intruderAnswers(unitID: progress.unit.id)
        #expect(answers.count == count && answers.map(\.prompt.deciles) == groups.ranges, "\(answers.map(\.prompt.deciles))")
        let scores = try result.store.scores(explanationID: try #require(progress.explanation).id)
        #expect(Set(scores.map(\.metric)).isSuperset(of: StoredScore.Metric.intruder(groups: groups)))
        #expect(try RunConfig.decode(result.run.configJSON).pipeline?.intruderGroups == groups)
        var changed = request
        changed.intruderGroups = .default
        await #expect {
            _ = try await RunCoordinator(logger: IntruderTests.quietLogger()).run(changed)
        } throws: { error in "\(error)".contains("intruder groups") }
    }

    /// The default three groups leave the run config as it was before the option.
    @Test func theDefaultIsNotInTheConfig() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let plan = try StagePlan(try Self.localRequest(dir, stages: [.explain, .intruder]))
        #expect(plan.settings.intruderGroups == nil)
        #expect(!(String(decoding: try JSONEncoder().encode(plan.settings), as: UTF8.self).contains("intruderGroups")))
    }
}
