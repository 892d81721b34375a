import AutoInterpTestSupport
import Foundation
import Testing

@testable import AutoInterp

/// Issue 12, problem 3: CSV exports a spreadsheet opens as text (OWASP CSV injection); JSONL as stored.
struct CSVInjectionTests {
    static let hostile = [
        "=HYPERLINK(\"http://evil.example\",\"click\")", "+1+2", "-2+3", "@SUM(A1:A9)", "\tleading tab", "\rleading CR",
        "plain text, with a comma",
    ]

    @Test func exportedCellsCannotBeFormulas() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let (store, generated) = try CLIFixtures.run(dir)
        let ids = try store.explanations(runID: generated.run.id).map(\.id).sorted()
        for (id, text) in zip(ids, Self.hostile) {
            try store.database.run("UPDATE explanations SET text = ? WHERE id = ?", [text, id])
        }
        try store.database.run(
            "UPDATE scores SET value = -0.25, undefined_reason = NULL WHERE explanation_id = ? AND metric = 'spearman' AND subset = 'all'", [ids[0]])
        let csv = try CLIRunner.run(["export", "--run", "fx", "--results", dir.url.path, "--format", "csv", "--output", "-"])
        #expect(csv.status == 0, "\(csv.stderr)")
        let records = ExportTests.parseCSV(csv.stdout)
        let column = try #require(ExplanationExport.columns.firstIndex(of: "description"))
        let idColumn = try #require(ExplanationExport.columns.firstIndex(of: "explanationId"))
        let byID = Dictionary(uniqueKeysWithValues: records.dropFirst().map { (Int64($0[idColumn])!, $0[column]) })
        for (id, text) in zip(ids, Self.hostile) {
            let cell = try #require(byID[id])
            if let first = text.unicodeScalars.first, "=+-@\t\r".unicodeScalars.contains(first) {
                #expect(cell == "'" + text, "\(cell.debugDescription)")
            } else {
                #expect(cell == text)
            }
        }
        // Numbers stay numbers: a negative score is not quoted.
        let spearman = try #require(ExplanationExport.columns.firstIndex(of: "spearmanAll"))
        #expect(records.dropFirst().contains { $0[idColumn] == String(ids[0]) && $0[spearman] == "-0.25" })

        // JSONL keeps the text exactly as stored.
        let jsonl = try CLIRunner.run(["export", "--run", "fx", "--results", dir.url.path, "--output", "-"])
        let texts = try jsonl.stdout.split(separator: "\n").map {
            try #require(try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])["description"] as? String
        }
        for text in Self.hostile { #expect(texts.contains(text)) }
    }

    @Test func nulBytesAreDroppedAndLeadingTabsKept() {
        #expect(ReportText.csvText("a\u{0}b") == "ab")
        #expect(ReportText.csvText("\u{0}=1") == "'=1")
        #expect(ReportText.csvText("\tx") == "'\tx")
        #expect(ReportText.csvText("-1, two") == "\"'-1, two\"")
        #expect(ReportText.csvText("ok") == "ok")
    }

    @Test func terminalEscapesNeverReachACSVCell() {
        #expect(ReportText.csvText("\u{1B}[2J\u{1B}[31mred\u{1B}[0m words") == "red words")
        #expect(ReportText.csvText("a\u{1B}]0;pwned\u{7}b\u{9B}c") == "abc")
        #expect(ReportText.csvText("\u{1B}[0m=1+1") == "'=1+1")
    }
}
