import Foundation

/// The JSON block the HTML report's script draws the unit index and cards from.
///
/// Shape (short keys keep 10,000 units light):
/// ```
/// {"run": "name", "pageSize": 50, "bins": 10,
///  "tokens": ["the", " cat", …],                  // string table, examples refer to it by index
///  "units": [{"k": "feature", "i": 3,              // kind, index
///             "s": 0.53, "u": null,                // Spearman/all, or null and the undefined reason
///             "st": 0.61, "sr": 0.2,               // Spearman top, random (null if missing/undefined)
///             "cs": 0.02,                          // the control's Spearman/all (null if none or undefined)
///             "d": 0.0123, "m": 4.5, "n": 8192,     // density, max activation, tokens counted
///             "e": "text", "x": "llm", "mo": "model", "ne": 1,   // explanation, explainer, model, count
///             "sc": [["spearman", "all", 0.53, null, 120], …],   // metric, subset, value, reason, n
///             "h": [zeroCount, c1, …, c10],        // activation histogram
///             "r": [[r0, r1, r2, r3], …],          // rubric counts per bin 0…n
///             "ex": [{"o": dropped before, "c": dropped after, "t": [token ids], "a": [activations]}],
///             "f": [failed, total]}, …]}           // simulations
/// ```
/// Strings are escaped by ``ReportText/json(_:)`` (no raw `<`, `>` or `&`).
public enum ReportData {
    /// The JSON text for `report`.
    public static func json(_ report: RunReport) -> String {
        var tokenIDs: [String: Int] = [:]
        var tokens: [String] = []
        func tokenID(_ token: String) -> Int {
            if let id = tokenIDs[token] { return id }
            tokenIDs[token] = tokens.count
            tokens.append(token)
            return tokens.count - 1
        }
        func string(_ text: String?) -> String { text.map(ReportText.json) ?? "null" }

        var units: [String] = []
        units.reserveCapacity(report.units.count)
        for unit in report.units {
            let statistics = unit.statistics
            let explanation = unit.explanation
            var item = "{\"k\":\"\(unit.unit.kind.rawValue)\",\"i\":\(unit.unit.index)"
            item += ",\"s\":\(ReportText.json(unit.score)),\"u\":\(string(unit.spearman?.undefinedReason))"
            item += ",\"st\":\(ReportText.json(explanation?.score(.spearman, .top)?.value))"
            item += ",\"sr\":\(ReportText.json(explanation?.score(.spearman, .random)?.value))"
            item += ",\"cs\":\(ReportText.json(unit.controlScore))"
            item += ",\"d\":\(ReportText.json(statistics.density)),\"m\":\(ReportText.json(Double(statistics.maxActivation)))"
            item += ",\"n\":\(statistics.tokenCount)"
            item += ",\"e\":\(string(explanation?.text)),\"x\":\(string(explanation?.explainer))"
            item += ",\"mo\":\(string(explanation?.model)),\"ne\":\(unit.explanationCount)"
            let scores = (explanation?.scores ?? []).map { score in
                "[\"\(score.metric.rawValue)\",\"\(score.subset.rawValue)\",\(ReportText.json(score.value)),"
                    + "\(string(score.undefinedReason)),\(score.n)]"
            }
            item += ",\"sc\":[\(scores.joined(separator: ","))]"
            item += ",\"h\":[\(([statistics.histogram.zeroCount] + statistics.histogram.counts).map(String.init).joined(separator: ","))]"
            let rubric = unit.rubric.total > 0 ? unit.rubric.counts.map { "[\($0.map(String.init).joined(separator: ","))]" } : []
            item += ",\"r\":[\(rubric.joined(separator: ","))]"
            let examples = unit.examples.map { example in
                "{\"o\":\(example.droppedBefore),\"c\":\(example.droppedAfter),\"t\":["
                    + example.tokens.map { String(tokenID($0)) }.joined(separator: ",") + "],\"a\":["
                    + example.activations.map(ReportText.compact).joined(separator: ",") + "]}"
            }
            item += ",\"ex\":[\(examples.joined(separator: ","))]"
            item += ",\"f\":[\(unit.failedSimulations),\(unit.simulations)]}"
            units.append(item)
        }
        var json = "{\"run\":\(ReportText.json(report.run.name)),\"pageSize\":\(report.options.pageSize)"
        json += ",\"tokens\":[" + tokens.map(ReportText.json).joined(separator: ",") + "]"
        json += ",\"units\":[\n" + units.joined(separator: ",\n") + "\n]}"
        return json
    }
}
