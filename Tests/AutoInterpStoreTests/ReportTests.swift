import AutoInterpTestSupport
import Foundation
import FoundationXML
import Testing

@testable import AutoInterp

/// The HTML and Markdown reports of a generated run: well-formed, complete, charts true to their data, escaped.
///
/// Well-formedness is checked by parsing the whole page with FoundationXML's `XMLDocument`
/// (libxml2, strict XML): the report is written in XHTML syntax for exactly this reason.
struct ReportTests {
    // MARK: - Fixtures

    struct Rendered {
        var dir: TemporaryDirectory
        var store: RunStore
        var generated: RunFixture.Generated
        var report: RunReport
        var html: String
        var document: XMLDocument
    }

    static func render(_ options: RunFixture.Options = fixtureOptions()) throws -> Rendered {
        let dir = try TemporaryDirectory()
        let (store, generated) = try RunFixture.create(in: dir.url, name: "fx", options: options)
        let output = try ReportWriter.write(store: store, run: generated.run)
        let html = try String(contentsOf: output.html, encoding: .utf8)
        let document = try XMLDocument(xmlString: html, options: [])
        let report = try RunReport.load(from: store, run: generated.run)
        return Rendered(dir: dir, store: store, generated: generated, report: report, html: html, document: document)
    }

    /// One rendered fixture shared by the read-only tests (rendering once keeps the suite light
    /// for the timing-sensitive suites running beside it). Its folder stays in the temp directory.
    static let sharedText = Result<RenderedText, any Error> { try renderText() }

    /// The shared fixture with its own freshly parsed document (XMLDocument is not shared between tests).
    static func shared() throws -> Rendered {
        let text = try sharedText.get()
        return Rendered(
            dir: text.dir, store: text.store, generated: text.generated, report: text.report, html: text.html,
            document: try XMLDocument(xmlString: text.html, options: []))
    }

    struct RenderedText: Sendable {
        var dir: TemporaryDirectory
        var store: RunStore
        var generated: RunFixture.Generated
        var report: RunReport
        var html: String
    }

    static func renderText() throws -> RenderedText {
        let rendered = try render()
        return RenderedText(
            dir: rendered.dir, store: rendered.store, generated: rendered.generated, report: rendered.report,
            html: rendered.html)
    }

    static func fixtureOptions() -> RunFixture.Options {
        var options = RunFixture.Options()
        options.features = 9
        options.neurons = 8
        options.contextLength = 40
        return options
    }

    /// Elements anywhere below `node` with local name `name` (namespace-agnostic).
    static func elements(_ node: XMLNode, _ name: String, where predicate: String = "") throws -> [XMLElement] {
        // FoundationXML evaluates `.//` from a document node as empty: search documents from the root.
        let axis = node is XMLDocument ? "//" : ".//"
        return try node.nodes(forXPath: "\(axis)*[local-name()='\(name)']\(predicate)").compactMap { $0 as? XMLElement }
    }

    static func attribute(_ element: XMLElement, _ name: String) -> String? {
        // `attribute(forName:)` misses attributes of namespaced (SVG) elements in FoundationXML.
        element.attributes?.first { $0.name == name || $0.localName == name }?.stringValue
    }

    static func number(_ element: XMLElement, _ name: String) -> Double? {
        attribute(element, name).flatMap(Double.init)
    }

    /// The parsed report-data JSON block.
    static func reportData(_ rendered: Rendered) throws -> [String: Any] {
        let script = try #require(try elements(rendered.document, "script", where: "[@id='report-data']").first)
        let text = try #require(script.stringValue)
        return try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
    }

    // MARK: - Completeness

    @Test func runWithoutRatingsSaysWhyInsteadOfEmptyCharts() throws {
        var options = Self.fixtureOptions()
        options.ratingsPerBin = 0
        options.features = 3
        options.neurons = 3
        let rendered = try Self.render(options)
        defer { rendered.dir.remove() }
        #expect(rendered.html.contains("No rubric ratings in this run"))
        let shared = try Self.shared()
        #expect(!shared.html.contains("No rubric ratings in this run"))
    }

    @Test func htmlIsWellFormedAndHoldsEveryUnitAndScore() throws {
        let rendered = try Self.shared()
        #expect(rendered.document.rootElement()?.localName == "html")
        #expect(rendered.html.hasPrefix("<!DOCTYPE html>"))

        let data = try Self.reportData(rendered)
        let units = try #require(data["units"] as? [[String: Any]])
        #expect(units.count == rendered.generated.units.count)
        var byUnit: [String: [String: Any]] = [:]
        for unit in units { byUnit["\(unit["k"] as? String ?? "?") \(unit["i"] as? Int ?? -1)"] = unit }
        for expected in rendered.generated.units {
            let unit = try #require(byUnit[expected.unit.description], "missing \(expected.unit)")
            #expect(unit["e"] as? String == expected.text)
            if let score = expected.spearman {
                let shown = try #require(unit["s"] as? Double, "\(expected.unit)")
                #expect(abs(shown - score) < 1e-12)
                #expect(unit["u"] is NSNull)
            } else {
                #expect(unit["s"] is NSNull, "\(expected.unit) has an undefined score")
                #expect(unit["u"] as? String == expected.undefinedReason)
            }
            #expect(unit["r"] as? [[Int]] == expected.rubric)
            let failed = try #require(unit["f"] as? [Int])
            #expect(failed.first == expected.failedSimulations)
            // Every stored score row of the explanation is there.
            #expect((unit["sc"] as? [[Any]])?.count == 6)
            #expect((unit["ex"] as? [Any])?.count == 5)
        }
        #expect(rendered.generated.units.contains { $0.spearman == nil }, "the fixture has undefined scores")
    }

    @Test func overviewTableMatchesTheSummaries() throws {
        let rendered = try Self.shared()
        let table = try #require(try Self.elements(rendered.document, "table", where: "[@id='summary-table']").first)
        var cells: [String: [String]] = [:]
        for row in try Self.elements(table, "tr") {
            let header = try Self.elements(row, "th").first?.stringValue ?? ""
            cells[header] = try Self.elements(row, "td").map { $0.stringValue ?? "" }
        }
        for (column, kind) in rendered.report.columnKinds.enumerated() {
            let expected = rendered.generated.units.filter { $0.unit.kind == kind }
            let summary = Summary.summarize(expected.map(\.spearman), threshold: 0.5)
            #expect(cells["units"]?[column] == String(expected.count))
            #expect(cells["scored (defined)"]?[column] == String(summary.definedCount))
            #expect(cells["undefined score"]?[column] == String(summary.undefinedCount))
            #expect(cells["median Spearman"]?[column] == String(format: "%.3f", summary.median!))
            #expect(cells["share > 0.50"]?[column] == String(format: "%.1f%%", summary.shareAbove! * 100))
            let failed = expected.reduce(0) { $0 + $1.failedSimulations }
            #expect(cells["failed simulations"]?[column].hasPrefix("\(failed) of ") == true)
        }
        let features = rendered.generated.units.filter { $0.unit.kind == .feature }.compactMap(\.spearman)
        let neurons = rendered.generated.units.filter { $0.unit.kind == .neuron }.compactMap(\.spearman)
        let test = try #require(RankTest.mannWhitneyU(features, neurons))
        let sentence = try #require(try Self.elements(rendered.document, "p", where: "[@class='rank-test']").first?.stringValue)
        #expect(sentence.contains("U = \(String(format: "%.1f", test.u))"))
        #expect(sentence.contains("p = \(ReportText.pValue(test.p))"))

        // Tokens of the call log.
        let usage = try #require(try Self.elements(rendered.document, "table", where: "[@id='usage-table']").first)
        let cellsText = try Self.elements(usage, "td").compactMap(\.stringValue)
        #expect(cellsText.contains(ReportText.count(rendered.generated.promptTokens)))
        #expect(cellsText.contains(ReportText.count(rendered.generated.completionTokens)))
    }

    // MARK: - Charts

    @Test func svgBarsAndAxesMatchTheData() throws {
        let rendered = try Self.shared()
        let plots = try Self.elements(rendered.document, "g", where: "[@class='plot']")
        #expect(plots.count == 3, "score histogram and two rubric charts")
        var checkedBars = 0
        for plot in plots {
            let baseline = try #require(Self.number(plot, "data-baseline"))
            let scale = try #require(Self.number(plot, "data-y-scale"))
            #expect(scale > 0)
            var stackTops: [String: Double] = [:]
            for bar in try Self.elements(plot, "rect") {
                let value = try #require(Self.number(bar, "data-value"))
                let height = try #require(Self.number(bar, "height"))
                let y = try #require(Self.number(bar, "y"))
                #expect(abs(height - value * scale) <= 0.011, "bar height \(height) for value \(value)")
                if let bin = Self.attribute(bar, "data-rating") != nil ? Self.attribute(bar, "data-bin") : nil {
                    // Stacked: each segment sits on the one below.
                    let bottom = stackTops[bin] ?? baseline
                    #expect(abs(y + height - bottom) <= 0.02)
                    stackTops[bin] = y
                } else {
                    #expect(abs(y + height - baseline) <= 0.011)
                }
                checkedBars += 1
            }
            // A full stack reaches 100%.
            for top in stackTops.values { #expect(abs(baseline - top - scale) <= 0.05) }
            // Horizontal tick lines sit where the scale puts their value; labels say that value.
            let svg = try #require(plot.parent as? XMLElement)
            let ticks = try Self.elements(svg, "line", where: "[@data-tick and not(contains(@class,'xtick'))]")
            #expect(ticks.count >= 3)
            for tick in ticks {
                let value = try #require(Self.number(tick, "data-tick"))
                let y = try #require(Self.number(tick, "y1"))
                #expect(abs(y - (baseline - value * scale)) <= 0.011, "tick \(value) at \(y)")
            }
            let labels = try Self.elements(svg, "text", where: "[@class='tick-label']").compactMap(\.stringValue)
            #expect(labels.contains("0%"))
        }
        #expect(checkedBars > 40)

        // The histogram's counts are the defined scores; its x ticks span [-1, 1].
        let histogram = plots[0]
        for kind in rendered.report.columnKinds {
            let bars = try Self.elements(histogram, "rect", where: "[@data-kind='\(kind.rawValue)']")
            let counted = bars.compactMap { Self.attribute($0, "data-count").flatMap(Int.init) }.reduce(0, +)
            let defined = rendered.generated.units.filter { $0.unit.kind == kind && $0.spearman != nil }
            #expect(counted == defined.count)
            let shares = bars.compactMap { Self.number($0, "data-value") }.reduce(0, +)
            #expect(abs(shares - 1) < 1e-9)
            // Each score falls in the bin its bar says.
            for unit in defined {
                let bin = Swift.min(19, Int(((unit.spearman! + 1) / 2 * 20).rounded(.down)))
                let bar = try #require(bars.first { Self.attribute($0, "data-bin") == String(bin) })
                #expect(Int(Self.attribute(bar, "data-count") ?? "0")! >= 1)
            }
        }
        let xTicks = try Self.elements(rendered.document, "line", where: "[contains(@class,'xtick')]")
            .compactMap { Self.number($0, "data-tick") }
        #expect(xTicks.first == -1 && xTicks.last == 1)

        // The rubric bars count every rating of the fixture.
        for (index, kind) in rendered.report.columnKinds.enumerated() {
            var expected = RubricTable()
            for unit in rendered.generated.units where unit.unit.kind == kind {
                for (bin, row) in unit.rubric.enumerated() {
                    for (rating, count) in row.enumerated() { expected.add(bin: bin, rating: rating, count: count) }
                }
            }
            for bar in try Self.elements(plots[index + 1], "rect") {
                let bin = Int(Self.attribute(bar, "data-bin") ?? "")!, rating = Int(Self.attribute(bar, "data-rating") ?? "")!
                #expect(Int(Self.attribute(bar, "data-count") ?? "") == expected.counts[bin][rating])
                let share = try #require(Self.number(bar, "data-value"))
                #expect(abs(share - expected.share(bin: bin, rating: rating)!) < 1e-12)
            }
        }

        // Median lines sit at the medians.
        for line in try Self.elements(rendered.document, "line", where: "[@class='median']") {
            let kind = try #require(Self.attribute(line, "data-kind").flatMap(UnitKind.init(rawValue:)))
            let median = Summary.summarize(rendered.generated.units.filter { $0.unit.kind == kind }.map(\.spearman), threshold: 0).median
            #expect(abs(Self.number(line, "data-value")! - median!) < 1e-12)
        }
    }

    @Test func scalesAndTicks() {
        let y = LinearScale(domain: 0...0.4, range: 10...210, flipped: true)
        #expect(y(0) == 210 && y(0.4) == 10 && y(0.2) == 110)
        #expect(y.pixelsPerUnit == 500)
        #expect(y.ticks(count: 4) == [0, 0.1, 0.2, 0.3, 0.4])
        #expect(LinearScale.niceMax(0.37) == 0.4)
        #expect(LinearScale.niceMax(0.0) == 1)
        #expect(ReportCharts.histogram([-1, -0.95, 0, 0.05, 1, 1.5, .nan], bins: 4) == [2, 0, 2, 2])
        let q = ReportCharts.quartiles([1, 2, 3, 4, 5])!
        #expect(q.q1 == 2 && q.median == 3 && q.q3 == 4 && q.low == 1 && q.high == 5)
        #expect(ReportCharts.quartiles([]) == nil)
    }

    @Test func rubricTableSharesAndMeans() {
        var table = RubricTable(bins: 2)
        table.add(bin: 1, rating: 3, count: 3)
        table.add(bin: 1, rating: 0)
        table.add(bin: 4, rating: 2)
        table.add(bin: 1, rating: 7)  // ignored
        #expect(table.maxBin == 4)
        #expect(table.total(bin: 1) == 4 && table.total == 5)
        #expect(table.share(bin: 1, rating: 3) == 0.75)
        #expect(table.share(bin: 0, rating: 0) == nil)
        #expect(table.meanRating(bin: 1) == 2.25)
        #expect(RubricTable.label(bin: 0) == "none")
    }

    // MARK: - Escaping

    @Test func specialCharactersAreEscapedEverywhere() throws {
        let rendered = try Self.shared()
        // The only script elements are the report's own two.
        #expect(rendered.html.components(separatedBy: "<script").count - 1 == 2)
        #expect(!rendered.html.contains("like <script>") && !rendered.html.contains("and </b>"))
        #expect(!rendered.html.contains("<html>internal"))
        let data = try Self.reportData(rendered)
        let tokens = try #require(data["tokens"] as? [String])
        for token in ["<script>", "</b>", "&amp;", "&", "\"", "'", "]]>", "日本", "🙂", "\n", " \\"] {
            #expect(tokens.contains(token), "token \(token.debugDescription) round-trips")
        }
        // The data block holds no raw markup characters at all.
        let script = try #require(try Self.elements(rendered.document, "script", where: "[@id='report-data']").first?.stringValue)
        #expect(!script.contains("<") && !script.contains(">") && !script.contains("&"))
        // Failure reasons (with <script> and quotes) show as text in the static tables.
        let failures = try #require(try Self.elements(rendered.document, "table", where: "[@id='failures-table']").first)
        let reasons = try Self.elements(failures, "td").compactMap(\.stringValue)
        #expect(reasons.contains("could not parse the simulator's answer: unexpected '<' in \"<script>\""))
    }

    @Test func textEscaping() {
        #expect(ReportText.html("<script>&\"'") == "&lt;script&gt;&amp;&quot;&#39;")
        #expect(ReportText.html("a\u{1}b") == "a\u{FFFD}b")
        let json = ReportText.json("</script><!--]]>&\u{2028}\"\\\n")
        #expect(!json.contains("<") && !json.contains(">") && !json.contains("&") && !json.contains("\u{2028}"))
        let decoded = try? JSONSerialization.jsonObject(with: Data(json.utf8), options: .fragmentsAllowed) as? String
        #expect(decoded == "</script><!--]]>&\u{2028}\"\\\n")
        #expect(ReportText.json(nil as Double?) == "null" && ReportText.json(Double.nan) == "null" && ReportText.json(2.0) == "2")
        #expect(ReportText.markdown("a|b <c>\nd") == "a\\|b \\<c\\> d")
        #expect(ReportText.markdown("a & b &amp; c") == "a & b \\&amp; c")
        #expect(ReportText.displayWidth("日本 a🙂") == 8)
        #expect(ReportText.csv("plain") == "plain" && ReportText.csv("a,\"b\"") == "\"a,\"\"b\"\"\"")
        #expect(ReportText.compact(1.5) == "1.5" && ReportText.compact(0.004) == "0" && ReportText.compact(-0.07) == "-0.07")
        #expect(ReportText.compact(3) == "3" && ReportText.compact(12.345) == "12.35" && ReportText.compact(.nan) == "0")
        #expect(ReportText.count(1_234_567) == "1,234,567" && ReportText.count(12) == "12")
        #expect([950, 1234, 10_000, 99_999, 999_499, 3_400_000].map(ReportText.shortCount) == ["950", "1.2k", "10k", "100k", "999k", "3.4M"])
        #expect(ReportText.pValue(0) == "< 1e-300" && ReportText.pValue(0.5) == "0.500" && ReportText.pValue(1e-5) == "1.00e-05")
        #expect(RunReport.parseNumbers("[0,1.5,\"NaN\",-2]").map(\.description) == ["0.0", "1.5", "nan", "-2.0"])
    }

    @Test func fastArrayParsersAgreeWithJSONDecoder() throws {
        let strings = ["<script>", "\"", "\\", "a/b", "\n\t\r\u{8}\u{c}", "\u{1}", "日本", "🙂", "", " café", "]]>", "&amp;", "\u{2028}"]
        for encoded in [try StoreFormat.json(strings), String(decoding: try JSONEncoder().encode(strings), as: UTF8.self),
                        #"["\u65e5\ud83d\ude42", "x\/y"]"#, "[ ]", "[\"a\" , \"b\"]"] {
            let expected = try JSONDecoder().decode([String].self, from: Data(encoded.utf8))
            #expect(RunReport.parseStrings(encoded) == expected, "\(encoded)")
        }
        for bad in ["", "[", "[\"a\"", "[\"a\",]x", "{}", "[1]", "[\"\\u12\"]"] {
            #expect(RunReport.parseStrings(bad) == nil, "\(bad)")
        }
        let numbers: [Float] = [0, 1.5, -2.25, 3, 0.001, 123456.7, 1e-7, 3.4e38, -0.1]
        #expect(RunReport.parseNumbers(StoreFormat.json(numbers)) == numbers)
        #expect(RunReport.parseNumbers("[]") == [])
    }

    @Test func examplesAreCutAroundTheirPeak() {
        let tokens = (0..<100).map { "t\($0)" }
        var acts = [Float](repeating: 0, count: 100)
        acts[90] = 5
        let example = ReportExample.window(tokens: tokens, activations: acts, size: 32)
        #expect(example.tokens.count == 32 && example.tokens.contains("t90"))
        #expect(example.droppedBefore + 32 + example.droppedAfter == 100)
        acts[90] = 0
        acts[2] = 1
        let early = ReportExample.window(tokens: tokens, activations: acts, size: 32)
        #expect(early.droppedBefore == 0 && early.tokens.first == "t0")
        #expect(ReportExample.window(tokens: ["a"], activations: [1], size: 32).tokens == ["a"])
    }

    // MARK: - Markdown

    @Test func markdownHasTheSameNumbers() throws {
        let rendered = try Self.shared()
        let markdown = try String(contentsOf: rendered.dir.path("fx/report.md"), encoding: .utf8)
        for kind in rendered.report.columnKinds {
            let summary = rendered.report.summary(kind, threshold: 0)
            #expect(markdown.contains(String(format: "%.3f", summary.median!)))
        }
        #expect(markdown.contains("| none "))
        #expect(markdown.contains("Mann-Whitney U"))
        #expect(markdown.contains("\\<script\\>"), "explanations with tags are escaped")
        #expect(!markdown.contains("<script>"))
        // Every table row has the same number of cells as its header.
        for block in markdown.components(separatedBy: "\n\n") where block.hasPrefix("|") {
            let counts = Set(block.split(separator: "\n").map { $0.replacingOccurrences(of: "\\|", with: "").filter { $0 == "|" }.count })
            #expect(counts.count == 1, "\(block)")
        }
    }

    // MARK: - Explainers and errors

    @Test func explainerChoiceAndUnknownExplainer() throws {
        var options = Self.fixtureOptions()
        options.secondExplainer = "baseline"
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let (store, generated) = try RunFixture.create(in: dir.url, name: "two", options: options)
        let report = try RunReport.load(from: store, run: generated.run)
        #expect(report.explainer == "llm", "equal counts: the explainer of the latest explanation")
        #expect(report.units.allSatisfy { $0.explanationCount == 2 })
        for (unit, expected) in zip(report.units, generated.units) {
            #expect(unit.explanation?.id == expected.explanationID)
        }
        var baseline = ReportOptions()
        baseline.explainer = "baseline"
        let other = try RunReport.load(from: store, run: generated.run, options: baseline)
        #expect(other.units.allSatisfy { $0.explanation?.explainer == "baseline" })
        baseline.explainer = "nope"
        let error = #expect(throws: AutoInterpError.self) { try RunReport.load(from: store, run: generated.run, options: baseline) }
        #expect(error?.message.contains("explainers there: baseline, llm") == true)
    }

    @Test func unscoredExplanationsAreNeitherScoredNorUndefined() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let (store, generated) = try RunFixture.create(in: dir.url, name: "u", options: Self.fixtureOptions())
        let first = generated.units[0]
        _ = try store.addExplanation(unitID: first.unitID, explainer: "llm", model: "m", text: "not scored yet")
        let report = try RunReport.load(from: store, run: generated.run)
        let unit = try #require(report.units.first { $0.unitID == first.unitID })
        #expect(unit.explanation?.text == "not scored yet" && unit.spearman == nil && unit.score == nil)
        let features = generated.units.filter { $0.unit.kind == .feature }
        #expect(report.scores(.feature).count == features.count - 1)
        #expect(report.summary(.feature, threshold: 0).undefinedCount == features.dropFirst().count { $0.spearman == nil })
    }

    @Test func locatorNamesTheFileAndTheRuns() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        _ = try RunFixture.create(in: dir.url, name: "a", options: Self.fixtureOptions())
        let missing = #expect(throws: AutoInterpError.self) { try RunLocator.open(results: dir.url, name: "b") }
        #expect(missing?.message.contains("no run database at \(dir.url.path)/b/autointerp.sqlite") == true)
        #expect(missing?.message.contains("runs in \(dir.url.path): a") == true)
        #expect(!FileManager.default.fileExists(atPath: dir.path("b").path), "never creates a database")
        // A database folder whose run row has another name.
        try FileManager.default.createDirectory(at: dir.path("c"), withIntermediateDirectories: true)
        try FileManager.default.copyItem(at: dir.path("a/autointerp.sqlite"), to: dir.path("c/autointerp.sqlite"))
        let wrong = #expect(throws: AutoInterpError.self) { try RunLocator.open(results: dir.url, name: "c") }
        #expect(wrong?.message == "no run named c in \(dir.url.path)/c/autointerp.sqlite (runs there: a)")
    }

    @Test func emptyRunStillRenders() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let store = try RunStore(url: dir.path("empty/autointerp.sqlite"))
        let run = try store.createRun(name: "empty", configJSON: "{}")
        let output = try ReportWriter.write(store: store, run: run)
        let html = try String(contentsOf: output.html, encoding: .utf8)
        _ = try XMLDocument(xmlString: html, options: [])
        #expect(html.contains("needs defined scores of both features and neurons"))
        #expect(try String(contentsOf: output.markdown, encoding: .utf8).contains("No LLM calls logged."))
    }

    @Test func pricesFromTheRunState() throws {
        let flat = TokenPrices(StoredPrices(prompt: 1, completion: 2))
        var usage = ModelUsage(model: "m")
        usage.billedPromptTokens = 1_000_000
        usage.billedCompletionTokens = 500_000
        #expect(flat.cost(of: usage) == 2)
        let perModel = TokenPrices(fallback: nil, byModel: ["m": .init(promptPerMillion: 0.5, completionPerMillion: 1)], currency: "EUR")
        #expect(perModel.cost(of: usage) == 1 && perModel.currency == "EUR")

        var options = Self.fixtureOptions()
        options.prices = StoredPrices(prompt: 0.15, completion: 0.6)
        let rendered = try Self.render(options)
        defer { rendered.dir.remove() }
        #expect(rendered.report.totalCost != nil)
        #expect(rendered.html.contains("cost (USD)"))
    }
}
