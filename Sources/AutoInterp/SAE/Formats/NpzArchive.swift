import Foundation

/// A NumPy `.npz` file (a zip of `.npy` arrays) as a tensor source.
///
/// Headers are read when the archive is opened (only their first bytes are inflated) and checked
/// against the sizes the archive declares (``ZipReader`` caps those by the compressed sizes); an
/// array's data is read when it is asked for, so one array at a time is in memory.
final class NpzArchive: TensorSource {
    let path: String
    let tensorNames: [String]
    private let zip: ZipReader
    private let headers: [String: NumpyArray.Header]
    private let entryNames: [String: String]

    /// Opens `url` and reads every array's header.
    ///
    /// - Throws: `AutoInterpError.invalidFile` for a bad zip or a bad `.npy` header.
    init(url: URL) throws {
        path = url.path
        zip = try ZipReader(url: url)
        var names: [String] = []
        var headers: [String: NumpyArray.Header] = [:]
        var entryNames: [String: String] = [:]
        for entry in zip.entryPaths where entry.hasSuffix(".npy") {
            let name = String(entry.dropLast(4))
            // The fixed part says how long the header is; then read exactly the header.
            let fixed = try zip.prefix(entry, count: 12)
            var headerBytes = 4096
            if fixed.count >= 12, fixed[fixed.startIndex + 6] >= 2 {
                let length = fixed[(fixed.startIndex + 8)...].prefix(4).enumerated().reduce(0) { $0 | Int($1.element) << (8 * $1.offset) }
                headerBytes = 12 + min(length, NumpyArray.maxHeaderBytes)
            } else if fixed.count >= 10 {
                headerBytes = 10 + (Int(fixed[fixed.startIndex + 8]) | Int(fixed[fixed.startIndex + 9]) << 8)
            }
            let head = try zip.prefix(entry, count: headerBytes)
            let header = try head.withUnsafeBytes { try NumpyArray.header($0, path: url.path, name: name) }
            // The header's shape must be what the entry holds: checked here, before any array is inflated.
            let (total, overflow) = header.dataOffset.addingReportingOverflow(header.byteCount)
            guard !overflow, let declared = zip.size(entry), declared == UInt64(total) else {
                throw AutoInterpError.invalidFile(
                    url.path,
                    "array '\(name)': shape \(header.shape) of \(header.dtype.rawValue) needs \(header.byteCount) bytes after its header, "
                        + "but the archive declares \(zip.size(entry).map { String($0) } ?? "no size") for the whole entry; "
                        + "the file is damaged or hostile")
            }
            names.append(name)
            headers[name] = header
            entryNames[name] = entry
        }
        guard !names.isEmpty else { throw AutoInterpError.invalidFile(path, "the archive holds no .npy arrays") }
        tensorNames = names
        self.headers = headers
        self.entryNames = entryNames
    }

    func shape(_ name: String) -> [Int]? { headers[name]?.shape }
    func dtype(_ name: String) -> String? { headers[name]?.dtype.safeTensorsDType.rawValue }

    func floats(_ name: String) throws -> [Float] {
        guard let entry = entryNames[name] else {
            throw AutoInterpError.invalidFile(path, "no array named '\(name)' (has: \(tensorNames.joined(separator: ", ")))")
        }
        let header = headers[name]!
        let data = try zip.data(entry, expecting: header.dataOffset + header.byteCount, what: "array '\(name)''s header")
        return try data.withUnsafeBytes { try NumpyArray.floats($0, path: path, name: name).values }
    }
}
