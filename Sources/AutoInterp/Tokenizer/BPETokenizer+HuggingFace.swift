package import Foundation

extension BPETokenizer {
    /// Loads a Hugging Face `tokenizer.json` of model type `BPE` with a byte-level pre-tokenizer.
    ///
    /// Settings that would change the ids in ways this reader does not follow (dropout, byte
    /// fallback, subword prefixes, other pre-tokenizers or normalizers, split behaviours other than
    /// `Isolated`) are refused with one line naming the setting.
    ///
    /// - Throws: `AutoInterpError.invalidFile` or `.unsupported` naming the file.
    package static func load(tokenizerJSON url: URL) throws -> BPETokenizer {
        let path = url.path
        func fail(_ problem: String) -> AutoInterpError { .invalidFile(path, problem) }
        func unsupported(_ what: String) -> AutoInterpError { .unsupported("\(path): \(what) is not supported by this version") }
        let data: Data
        do { data = try Data(contentsOf: url) } catch {
            throw AutoInterpError.io(path, "cannot read: \(error.localizedDescription)")
        }
        guard let root = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else {
            throw fail("not a JSON object; expected a Hugging Face tokenizer.json")
        }
        guard let model = root["model"] as? [String: Any] else { throw fail("no 'model' object") }
        guard model["type"] as? String == "BPE" else {
            throw unsupported("tokenizer model type '\(model["type"] as? String ?? "?")' (byte-level BPE is read)")
        }
        if let dropout = model["dropout"], !(dropout is NSNull) { throw unsupported("BPE dropout") }
        if model["byte_fallback"] as? Bool == true { throw unsupported("BPE byte_fallback (SentencePiece-style vocabularies)") }
        for key in ["continuing_subword_prefix", "end_of_word_suffix"] {
            if let text = model[key] as? String, !text.isEmpty { throw unsupported("BPE \(key) '\(text)'") }
        }
        let vocabulary = try HuggingFaceBPEModel.vocabulary(model, fail: fail)
        let merges = try HuggingFaceBPEModel.merges(model, fail: fail)
        let added = try HuggingFaceBPEModel.addedTokens(root, fail: fail, unsupported: unsupported)
        let nfc = try normalizer(root["normalizer"], unsupported: unsupported)
        let pre = try preTokenizer(root["pre_tokenizer"], unsupported: unsupported, fail: fail)
        return try BPETokenizer(
            vocabulary: vocabulary, merges: merges, addedTokens: added, preTokenizer: pre, nfc: nfc,
            ignoreMerges: model["ignore_merges"] as? Bool ?? false,
            unknownID: HuggingFaceBPEModel.unknownID(model),
            source: path)
    }

    /// `null`, `NFC`, or a `Sequence` of NFCs → whether to apply NFC.
    private static func normalizer(_ value: Any?, unsupported: (String) -> AutoInterpError) throws -> Bool {
        guard let value, !(value is NSNull) else { return false }
        guard let object = value as? [String: Any], let type = object["type"] as? String else {
            throw unsupported("a normalizer without a type")
        }
        switch type {
        case "NFC": return true
        case "Sequence":
            var any = false
            for item in (object["normalizers"] as? [Any]) ?? [] { any = try normalizer(item, unsupported: unsupported) || any }
            return any
        default: throw unsupported("normalizer '\(type)'")
        }
    }

    private static func preTokenizer(
        _ value: Any?, unsupported: (String) -> AutoInterpError, fail: (String) -> AutoInterpError
    ) throws -> BPEPreTokenizer {
        guard let object = value as? [String: Any] else { throw unsupported("a tokenizer without a byte-level pre_tokenizer") }
        let items: [[String: Any]] =
            object["type"] as? String == "Sequence" ? ((object["pretokenizers"] as? [[String: Any]]) ?? []) : [object]
        var steps: [BPEPreTokenizer.Step] = []
        var prefix = false
        var byteLevel = false
        for item in items {
            let type = item["type"] as? String ?? "?"
            guard !byteLevel else { throw unsupported("pre-tokenizer '\(type)' after ByteLevel") }
            switch type {
            case "ByteLevel":
                byteLevel = true
                prefix = item["add_prefix_space"] as? Bool ?? false
                if item["use_regex"] as? Bool ?? true { steps.append(.split(try RegexBox(BPEPreTokenizer.gpt2Pattern))) }
            case "Split":
                guard item["behavior"] as? String == "Isolated", item["invert"] as? Bool != true else {
                    throw unsupported("Split behaviour '\(item["behavior"] as? String ?? "?")' (only Isolated, not inverted)")
                }
                let pattern = item["pattern"] as? [String: Any]
                if let regex = pattern?["Regex"] as? String {
                    do { steps.append(.split(try RegexBox(regex))) } catch { throw fail("Split regex does not compile: \(regex)") }
                } else if let literal = pattern?["String"] as? String {
                    steps.append(.split(try RegexBox(NSRegularExpression.escapedPattern(for: literal))))
                } else {
                    throw fail("Split has no Regex or String pattern")
                }
            case "Digits":
                steps.append(.digits(individual: item["individual_digits"] as? Bool ?? false))
            default:
                throw unsupported("pre-tokenizer '\(type)'")
            }
        }
        guard byteLevel else { throw unsupported("a pre_tokenizer without ByteLevel") }
        return BPEPreTokenizer(steps: steps, addPrefixSpace: prefix)
    }
}
