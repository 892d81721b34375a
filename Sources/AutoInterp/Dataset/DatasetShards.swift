import AutoInterpLLM
import Foundation

/// Where the shards of a dataset are: one file, a folder, a glob or a manifest.
///
/// `--activations` takes any of:
/// - a `.safetensors` file: the dataset is that one file (as before);
/// - a folder: every `*.safetensors` file in it, in natural name order (`shard-2` before `shard-10`);
/// - a glob (`acts/part-*.safetensors`, the pattern holds `*`, `?` or `[`): the matching files,
///   in the same order;
/// - a manifest (`.json`): a JSON array of shard paths, relative to the manifest's folder, read in
///   the order given.
///
/// The default vocabulary is `vocab.json` in the folder (for a folder), beside the manifest (for a
/// manifest), or beside the first shard (for a file or glob).
struct DatasetShards {
    /// The shard files, in reading order.
    var urls: [URL]
    /// `vocab.json` where the layout puts it.
    var defaultVocabulary: URL

    static func resolve(_ url: URL) throws -> DatasetShards {
        let path = url.path
        var isDirectory: ObjCBool = false
        let exists = FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory)
        if exists && isDirectory.boolValue {
            return try folder(url)
        }
        if !exists && path.contains(where: { "*?[".contains($0) }) {
            return try glob(path)
        }
        if exists && url.pathExtension.lowercased() == "json" {
            return try manifest(url)
        }
        return DatasetShards(urls: [url], defaultVocabulary: url.deletingLastPathComponent().appendingPathComponent("vocab.json"))
    }

    private static func folder(_ url: URL) throws -> DatasetShards {
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: url.path)
        } catch {
            throw AutoInterpError.io(url.path, "cannot list the dataset folder: \(error.localizedDescription)")
        }
        let shards = names.filter { $0.hasSuffix(".safetensors") && !$0.hasPrefix(".") }.sorted(by: naturalOrder)
        guard !shards.isEmpty else {
            throw AutoInterpError.invalidFile(url.path, "holds no .safetensors shard (put the dataset's shards in it, or pass the file itself)")
        }
        return DatasetShards(urls: shards.map { url.appendingPathComponent($0) }, defaultVocabulary: url.appendingPathComponent("vocab.json"))
    }

    private static func glob(_ pattern: String) throws -> DatasetShards {
        var matches = glob_t()
        defer { globfree(&matches) }
        let status = Glibc.glob(pattern, 0, nil, &matches)
        var paths: [String] = []
        if status == 0 {
            for i in 0..<Int(matches.gl_pathc) {
                if let cString = matches.gl_pathv[i] { paths.append(String(cString: cString)) }
            }
        }
        let shards = paths.filter { !$0.hasSuffix("/") && !FileManager.default.isDirectory($0) }.sorted(by: naturalOrder)
        guard let first = shards.first else {
            throw AutoInterpError.invalidInput("\(Setting.activations) '\(pattern)' matches no file (check the pattern, or pass a folder of shards)")
        }
        let urls = shards.map { URL(fileURLWithPath: $0) }
        return DatasetShards(urls: urls, defaultVocabulary: URL(fileURLWithPath: first).deletingLastPathComponent().appendingPathComponent("vocab.json"))
    }

    private static func manifest(_ url: URL) throws -> DatasetShards {
        let data: Data
        do {
            data = try Data(contentsOf: url)
        } catch {
            throw AutoInterpError.io(url.path, "cannot read the shard manifest: \(error.localizedDescription)")
        }
        guard let list = try? JSONSerialization.jsonObject(with: data) as? [Any], !list.isEmpty else {
            throw AutoInterpError.invalidFile(url.path, "a shard manifest must be a non-empty JSON array of .safetensors paths (relative to its folder)")
        }
        let base = url.deletingLastPathComponent()
        let urls = try list.enumerated().map { index, item in
            guard let text = item as? String, !text.isEmpty else {
                throw AutoInterpError.invalidFile(url.path, "manifest entry \(index) is not a path string")
            }
            return text.hasPrefix("/") ? URL(fileURLWithPath: text) : base.appendingPathComponent(text)
        }
        return DatasetShards(urls: urls, defaultVocabulary: base.appendingPathComponent("vocab.json"))
    }

    /// Name order with digit runs compared as numbers: `part-2` before `part-10`.
    static func naturalOrder(_ a: String, _ b: String) -> Bool {
        let x = chunks(a), y = chunks(b)
        for (p, q) in zip(x, y) where p != q {
            if let m = UInt64(p), let n = UInt64(q) { return m != n ? m < n : p < q }
            return p < q
        }
        return x.count != y.count ? x.count < y.count : a < b
    }

    private static func chunks(_ text: String) -> [String] {
        var result: [String] = []
        var current = ""
        var digits = false
        for character in text {
            let isDigit = character.isASCII && character.isNumber
            if !current.isEmpty && isDigit != digits {
                result.append(current)
                current = ""
            }
            digits = isDigit
            current.append(character)
        }
        if !current.isEmpty { result.append(current) }
        return result
    }
}

extension FileManager {
    /// Whether `path` is an existing folder.
    func isDirectory(_ path: String) -> Bool {
        var flag: ObjCBool = false
        return fileExists(atPath: path, isDirectory: &flag) && flag.boolValue
    }
}
