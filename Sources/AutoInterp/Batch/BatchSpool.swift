import AutoInterpLLM
import Foundation

/// One batch input file written line by line as the wave's pending requests are read from the
/// store: the lines go to a temporary file through a small buffer (at most ``bufferBytes``
/// held), hashed as they go, so a wave of a million lines is never in memory at once; the file
/// is synced and renamed into place by ``finish(to:)``.
struct BatchSpool {
    /// Bytes gathered before they are written out.
    static let bufferBytes = 1 << 20

    let temporary: URL
    /// Bytes gathered before a write (``bufferBytes`` unless a test asks for fewer).
    private let bufferLimit: Int
    private let descriptor: Int32
    private var buffer = Data()
    private var hasher = SHA256.Hasher()
    /// Bytes and lines appended so far.
    private(set) var bytes = 0
    private(set) var lines = 0

    /// Creates (or truncates) the temporary file at `temporary`.
    ///
    /// - Throws: ``AutoInterpError/io(_:_:)`` naming the file when it cannot be created.
    init(temporary: URL, bufferBytes: Int = BatchSpool.bufferBytes) throws {
        self.temporary = temporary
        bufferLimit = max(1, bufferBytes)
        descriptor = open(temporary.path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else { throw Self.failure(errno, temporary) }
        buffer.reserveCapacity(bufferLimit)
    }

    /// Adds one line (its newline included).
    mutating func append(_ line: Data) throws {
        hasher.update(line)
        buffer.append(line)
        bytes += line.count
        lines += 1
        if buffer.count >= bufferLimit { try flush() }
    }

    /// Writes the buffer out.
    private mutating func flush() throws {
        var failed: Int32 = 0
        buffer.withUnsafeBytes { raw in
            guard let base = raw.baseAddress else { return }
            var offset = 0
            while offset < raw.count {
                let count = write(descriptor, base + offset, raw.count - offset)
                if count < 0 {
                    if errno == EINTR { continue }
                    failed = errno
                    return
                }
                offset += count
            }
        }
        buffer.removeAll(keepingCapacity: true)
        if failed != 0 { throw Self.failure(failed, temporary) }
    }

    /// Writes the rest, syncs and closes the file, and renames it to `url`: its SHA-256 (hex).
    mutating func finish(to url: URL) throws -> String {
        do {
            try flush()
            if fsync(descriptor) != 0, errno != EINVAL, errno != EROFS { throw Self.failure(errno, temporary) }
        } catch {
            discard()
            throw error
        }
        close(descriptor)
        guard rename(temporary.path, url.path) == 0 else {
            let code = errno
            unlink(temporary.path)
            throw Self.failure(code, url)
        }
        return SHA256.hex(digest: hasher.finalize())
    }

    /// Closes and removes the temporary file (a failed write).
    func discard() {
        close(descriptor)
        unlink(temporary.path)
    }

    /// The SHA-256 (hex) of the file at `url`, read in pieces; nil when it cannot be read.
    static func sha256(ofFileAt url: URL) -> String? {
        guard let handle = FileHandle(forReadingAtPath: url.path) else { return nil }
        defer { try? handle.close() }
        var hasher = SHA256.Hasher()
        while true {
            // `read(upToCount:)` answers nil (not empty data) at the end of the file.
            let piece: Data?
            do { piece = try handle.read(upToCount: bufferBytes) } catch { return nil }
            guard let piece, !piece.isEmpty else { break }
            hasher.update(piece)
        }
        return SHA256.hex(digest: hasher.finalize())
    }

    private static func failure(_ code: Int32, _ url: URL) -> AutoInterpError {
        .io(url.path, "cannot write the batch input file: \(String(cString: strerror(code))) (check the disk and the folder's permissions)")
    }
}
