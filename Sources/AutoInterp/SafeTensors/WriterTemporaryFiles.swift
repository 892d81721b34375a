import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The temporary files writers leave beside their output while they work (the partial
/// safetensors of ``SafeTensorsStreamWriter``, the scratch files of ``DatasetEncoder``).
///
/// All are named `.autointerp-tmp.<pid>.<output name>.<role>`, so a later run in the same
/// folder can tell them apart and remove those of processes that no longer exist (a `kill -9`
/// or a crash leaves them behind), and a user can see what they are.
enum WriterTemporaryFiles {
    static let prefix = ".autointerp-tmp."

    /// `<folder of output>/.autointerp-tmp.<pid>.<output name>.<role>`.
    static func url(beside output: URL, role: String) -> URL {
        output.deletingLastPathComponent().appendingPathComponent("\(prefix)\(getpid()).\(output.lastPathComponent).\(role)")
    }

    /// The pid in a temporary file's name: ours, or the names earlier versions used
    /// (`.<name>.partial-<pid>`, `.<name>.<role>.<pid>.scratch`); nil for any other file.
    static func owner(ofFileNamed name: String) -> Int32? {
        if name.hasPrefix(prefix) {
            return Int32(name.dropFirst(prefix.count).prefix { $0 != "." })
        }
        guard name.hasPrefix(".") else { return nil }
        if let range = name.range(of: ".partial-", options: .backwards), let pid = Int32(name[range.upperBound...]) {
            return pid
        }
        if name.hasSuffix(".scratch") {
            let parts = name.dropLast(".scratch".count).split(separator: ".")
            if let last = parts.last, parts.count >= 3 { return Int32(last) }
        }
        return nil
    }

    /// Whether process `pid` still exists (a live process's files are never touched).
    static func isAlive(_ pid: Int32) -> Bool {
        guard pid > 0 else { return false }
        return kill(pid, 0) == 0 || errno == EPERM
    }

    /// Removes the temporary files in `folder` whose process is gone; returns their names.
    @discardableResult
    static func removeStale(in folder: URL) -> [String] {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: folder.path) else { return [] }
        var removed: [String] = []
        for name in names {
            guard let pid = owner(ofFileNamed: name), pid != getpid(), !isAlive(pid) else { continue }
            if (try? FileManager.default.removeItem(at: folder.appendingPathComponent(name))) != nil { removed.append(name) }
        }
        return removed
    }

    /// Moves a finished temporary file over `destination` with one `rename(2)`: atomic, and
    /// the previous good file is never deleted first (if the rename fails it is still there).
    static func moveIntoPlace(_ temporary: URL, over destination: URL) throws {
        guard rename(temporary.path, destination.path) == 0 else {
            let reason = String(cString: strerror(errno))
            throw AutoInterpError.io(destination.path, "cannot move the finished file into place: \(reason) (the previous file, if any, is untouched)")
        }
    }
}
