import AutoInterpLLM
package import Foundation

/// How a sentence-embedding model turns its token outputs into one vector, as sentence-transformers
/// reads it from the model folder: `modules.json` (a `Pooling` module's folder, a `Normalize`
/// module), the pooling folder's `config.json` (`pooling_mode_*`), and `sentence_bert_config.json`
/// (`max_seq_length`).
///
/// A folder without `modules.json` (a plain BERT checkpoint) gets mean pooling, L2-normalised:
/// what `all-MiniLM-L6-v2` and most sentence-transformers models do.
package struct SentencePooling: Sendable, Equatable {
    /// The pooling modes sentence-transformers' `Pooling` module offers that this runner computes.
    package enum Mode: String, Sendable, Equatable {
        /// The mean over every token of the sequence (`[CLS]` and `[SEP]` included, as the attention mask counts them).
        case mean
        /// The `[CLS]` token's output.
        case cls
        /// The element-wise maximum over the tokens.
        case max
        /// The sum over the tokens divided by the square root of their count.
        case meanSqrtLength = "mean_sqrt_len"
    }

    package var mode: Mode
    /// Whether the pooled vector is divided by its L2 norm (a `Normalize` module).
    package var normalize: Bool
    /// Longest input in tokens, `[CLS]` and `[SEP]` included (nil: the model's positions).
    package var maxSequenceLength: Int?

    package init(mode: Mode = .mean, normalize: Bool = true, maxSequenceLength: Int? = nil) {
        self.mode = mode
        self.normalize = normalize
        self.maxSequenceLength = maxSequenceLength
    }

    /// The pooling of the model folder `directory`.
    ///
    /// - Throws: ``AutoInterpError/invalidFile(_:_:)`` naming the file for malformed JSON, a pooling
    ///   mode this runner does not compute (weighted mean, last token), or none or several modes set.
    package static func load(directory: URL) throws -> SentencePooling {
        var pooling = SentencePooling()
        let bertConfig = directory.appendingPathComponent("sentence_bert_config.json")
        if let object = try readObject(bertConfig) {
            if let length = object["max_seq_length"] as? Int {
                guard length >= 2 else { throw AutoInterpError.invalidFile(bertConfig.path, "max_seq_length \(length) leaves no room for [CLS] and [SEP]") }
                pooling.maxSequenceLength = length
            }
        }
        let modulesURL = directory.appendingPathComponent("modules.json")
        guard FileManager.default.fileExists(atPath: modulesURL.path) else { return pooling }
        guard let modules = try readJSON(modulesURL) as? [[String: Any]] else {
            throw AutoInterpError.invalidFile(modulesURL.path, "expected a JSON array of modules; restore the model's original file")
        }
        let types = modules.map { ($0["type"] as? String ?? "", $0["path"] as? String ?? "") }
        pooling.normalize = types.contains { $0.0.hasSuffix(".Normalize") }
        guard let poolingPath = types.first(where: { $0.0.hasSuffix(".Pooling") })?.1 else {
            throw AutoInterpError.invalidFile(
                modulesURL.path, "has no Pooling module: pass \(Setting.embedder) a sentence-embedding model (e.g. all-MiniLM-L6-v2)")
        }
        let configURL = directory.appendingPathComponent(poolingPath).appendingPathComponent("config.json")
        guard let config = try readObject(configURL) else {
            throw AutoInterpError.invalidFile(configURL.path, "is missing: the Pooling module of modules.json needs its config.json")
        }
        let modes: [(String, Mode?)] = [
            ("pooling_mode_mean_tokens", .mean), ("pooling_mode_cls_token", .cls), ("pooling_mode_max_tokens", .max),
            ("pooling_mode_mean_sqrt_len_tokens", .meanSqrtLength), ("pooling_mode_weightedmean_tokens", nil),
            ("pooling_mode_lasttoken", nil),
        ]
        let chosen = modes.filter { config[$0.0] as? Bool == true }
        guard chosen.count == 1 else {
            throw AutoInterpError.invalidFile(
                configURL.path, chosen.isEmpty ? "sets no pooling mode" : "sets several pooling modes (\(chosen.map(\.0).joined(separator: ", "))); one is supported")
        }
        guard let mode = chosen[0].1 else {
            throw AutoInterpError.invalidFile(configURL.path, "uses \(chosen[0].0), which is not supported (mean, cls, max or mean_sqrt_len are)")
        }
        pooling.mode = mode
        return pooling
    }

    private static func readJSON(_ url: URL) throws -> Any {
        do {
            return try JSONSerialization.jsonObject(with: try Data(contentsOf: url))
        } catch {
            throw AutoInterpError.invalidFile(url.path, "not valid JSON (\(error.localizedDescription)); restore the model's original file")
        }
    }

    private static func readObject(_ url: URL) throws -> [String: Any]? {
        guard FileManager.default.fileExists(atPath: url.path) else { return nil }
        guard let object = try readJSON(url) as? [String: Any] else {
            throw AutoInterpError.invalidFile(url.path, "expected a JSON object; restore the model's original file")
        }
        return object
    }
}
