import Foundation

/// A whole file mapped read-only (`mmap`), as the safetensors and GGUF readers hold their files.
enum FileMapping {
    /// Maps the file at `path`; the caller owns the mapping and `munmap`s it.
    ///
    /// - Parameter tooShort: the problem to report when the file has fewer than `minimumSize` bytes.
    /// - Throws: `AutoInterpError.io` when the file cannot be opened, sized or mapped; `.invalidFile` when too short.
    static func map(_ path: String, minimumSize: Int, tooShort: (Int) -> String) throws -> (base: UnsafeMutableRawPointer, size: Int) {
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else {
            throw AutoInterpError.io(path, "cannot open: \(String(cString: strerror(errno)))")
        }
        defer { close(fd) }
        // The size by seeking to the end: `struct stat` is declared by several C modules on Linux
        // (Glibc, CoreFoundation, Dispatch), and which one a build attributes it to varies, which
        // MemberImportVisibility turns into an error.
        let end = lseek(fd, 0, SEEK_END)
        guard end >= 0 else {
            throw AutoInterpError.io(path, "cannot stat: \(String(cString: strerror(errno)))")
        }
        let size = Int(end)
        guard size >= minimumSize else { throw AutoInterpError.invalidFile(path, tooShort(size)) }
        guard let base = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0), base != MAP_FAILED else {
            throw AutoInterpError.io(path, "cannot map: \(String(cString: strerror(errno)))")
        }
        return (base, size)
    }
}
