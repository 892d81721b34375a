import Foundation

/// Answers that are plainly not a description of a unit, whatever the prompt was: what a broken
/// proxy, a refusing model, an echoing test server or a hostile endpoint sends back with a 200.
///
/// Each kind is refused with its own reason (``ExplanationCheck/notADescription(_:raw:)``):
///
/// - an HTML page or a gateway error (`<html`, `<!doctype`, an answer that starts with a tag, "502 Bad Gateway", …);
/// - a refusal ("As an AI language model", "I cannot", "I'm sorry", …);
/// - a placeholder (`null`, `none`, `undefined`, `n/a`, …), a JSON object or array, or no word at all;
/// - a URL (`http://`, `https://`, `www.`);
/// - a spreadsheet formula (`=HYPERLINK(`, `=1+1`, `@SUM(`, …);
/// - a server banner or `key=value` dump (`[echo] model=… host=…`: a bracketed tag with a
///   `key=value` pair, or three pairs).
///
/// The same checks run on explanations already stored by an older run (``storedProblem(_:)``), so a
/// rerun re-asks them instead of scoring them.
extension ExplanationCheck {
    /// Why `text` is not a description at all, or nil.
    ///
    /// - Parameters:
    ///   - text: the cleaned explanation.
    ///   - raw: the whole answer as received (an HTML page is recognised in any of its lines).
    package static func notADescription(_ text: String, raw: String) -> String? {
        let lowerRaw = raw.lowercased()
        let lower = text.lowercased().trimmingCharacters(in: .whitespaces)
        let shown = "(\"\(SimulationParser.preview(text))\")"
        if isHTML(lowerRaw) { return "the explainer's answer is an HTML page or a server error, not a description \(shown)" }
        if isFormula(lower) { return "the explainer's answer is a spreadsheet formula, not a description \(shown)" }
        if isRefusal(lower) { return "the explainer refused instead of describing the unit \(shown)" }
        if let placeholder = placeholder(lower) { return "the explainer's answer is \(placeholder), not a description \(shown)" }
        if isURL(lower) { return "the explainer's answer holds a URL, not a description \(shown)" }
        if isBanner(lower) { return "the explainer's answer is a server banner or key=value dump, not a description \(shown)" }
        return nil
    }

    /// Why an explanation stored by an earlier run cannot be trusted (it would be refused today), or nil.
    package static func storedProblem(_ text: String) -> String? {
        if text.unicodeScalars.contains(where: { $0.value == 0 }) { return "the stored explanation holds a NUL byte" }
        return notADescription(text, raw: text)
    }

    private static let gatewayErrors = [
        "bad gateway", "gateway timeout", "gateway time-out", "service unavailable", "service temporarily unavailable",
        "internal server error", "502 bad", "503 service", "504 gateway",
    ]

    /// A page or a tag-led answer (`<html…`, `<b>…`), or a gateway's error; a tag quoted inside a
    /// description ("closing tags such as </p>") is not one.
    static func isHTML(_ lower: String) -> Bool {
        let text = lower.trimmingCharacters(in: .whitespacesAndNewlines)
        if text.hasPrefix("<"), text.range(of: #"^<[!/a-z]"#, options: .regularExpression) != nil { return true }
        if ["<html", "<!doctype", "<head>", "<body", "<title>"].contains(where: text.contains) { return true }
        return gatewayErrors.contains { text.contains($0) }
    }

    private static let refusalOpenings = [
        "i cannot", "i can't", "i can not", "i'm sorry", "i am sorry", "sorry,", "sorry i", "i apologize", "i apologise", "i'm unable",
        "i am unable", "i'm not able", "i am not able", "i won't", "i will not", "unfortunately", "as a language model",
        "i do not have", "i don't have",
    ]

    static func isRefusal(_ lower: String) -> Bool {
        let text = lower.replacingOccurrences(of: "’", with: "'")
        if text.contains("as an ai") || text.contains("language model") && (text.contains("cannot") || text.contains("can't")) {
            return true
        }
        return refusalOpenings.contains { text.hasPrefix($0) }
    }

    private static let placeholders: Set<String> = [
        "null", "none", "nil", "undefined", "nan", "n a", "na", "void", "empty", "error", "true", "false", "no explanation",
        "unknown", "todo", "tbd", "explanation", "object object",
    ]

    /// "a placeholder (`null`)", "a JSON object", … or nil.
    static func placeholder(_ lower: String) -> String? {
        if lower.hasPrefix("{") || lower.hasPrefix("[") && !lower.hasPrefix("[[") && lower.hasSuffix("]") {
            return lower.hasPrefix("{") ? "a JSON object" : "a JSON array"
        }
        let key = normalized(lower)
        if placeholders.contains(key) { return "a placeholder (\(key))" }
        if !lower.unicodeScalars.contains(where: CharacterSet.letters.contains) { return "no words" }
        return nil
    }

    static func isURL(_ lower: String) -> Bool {
        ["http://", "https://", "ftp://", "file://", "www."].contains(where: lower.contains)
            || lower.range(of: #"[a-z][a-z0-9+.-]*://"#, options: .regularExpression) != nil
    }

    static func isFormula(_ lower: String) -> Bool {
        if lower.hasPrefix("=") { return true }
        return lower.range(of: #"^[+\-@]\s*[a-z_][a-z0-9_.]*\("#, options: .regularExpression) != nil
    }

    /// A bracketed tag with a `key=value` pair (`[echo] model=…`), or three `key=value` pairs.
    static func isBanner(_ lower: String) -> Bool {
        let pairs = lower.matches(of: #/[a-z_][a-z0-9_.-]*=[^\s,;]/#).count
        if pairs >= 3 { return true }
        return pairs >= 1 && lower.range(of: #"^\[[a-z0-9_ -]{1,24}\]"#, options: .regularExpression) != nil
    }
}
