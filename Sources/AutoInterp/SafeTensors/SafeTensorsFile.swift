package import Foundation

/// A safetensors file, memory-mapped and validated on open.
///
/// Opening checks the whole header against the format's rules (see REFERENCE.md) so that later
/// reads cannot go out of bounds; tensor data is only touched when read, so files larger than
/// memory work. Every error names the file and what is wrong with it.
package final class SafeTensorsFile: @unchecked Sendable {
    /// The file this was opened from.
    package let url: URL
    /// `__metadata__` string pairs (empty when absent).
    package let metadata: [String: String]
    /// Tensor names in data order.
    package let tensorNames: [String]
    /// Total file size in bytes.
    package let fileSize: Int

    private let infos: [String: SafeTensorInfo]
    private let mapping: UnsafeMutableRawPointer?
    private let dataStart: Int

    /// Largest header the reader accepts.
    package static let maxHeaderBytes = 100_000_000

    /// Maps and validates the file at `url`.
    ///
    /// - Throws: `AutoInterpError.invalidFile` naming the path and the broken rule, or `.io`.
    package init(url: URL) throws {
        self.url = url
        let path = url.path
        let (base, size) = try FileMapping.map(path, minimumSize: 8) { size in
            "file is \(size) bytes, shorter than the 8-byte safetensors header length"
        }
        fileSize = size
        mapping = base
        do {
            let parsed = try Self.parseHeader(UnsafeRawBufferPointer(start: base, count: size), path: path)
            infos = parsed.infos
            tensorNames = parsed.order
            metadata = parsed.metadata
            dataStart = parsed.dataStart
        } catch {
            munmap(base, size)
            throw error
        }
        madvise(base, size, MADV_SEQUENTIAL)
    }

    deinit {
        if let mapping { munmap(mapping, fileSize) }
    }

    // MARK: - Lookup

    /// The header entry for `name`.
    ///
    /// - Throws: `AutoInterpError.invalidFile` listing the tensors the file does have.
    package func info(_ name: String) throws -> SafeTensorInfo {
        guard let info = infos[name] else {
            let known = tensorNames.prefix(12).joined(separator: ", ")
            throw AutoInterpError.invalidFile(url.path, "no tensor named '\(name)' (has: \(known)\(tensorNames.count > 12 ? ", …" : ""))")
        }
        return info
    }

    /// True when the file has a tensor called `name`.
    package func contains(_ name: String) -> Bool { infos[name] != nil }

    /// The raw little-endian bytes of `name`, valid while this object lives.
    package func rawBytes(_ name: String) throws -> UnsafeRawBufferPointer {
        let info = try info(name)
        return rawBytes(info)
    }

    func rawBytes(_ info: SafeTensorInfo) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: mapping! + dataStart + info.dataOffsets.lowerBound, count: info.dataOffsets.count)
    }

    // MARK: - Reading as Float

    /// All elements of `name` as `Float` (from F32, F16, BF16 or F64).
    package func floats(_ name: String) throws -> [Float] {
        let info = try info(name)
        return try [Float](unsafeUninitializedCapacity: info.elementCount) { buffer, count in
            try copyFloats(info, elements: 0..<info.elementCount, into: buffer.baseAddress!)
            count = info.elementCount
        }
    }

    /// Converts elements `elements` (flat, row-major) of `name` to `Float` into `destination`.
    @discardableResult
    package func copyFloats(_ name: String, elements: Range<Int>, into destination: UnsafeMutablePointer<Float>) throws -> Int {
        try copyFloats(try info(name), elements: elements, into: destination)
    }

    /// Converts elements of an entry from this file into `destination`.
    ///
    /// - Returns: the number of elements written.
    @discardableResult
    package func copyFloats(_ info: SafeTensorInfo, elements: Range<Int>, into destination: UnsafeMutablePointer<Float>) throws -> Int {
        guard info.dtype.isConvertibleFloat else {
            throw AutoInterpError.invalidFile(url.path, "tensor '\(info.name)' is \(info.dtype.rawValue); expected F32, F16, BF16 or F64")
        }
        precondition(elements.lowerBound >= 0 && elements.upperBound <= info.elementCount, "element range out of bounds")
        let source = rawBytes(info).baseAddress! + elements.lowerBound * info.dtype.byteSize
        // Not a tail call on purpose: in a release build, a throwing function ending in a tail
        // call to C `memcpy` returned with a stale value in the Swift error register (the byte
        // offset above), so callers saw a bogus error and crashed. Returning a value computed
        // after the copy keeps the call out of tail position.
        return FloatConversion.convert(source, dtype: info.dtype, count: elements.count, into: destination)
    }

    // MARK: - Reading as integers

    /// All elements of an integer tensor `name` as `Int64`.
    package func int64s(_ name: String) throws -> [Int64] {
        let info = try info(name)
        return try [Int64](unsafeUninitializedCapacity: info.elementCount) { buffer, count in
            try copyInt64s(info, elements: 0..<info.elementCount, into: buffer.baseAddress!)
            count = info.elementCount
        }
    }

    /// Converts elements of an integer entry into `destination`.
    package func copyInt64s(_ info: SafeTensorInfo, elements: Range<Int>, into destination: UnsafeMutablePointer<Int64>) throws {
        guard info.dtype.isConvertibleInteger else {
            throw AutoInterpError.invalidFile(url.path, "tensor '\(info.name)' is \(info.dtype.rawValue); expected an integer type")
        }
        precondition(elements.lowerBound >= 0 && elements.upperBound <= info.elementCount, "element range out of bounds")
        let size = info.dtype.byteSize
        let source = rawBytes(info).baseAddress! + elements.lowerBound * size
        for i in 0..<elements.count {
            let p = source + i * size
            destination[i] =
                switch info.dtype {
                case .I64: p.loadUnaligned(as: Int64.self)
                case .I32: Int64(p.loadUnaligned(as: Int32.self))
                case .I16: Int64(p.loadUnaligned(as: Int16.self))
                case .I8: Int64(p.load(as: Int8.self))
                case .U32: Int64(p.loadUnaligned(as: UInt32.self))
                case .U16: Int64(p.loadUnaligned(as: UInt16.self))
                default: Int64(p.load(as: UInt8.self))
                }
        }
    }

    // MARK: - Header validation

    struct ParsedHeader {
        var infos: [String: SafeTensorInfo]
        var order: [String]
        var metadata: [String: String]
        var dataStart: Int
    }

    static func parseHeader(_ file: UnsafeRawBufferPointer, path: String) throws -> ParsedHeader {
        func fail(_ problem: String) -> AutoInterpError { .invalidFile(path, problem) }
        let declared = file.loadUnaligned(as: UInt64.self).littleEndian
        guard declared <= UInt64(maxHeaderBytes) else {
            throw fail("header length \(declared) exceeds the 100 MB limit (not a safetensors file?)")
        }
        let headerLength = Int(declared)
        guard 8 + headerLength <= file.count else {
            throw fail("header length \(headerLength) runs past the end of the \(file.count)-byte file (truncated?)")
        }
        let header = UnsafeRawBufferPointer(rebasing: file[8..<(8 + headerLength)])
        if header.contains(0) {
            throw fail("header contains NUL bytes (padding must be spaces)")
        }
        guard let json = HeaderJSON.parse(header) else {
            throw fail("header is not valid UTF-8 JSON")
        }
        guard case .object(let members) = json else {
            throw fail("header JSON is not an object")
        }
        var infos: [String: SafeTensorInfo] = [:]
        var metadata: [String: String] = [:]
        var seenMetadata = false
        for member in members {
            let (name, value) = (member.key, member.value)
            if name == "__metadata__" {
                guard !seenMetadata else { throw fail("duplicate __metadata__ entry") }
                seenMetadata = true
                guard case .object(let pairs) = value else { throw fail("__metadata__ is not an object") }
                for pair in pairs {
                    let (key, item) = (pair.key, pair.value)
                    guard case .string(let text) = item else {
                        throw fail("__metadata__ value for '\(key)' is not a string")
                    }
                    guard metadata[key] == nil else { throw fail("duplicate __metadata__ key '\(key)'") }
                    metadata[key] = text
                }
                continue
            }
            guard infos[name] == nil else { throw fail("duplicate tensor name '\(name)'") }
            infos[name] = try entry(name, value, fail: fail)
        }
        // Offsets must tile the data section exactly: no holes, no overlaps, nothing after.
        let dataLength = file.count - 8 - headerLength
        let ordered = infos.values.sorted {
            ($0.dataOffsets.lowerBound, $0.dataOffsets.upperBound) < ($1.dataOffsets.lowerBound, $1.dataOffsets.upperBound)
        }
        var cursor = 0
        for info in ordered {
            if info.dataOffsets.lowerBound > cursor {
                throw fail("tensor '\(info.name)' starts at byte \(info.dataOffsets.lowerBound) leaving a hole after byte \(cursor)")
            }
            if info.dataOffsets.lowerBound < cursor {
                throw fail("tensor '\(info.name)' overlaps the tensor before it at byte \(info.dataOffsets.lowerBound)")
            }
            cursor = info.dataOffsets.upperBound
        }
        if cursor != dataLength {
            throw fail(
                cursor > dataLength
                    ? "tensor data ends at byte \(cursor) but the file holds only \(dataLength) data bytes (truncated?)"
                    : "\(dataLength - cursor) bytes after the last tensor are not covered by any tensor"
            )
        }
        return ParsedHeader(infos: infos, order: ordered.map(\.name), metadata: metadata, dataStart: 8 + headerLength)
    }

    private static func entry(_ name: String, _ value: HeaderJSON, fail: (String) -> AutoInterpError) throws -> SafeTensorInfo {
        guard case .object(let fields) = value else { throw fail("entry '\(name)' is not an object") }
        func field(_ key: String) throws -> HeaderJSON {
            let matches = fields.filter { $0.key == key }
            guard matches.count == 1 else {
                throw fail(matches.isEmpty ? "entry '\(name)' has no \(key)" : "entry '\(name)' repeats \(key)")
            }
            return matches[0].value
        }
        guard case .string(let dtypeText) = try field("dtype"), let dtype = SafeTensorsDType(rawValue: dtypeText) else {
            throw fail("tensor '\(name)' has an unknown dtype (expected one of \(SafeTensorsDType.allCases.map(\.rawValue).joined(separator: ", ")))")
        }
        guard case .array(let dims) = try field("shape") else { throw fail("tensor '\(name)' shape is not an array") }
        var shape: [Int] = []
        for dim in dims {
            guard let size = dim.nonNegativeInteger else {
                throw fail("tensor '\(name)' has a negative or non-integer dimension in its shape")
            }
            shape.append(size)
        }
        guard case .array(let offsets) = try field("data_offsets"), offsets.count == 2,
            let begin = offsets[0].nonNegativeInteger, let end = offsets[1].nonNegativeInteger
        else {
            throw fail("tensor '\(name)' data_offsets must be two non-negative integers")
        }
        guard begin <= end else { throw fail("tensor '\(name)' data_offsets end before they begin") }
        var elements = 1
        for size in shape {
            let (product, overflow) = elements.multipliedReportingOverflow(by: size)
            guard !overflow else { throw fail("tensor '\(name)' shape overflows") }
            elements = product
        }
        let (bytes, overflow) = elements.multipliedReportingOverflow(by: dtype.byteSize)
        guard !overflow, bytes == end - begin else {
            throw fail("tensor '\(name)' declares \(end - begin) bytes but \(dtype.rawValue) \(shape) needs \(overflow ? "more than Int.max" : String(bytes))")
        }
        return SafeTensorInfo(name: name, dtype: dtype, shape: shape, dataOffsets: begin..<end)
    }
}

extension SafeTensorsFile {
    /// Advises the OS that the pages holding `elements` of `info` are no longer needed.
    ///
    /// The mapping stays valid; touching the pages again reads them back from disk.
    package func releasePages(_ info: SafeTensorInfo, elements: Range<Int>) {
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        let bytes = rawBytes(info)
        let base = Int(bitPattern: bytes.baseAddress!)
        let start = (base + elements.lowerBound * info.dtype.byteSize + page - 1) / page * page
        let end = (base + elements.upperBound * info.dtype.byteSize) / page * page
        guard end > start else { return }
        madvise(UnsafeMutableRawPointer(bitPattern: start), end - start, MADV_DONTNEED)
    }
}
