import AutoInterpLLM
public import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
public import Darwin
#endif

/// One writer per run: an exclusive advisory lock (`flock`) on `<results>/<run>/.lock`.
///
/// Whatever writes a run (`select`, `run`, the demo's run, `--force-new`) takes it before it
/// opens the database, and keeps it for the rest of the process's life: the kernel drops it
/// when the process ends, even after `kill -9`, so a stale file never blocks anyone. The file
/// holds the holder's pid and start time, which a second writer quotes in its error. Readers
/// (`report`, `export`, `compare`) never take it. The lock is opened without following a symbolic
/// link (`O_NOFOLLOW`), and anything but a regular file there is refused, so a planted link or
/// FIFO never makes the lock write somewhere else or hang.
public enum RunLock {
    /// The lock file of the run folder `folder`.
    public static func url(runFolder folder: URL) -> URL { folder.appendingPathComponent(".lock") }

    /// Locks held by this process, by lock-file path; their descriptors stay open until exit.
    private static let held = Mutex<[String: Int32]>([:])

    /// Takes the lock of run `name` in `folder` (created if missing), or returns at once if this
    /// process already holds it.
    ///
    /// - Throws: ``AutoInterpError/invalidInput(_:)`` naming the process that holds the lock and
    ///   since when; ``AutoInterpError/io(_:_:)`` when the lock file cannot be created.
    public static func acquire(runFolder folder: URL, name: String) throws {
        let path = url(runFolder: folder).path
        try held.withLock { held in
            if held[path] != nil { return }
            do {
                try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            } catch {
                throw AutoInterpError.io(folder.path, "cannot create the run folder: \(Self.reason(of: error))")
            }
            // Never through a symlink (its target would be overwritten), never anything but a regular file.
            let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK, 0o644)
            guard fd >= 0 else {
                if errno == ELOOP {
                    throw AutoInterpError.io(
                        path, "the run lock is a symbolic link, refused (its target would be overwritten): remove it and rerun")
                }
                throw AutoInterpError.io(path, "cannot create the run lock: \(String(cString: strerror(errno))) (is the results folder writable?)")
            }
            guard Self.isRegularFile(fd, path: path) else {
                close(fd)
                throw AutoInterpError.io(path, "the run lock is not a regular file, refused: remove it and rerun")
            }
            guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
                let failure = errno
                let holder = Self.describeHolder(fd)
                close(fd)
                if failure == EWOULDBLOCK {
                    throw AutoInterpError.invalidInput(
                        "run '\(name)' is being written by \(holder) (lock \(path)): wait for it to finish or stop it, or pick another \(Setting.name)")
                }
                throw AutoInterpError.io(path, "cannot lock the run: \(String(cString: strerror(failure)))")
            }
            let stamp = "pid \(getpid()) since \(Date().formatted(Date.ISO8601FormatStyle()))\n"
            _ = ftruncate(fd, 0)
            _ = stamp.withCString { pwrite(fd, $0, strlen($0), 0) }
            held[path] = fd
        }
    }

    /// Whether `path` (not following a link) is a regular file and `fd` can seek (a FIFO cannot).
    /// `struct stat` is declared by several C modules on Linux, so the type comes from FileManager.
    private static func isRegularFile(_ fd: Int32, path: String) -> Bool {
        let type = (try? FileManager.default.attributesOfItem(atPath: path)[.type]) as? FileAttributeType
        return type == .typeRegular && lseek(fd, 0, SEEK_CUR) >= 0
    }

    /// `process 1234 (since 2026-12-01T08:50:00Z)` from the lock file's content.
    private static func describeHolder(_ fd: Int32) -> String {
        var buffer = [UInt8](repeating: 0, count: 200)
        let count = buffer.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, 0) }
        let text = count > 0 ? String(decoding: buffer.prefix(count), as: UTF8.self) : ""
        let words = text.split(whereSeparator: \.isWhitespace)
        guard words.count >= 4, words[0] == "pid", let pid = Int32(words[1]), words[2] == "since" else {
            return "another process"
        }
        return "process \(pid) (since \(words[3]))"
    }

    private static func reason(of error: any Error) -> String {
        let underlying = (error as NSError).userInfo[NSUnderlyingErrorKey] as? NSError
        if let code = underlying?.code, underlying?.domain == NSPOSIXErrorDomain { return String(cString: strerror(Int32(code))) }
        return error.localizedDescription
    }
}
