import AutoInterpTestSupport
import Foundation
import Testing

@testable import AutoInterp

/// `export` (JSONL and CSV), `compare` and the report commands end to end.
struct ExportTests {
    /// RFC 4180 records (quoted fields may hold commas, quotes and line breaks).
    static func parseCSV(_ text: String) -> [[String]] {
        var records: [[String]] = []
        var record: [String] = []
        var field = ""
        var quoted = false
        var characters = Array(text)
        characters.append("\r\n")
        var i = 0
        while i < characters.count {
            let c = characters[i]
            if quoted {
                if c == "\"" {
                    if i + 1 < characters.count, characters[i + 1] == "\"" {
                        field.append("\"")
                        i += 1
                    } else {
                        quoted = false
                    }
                } else {
                    field.append(c)
                }
            } else if c == "\"" {
                quoted = true
            } else if c == "," {
                record.append(field)
                field = ""
            } else if c == "\r\n" || c == "\n" {
                record.append(field)
                if record != [""] { records.append(record) }
                record = []
                field = ""
            } else {
                field.append(c)
            }
            i += 1
        }
        return records
    }

    // MARK: - Export

    @Test func jsonlHasOneRowPerExplanationWithScoresAndRubric() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let (store, generated) = try CLIFixtures.run(dir)
        let text = ExplanationExport.render(try ExplanationExport.rows(store: store, run: generated.run), format: .jsonl)
        let lines = text.split(separator: "\n")
        #expect(lines.count == generated.units.count)
        for (line, expected) in zip(lines, generated.units) {
            let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
            #expect(Set(object.keys) == Set(ExplanationExport.columns))
            #expect(object["kind"] as? String == expected.unit.kind.rawValue)
            #expect(object["index"] as? Int == expected.unit.index)
            #expect(object["explanationId"] as? Int64 == expected.explanationID)
            #expect(object["description"] as? String == expected.text)
            #expect(object["typeName"] as? String == "llm")
            #expect(object["explanationModelName"] as? String == "test-model")
            #expect(object["latest"] as? Bool == true)
            #expect(object["rubricHistogram"] as? [[Int]] == expected.rubric)
            let reasons = try #require(object["undefinedReasons"] as? [String: String])
            if let score = expected.spearman {
                #expect(abs((object["spearmanAll"] as? Double ?? .nan) - score) < 1e-12)
            } else {
                #expect(object["spearmanAll"] is NSNull)
                #expect(reasons["spearmanAll"] == expected.undefinedReason)
            }
            #expect(object["failedSimulations"] as? Int == expected.failedSimulations)
        }
    }

    @Test func csvRoundTripsSpecialCharacters() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let (store, generated) = try CLIFixtures.run(dir)
        let text = ExplanationExport.render(try ExplanationExport.rows(store: store, run: generated.run), format: .csv)
        let records = Self.parseCSV(text)
        #expect(records.first == ExplanationExport.columns)
        #expect(records.count == generated.units.count + 1)
        let column = Dictionary(uniqueKeysWithValues: ExplanationExport.columns.enumerated().map { ($1, $0) })
        for (record, expected) in zip(records.dropFirst(), generated.units) {
            #expect(record.count == ExplanationExport.columns.count)
            #expect(record[column["description"]!] == expected.text)
            #expect(record[column["index"]!] == String(expected.unit.index))
            if let score = expected.spearman {
                #expect(abs(Double(record[column["spearmanAll"]!])! - score) < 1e-12)
            } else {
                #expect(record[column["spearmanAll"]!] == "")
                #expect(record[column["undefinedReasons"]!].contains("spearmanAll: \(expected.undefinedReason!)"))
            }
            let rubric = try JSONSerialization.jsonObject(with: Data(record[column["rubricHistogram"]!].utf8)) as? [[Int]]
            #expect(rubric == expected.rubric)
        }
        #expect(generated.units.contains { $0.text.contains("\"") && $0.text.contains(",") })
    }

    // MARK: - Compare

    @Test func comparisonPairsSharedUnits() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let (storeA, a) = try CLIFixtures.run(dir, name: "a", seed: 1, featureNoise: 4)
        let (storeB, b) = try CLIFixtures.run(dir, name: "b", seed: 2, featureNoise: 0.5)
        let reportA = try RunReport.load(from: storeA, run: a.run)
        let reportB = try RunReport.load(from: storeB, run: b.run)
        let comparison = RunComparison(sides: [.init(label: "a", report: reportA), .init(label: "b", report: reportB)])
        let rows = comparison.paired
        #expect(rows.map(\.kind) == [.feature, .neuron])
        for row in rows {
            let unitsA = a.units.filter { $0.unit.kind == row.kind }, unitsB = b.units.filter { $0.unit.kind == row.kind }
            #expect(row.shared == unitsA.count)
            let pairs = zip(unitsA, unitsB).compactMap { x, y -> (Double, Double)? in
                guard let s = x.spearman, let t = y.spearman else { return nil }
                return (s, t)
            }
            #expect(row.paired == pairs.count)
            #expect(row.bWins == pairs.count { $0.1 > $0.0 } && row.aWins == pairs.count { $0.1 < $0.0 })
            #expect(row.bWins + row.aWins + row.ties == row.paired)
            let median = Summary.summarize(pairs.map { $0.1 - $0.0 }, threshold: 0).median
            #expect(row.medianDifference == median)
            #expect(row.onlyA + row.onlyB + row.paired <= row.shared)
        }
        let text = comparison.render()
        #expect(text.contains("## b vs a, on shared units (kind, index)"))
        #expect(text.contains("## a: features vs neurons"))
    }

    // MARK: - CLI

    @Test func commandsEndToEnd() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        _ = try CLIFixtures.run(dir, name: "a")
        _ = try CLIFixtures.run(dir, name: "b", seed: 3)
        let results = dir.url.path

        let report = try CLIRunner.run(["report", "--run", "a", "--results", results])
        #expect(report.status == 0, "\(report.stderr)")
        #expect(report.stdout.contains("report.html"))
        #expect(FileManager.default.fileExists(atPath: dir.path("a/report.html").path))
        #expect(FileManager.default.fileExists(atPath: dir.path("a/report.md").path))

        let export = try CLIRunner.run(["export", "--run", "a", "--results", results, "--format", "csv", "--output", "-"])
        #expect(export.status == 0, "\(export.stderr)")
        #expect(Self.parseCSV(export.stdout).count == 12)
        let toFile = try CLIRunner.run(["export", "--run", "a", "--results", results])
        #expect(toFile.status == 0 && FileManager.default.fileExists(atPath: dir.path("a/explanations.jsonl").path))

        let compare = try CLIRunner.run(["compare", "--run", "a", "--run", "b", "--results", results])
        #expect(compare.status == 0, "\(compare.stderr)")
        #expect(compare.stdout.contains("b vs a") && compare.stdout.contains("B win rate"))

        let missing = try CLIRunner.run(["report", "--run", "nope", "--results", results])
        #expect(missing.oneLineErrorProblem(["no run database at", "nope/autointerp.sqlite", "runs in", "a, b"]) == nil)
        let badFormat = try CLIRunner.run(["export", "--run", "a", "--results", results, "--format", "xml"])
        #expect(badFormat.status != 0)
    }
}
