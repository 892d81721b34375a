import AutoInterpLLM
package import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
package import Darwin
#endif

/// Writes a whole output file (exports), saying what actually went wrong when it cannot.
package enum OutputFile {
    /// Writes `data` to `url`: a regular file is replaced atomically (a temporary file beside it,
    /// then `rename(2)`); an existing device or pipe (`/dev/stdout`, a FIFO) is written directly.
    ///
    /// - Throws: ``AutoInterpError/io(_:_:)`` naming the file, the system's reason (disk full,
    ///   read-only file system, no such folder, permission denied) and the fix.
    /// Whether a symbolic link points at a regular file (then it is replaced like one).
    private static func isRegularTarget(_ url: URL) -> Bool {
        let target = url.resolvingSymlinksInPath()
        return ((try? FileManager.default.attributesOfItem(atPath: target.path)[.type]) as? FileAttributeType) == .typeRegular
    }

    package static func write(_ data: Data, to url: URL) throws {
        // A device or pipe (not a regular file or a missing one) is written in place.
        let type = (try? FileManager.default.attributesOfItem(atPath: url.path)[.type]) as? FileAttributeType
        if let type, type != .typeRegular, type != .typeSymbolicLink || !isRegularTarget(url) {
            try writeAll(data, to: url.path, flags: O_WRONLY, reportAs: url)
            return
        }
        let temporary = WriterTemporaryFiles.url(beside: url, role: "partial")
        do {
            try writeAll(data, to: temporary.path, flags: O_WRONLY | O_CREAT | O_TRUNC, reportAs: url)
            try WriterTemporaryFiles.moveIntoPlace(temporary, over: url)
        } catch {
            unlink(temporary.path)
            throw error
        }
    }

    private static func writeAll(_ data: Data, to path: String, flags: Int32, reportAs url: URL) throws {
        let fd = open(path, flags | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw failure(errno, url) }
        var failed: Int32 = 0
        data.withUnsafeBytes { bytes in
            var offset = 0
            while offset < bytes.count {
                let count = Glibc.write(fd, bytes.baseAddress! + offset, bytes.count - offset)
                if count < 0 {
                    if errno == EINTR { continue }
                    failed = errno
                    return
                }
                offset += count
            }
        }
        if failed == 0, fsync(fd) != 0, errno != EINVAL, errno != EROFS { failed = errno }
        if close(fd) != 0, failed == 0 { failed = errno }
        if failed != 0 { throw failure(failed, url) }
    }

    /// One line for a failed write: the reason as the system gives it, then what to do.
    static func failure(_ code: Int32, _ url: URL) -> AutoInterpError {
        let reason = String(cString: strerror(code))
        let fix: String
        switch code {
        case ENOSPC, EDQUOT: fix = "the disk is full: free some space or write elsewhere with \(Setting.output)"
        case EROFS: fix = "the file system is read-only: write elsewhere with \(Setting.output) (or \(Setting.output) - for stdout)"
        case ENOENT, ENOTDIR: fix = "the folder does not exist: create it or pick another \(Setting.output)"
        case EACCES, EPERM: fix = "check the folder's permissions or pick another \(Setting.output)"
        case ENAMETOOLONG: fix = "the path is too long: pick a shorter \(Setting.output)"
        default: fix = "check the disk and the path"
        }
        return .io(url.path, "cannot write the export: \(reason) (\(fix))")
    }
}
