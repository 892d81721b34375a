import Foundation

// MARK: - Loading

extension RunReport {
    /// Reads everything the report shows about `run` from `store`, with a handful of read-only queries.
    ///
    /// - Throws: ``AutoInterpError`` when `options.explainer` names an explainer with no
    ///   explanations in the run, or the database cannot be read.
    public static func load(from store: RunStore, run: RunInfo, options: ReportOptions = ReportOptions()) throws
        -> RunReport
    {
        let storedUnits = try store.units(runID: run.id)

        // Explanations: counts per explainer, then the latest of the chosen explainer per unit.
        let explanationRows = try store.explanationListings(runID: run.id).sorted { $0.id < $1.id }
        var counts: [String: Int] = [:]
        var latest: [String: Int64] = [:]
        var perUnit: [Int64: Int] = [:]
        for row in explanationRows {
            counts[row.explainer, default: 0] += 1
            latest[row.explainer] = row.id
            perUnit[row.unitID, default: 0] += 1
        }
        let explainer: String?
        if let wanted = options.explainer {
            guard counts[wanted] != nil else {
                let known = counts.keys.sorted().joined(separator: ", ")
                throw AutoInterpError.invalidInput(
                    "run '\(run.name)' in \(store.path) has no explanations by explainer '\(wanted)'"
                        + " (explainers there: \(known.isEmpty ? "none" : known))")
            }
            explainer = wanted
        } else {
            explainer = counts.keys.max { a, b in (counts[a]!, latest[a]!) < (counts[b]!, latest[b]!) }
        }
        var chosen: [Int64: ExplanationReport] = [:]
        for row in explanationRows where row.explainer == explainer {
            chosen[row.unitID] = ExplanationReport(id: row.id, explainer: row.explainer, model: row.model, text: row.text, scores: [])
        }
        let unitOfExplanation = Dictionary(uniqueKeysWithValues: chosen.map { ($1.id, $0) })

        // Scores of the chosen explanations.
        for score in try store.scores(runID: run.id) {
            guard let unitID = unitOfExplanation[score.explanationID] else { continue }
            chosen[unitID]?.scores.append(score.score)
        }

        // Rubric counts of the chosen explanations.
        var rubric: [Int64: RubricTable] = [:]
        for row in try store.rubricHistogram(runID: run.id) {
            guard let unitID = unitOfExplanation[row.explanationID] else { continue }
            rubric[unitID, default: RubricTable()].add(bin: row.bin, rating: row.rating, count: row.count)
        }

        // Simulation counts of the chosen explanations.
        var simulations: [Int64: SimulationCount] = [:]
        for (explanationID, count) in try store.simulationCounts(runID: run.id) {
            guard let unitID = unitOfExplanation[explanationID] else { continue }
            simulations[unitID] = count
        }

        let examples = try topExamples(store: store, runID: run.id, options: options)

        let units = storedUnits.map { stored in
            UnitReport(
                unitID: stored.id, statistics: stored.statistics, explanation: chosen[stored.id],
                explanationCount: perUnit[stored.id] ?? 0, examples: examples[stored.id] ?? [],
                rubric: rubric[stored.id] ?? RubricTable(), simulations: simulations[stored.id]?.total ?? 0,
                failedSimulations: simulations[stored.id]?.failed ?? 0)
        }

        var report = RunReport(
            run: run, databasePath: store.path, options: options, explainer: explainer, explainerCounts: counts,
            otherRuns: try store.runs().map(\.name).filter { $0 != run.name }, units: units,
            usage: try store.modelUsage(), prices: TokenPrices.parse(configJSON: run.configJSON),
            failures: try failureGroups(store, runID: run.id, explanations: Set(unitOfExplanation.keys)),
            undefinedScores: undefinedGroups(units))
        report.rubricFailures = try store.rubricFailureCounts(runID: run.id).map { FailureGroup(kind: $0.kind, reason: $0.reason, count: $0.count) }
        return report
    }

    // MARK: Queries

    /// The strongest `explain`/`top` examples of every unit, cut to the window.
    private static func topExamples(store: RunStore, runID: Int64, options: ReportOptions) throws -> [Int64:
        [ReportExample]]
    {
        guard options.examplesPerUnit > 0 else { return [:] }
        var result: [Int64: [ReportExample]] = [:]
        let rows = try store.topExampleTexts(runID: runID, limit: options.examplesPerUnit)
        for row in rows {
            guard let tokens = parseStrings(row.tokensJSON) else {
                throw AutoInterpError.database(
                    store.path, "column examples.tokens_json does not hold a JSON array of strings (was it edited by hand?)")
            }
            let activations = parseNumbers(row.activationsJSON)
            result[row.unitID, default: []].append(
                ReportExample.window(tokens: tokens, activations: activations, size: options.exampleWindow))
        }
        return result
    }

    // MARK: Fast JSON arrays

    /// A JSON array of strings, parsed byte by byte (tens of thousands of them make a report); nil when malformed.
    static func parseStrings(_ text: String) -> [String]? {
        var text = text
        return text.withUTF8 { bytes -> [String]? in
            var strings: [String] = []
            var i = 0
            let n = bytes.count
            func skipSpace() { while i < n, bytes[i] == 0x20 || bytes[i] == 0x0A || bytes[i] == 0x0D || bytes[i] == 0x09 { i += 1 } }
            func hex4() -> UInt32? {
                guard i + 4 <= n else { return nil }
                var value: UInt32 = 0
                for k in 0..<4 {
                    let c = bytes[i + k]
                    let digit: UInt32
                    switch c {
                    case 0x30...0x39: digit = UInt32(c - 0x30)
                    case 0x41...0x46: digit = UInt32(c - 0x41 + 10)
                    case 0x61...0x66: digit = UInt32(c - 0x61 + 10)
                    default: return nil
                    }
                    value = value * 16 + digit
                }
                i += 4
                return value
            }
            skipSpace()
            guard i < n, bytes[i] == UInt8(ascii: "[") else { return nil }
            i += 1
            skipSpace()
            if i < n, bytes[i] == UInt8(ascii: "]") { return [] }
            while i < n {
                skipSpace()
                guard i < n, bytes[i] == UInt8(ascii: "\"") else { return nil }
                i += 1
                var start = i
                var scalars: [UInt8] = []
                var escaped = false
                while i < n, bytes[i] != UInt8(ascii: "\"") {
                    guard bytes[i] == UInt8(ascii: "\\") else {
                        i += 1
                        continue
                    }
                    if !escaped {
                        escaped = true
                    }
                    scalars.append(contentsOf: bytes[start..<i])
                    i += 1
                    guard i < n else { return nil }
                    let c = bytes[i]
                    i += 1
                    switch c {
                    case UInt8(ascii: "n"): scalars.append(0x0A)
                    case UInt8(ascii: "t"): scalars.append(0x09)
                    case UInt8(ascii: "r"): scalars.append(0x0D)
                    case UInt8(ascii: "b"): scalars.append(0x08)
                    case UInt8(ascii: "f"): scalars.append(0x0C)
                    case UInt8(ascii: "u"):
                        guard var code = hex4() else { return nil }
                        if (0xD800...0xDBFF).contains(code), i + 1 < n, bytes[i] == UInt8(ascii: "\\"), bytes[i + 1] == UInt8(ascii: "u") {
                            i += 2
                            guard let low = hex4(), (0xDC00...0xDFFF).contains(low) else { return nil }
                            code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)
                        }
                        scalars.append(contentsOf: String(Unicode.Scalar(code) ?? "\u{FFFD}").utf8)
                    default: scalars.append(c)  // \" \\ \/
                    }
                    start = i
                }
                guard i < n else { return nil }
                if escaped {
                    scalars.append(contentsOf: bytes[start..<i])
                    strings.append(String(decoding: scalars, as: UTF8.self))
                } else {
                    strings.append(String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<i]), as: UTF8.self))
                }
                i += 1
                skipSpace()
                guard i < n else { return nil }
                if bytes[i] == UInt8(ascii: "]") { return strings }
                guard bytes[i] == UInt8(ascii: ",") else { return nil }
                i += 1
            }
            return nil
        }
    }

    /// A JSON array of numbers (non-finite ones written as strings) without a JSON decoder.
    static func parseNumbers(_ text: String) -> [Float] {
        var values: [Float] = []
        var text = text
        text.withUTF8 { bytes in
            var i = 0
            let n = bytes.count
            while i < n {
                let c = bytes[i]
                if c == UInt8(ascii: "[") || c == UInt8(ascii: "]") || c == UInt8(ascii: ",") || c == 0x20 {
                    i += 1
                    continue
                }
                var end = i
                while end < n, bytes[end] != UInt8(ascii: ","), bytes[end] != UInt8(ascii: "]") { end += 1 }
                let token = UnsafeBufferPointer(rebasing: bytes[i..<end])
                if let value = parseFloat(token) {
                    values.append(value)
                } else {
                    let word = String(decoding: token, as: UTF8.self).trimmingCharacters(in: .init(charactersIn: "\" "))
                    values.append(word == "Infinity" ? .infinity : word == "-Infinity" ? -.infinity : .nan)
                }
                i = end
            }
        }
        return values
    }

    /// A plain decimal (`-12.5`, `3`, `0.001`) as a Float; nil for anything else (exponents and long
    /// forms go through `Float(String)`). Short forms are computed as one correctly rounded Double
    /// division and then rounded to Float, which can differ from `Float(String)` by one ulp in rare
    /// ties: invisible in a report that shows two decimals.
    private static func parseFloat(_ token: UnsafeBufferPointer<UInt8>) -> Float? {
        var i = 0
        var negative = false
        if i < token.count, token[i] == UInt8(ascii: "-") {
            negative = true
            i += 1
        }
        var mantissa: UInt64 = 0
        var digits = 0
        var fraction = 0
        var seenPoint = false
        while i < token.count {
            let c = token[i]
            if c >= 0x30 && c <= 0x39 {
                guard digits < 15 else { return Float(String(decoding: token, as: UTF8.self)) }
                mantissa = mantissa * 10 + UInt64(c - 0x30)
                digits += 1
                if seenPoint { fraction += 1 }
            } else if c == UInt8(ascii: "."), !seenPoint {
                seenPoint = true
            } else {
                return Float(String(decoding: token, as: UTF8.self))
            }
            i += 1
        }
        guard digits > 0 else { return nil }
        let value = Float(Double(mantissa) / pow10[fraction])
        return negative ? -value : value
    }

    private static let pow10: [Double] = (0...15).map { pow(10, Double($0)) }

    /// Failed simulations of the report explanations by kind and error.
    private static func failureGroups(_ store: RunStore, runID: Int64, explanations: Set<Int64>) throws -> [FailureGroup] {
        var groups: [String: [UnitKind: Int]] = [:]
        for failure in try store.simulationFailures(runID: runID) where explanations.contains(failure.explanationID) {
            groups[failure.error ?? "no reason recorded", default: [:]][failure.kind, default: 0] += failure.count
        }
        return sorted(groups)
    }

    /// Undefined Spearman/all scores by kind and reason.
    private static func undefinedGroups(_ units: [UnitReport]) -> [FailureGroup] {
        var groups: [String: [UnitKind: Int]] = [:]
        for unit in units {
            guard let score = unit.spearman, score.value == nil else { continue }
            groups[score.undefinedReason ?? "no reason recorded", default: [:]][unit.unit.kind, default: 0] += 1
        }
        return sorted(groups)
    }

    private static func sorted(_ groups: [String: [UnitKind: Int]]) -> [FailureGroup] {
        groups.flatMap { reason, kinds in kinds.map { FailureGroup(kind: $0.key, reason: reason, count: $0.value) } }
            .sorted { ($0.count, $1.kind, $1.reason) > ($1.count, $0.kind, $0.reason) }
    }
}
