package import Foundation

/// One tensor of a GGUF file's table.
package struct GGUFTensorInfo: Sendable, Equatable {
    package var name: String
    /// ggml dimension order: `dimensions[0]` is the fastest-varying (a row's length), the reverse
    /// of PyTorch's shape.
    package var dimensions: [Int]
    package var type: GGMLType
    /// Byte offset from the start of the data section.
    package var offset: Int
    package var elementCount: Int
    package var byteCount: Int

    /// The shape in PyTorch order (outermost first).
    package var shape: [Int] { dimensions.reversed() }
    /// Elements of one row (`dimensions[0]`).
    package var rowLength: Int { dimensions.first ?? 1 }
    /// Rows: all elements over one row's length.
    package var rowCount: Int { rowLength == 0 ? 0 : elementCount / rowLength }
}

/// A GGUF file (llama.cpp's model format), memory-mapped and validated on open.
///
/// Opening reads the header, every metadata value and the tensor table with bounds checks, and
/// checks that each tensor's type is readable, its size is a whole number of blocks and its data
/// lies inside the file, so later reads cannot go out of bounds; tensor data is only touched when
/// dequantised. Every error is one line naming the file and what is wrong with it.
package final class GGUFFile: @unchecked Sendable {
    package let url: URL
    /// The format version (2 or 3).
    package let version: Int
    /// Metadata by key, in the file's types.
    package let metadata: [String: GGUFValue]
    /// Metadata keys in file order.
    package let metadataKeys: [String]
    /// Tensors in table order.
    package let tensors: [GGUFTensorInfo]
    /// The data section's alignment (`general.alignment`, default 32).
    package let alignment: Int
    /// Where the data section starts in the file.
    package let dataStart: Int
    package let fileSize: Int

    private let byName: [String: Int]
    private let mapping: UnsafeMutableRawPointer

    /// The file's magic, `GGUF` read as a little-endian `uint32`.
    static let magic: UInt32 = 0x4655_4747
    /// At most this many dimensions per tensor (`GGML_MAX_DIMS`).
    static let maxDimensions = 4

    /// Maps and validates the GGUF file at `url`.
    ///
    /// - Throws: `AutoInterpError.invalidFile` naming the path and the broken rule, or `.io`.
    package init(url: URL) throws {
        self.url = url
        let path = url.path
        let (base, size) = try FileMapping.map(path, minimumSize: 24) { size in
            "file is \(size) bytes, shorter than a GGUF header (24 bytes); not a GGUF file?"
        }
        fileSize = size
        mapping = base
        do {
            let parsed = try Self.parse(UnsafeRawBufferPointer(start: base, count: size), path: path)
            version = parsed.version
            metadata = parsed.metadata
            metadataKeys = parsed.keys
            tensors = parsed.tensors
            alignment = parsed.alignment
            dataStart = parsed.dataStart
            byName = Dictionary(uniqueKeysWithValues: parsed.tensors.enumerated().map { ($1.name, $0) })
        } catch {
            munmap(base, size)
            throw error
        }
    }

    deinit { munmap(mapping, fileSize) }

    // MARK: - Lookup

    /// True when the file has a tensor called `name`.
    package func contains(_ name: String) -> Bool { byName[name] != nil }

    /// The table entry for `name`.
    ///
    /// - Throws: `AutoInterpError.invalidFile` listing some of the tensors the file does have.
    package func info(_ name: String) throws -> GGUFTensorInfo {
        guard let index = byName[name] else {
            let known = tensors.prefix(12).map(\.name).joined(separator: ", ")
            throw AutoInterpError.invalidFile(url.path, "no tensor named '\(name)' (has: \(known)\(tensors.count > 12 ? ", …" : ""))")
        }
        return tensors[index]
    }

    /// The raw bytes of a tensor, valid while this object lives.
    package func rawBytes(_ info: GGUFTensorInfo) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: mapping + dataStart + info.offset, count: info.byteCount)
    }

    /// A metadata string, or `nil` when absent.
    ///
    /// - Throws: `AutoInterpError.invalidFile` when the key holds another type.
    package func string(_ key: String) throws -> String? {
        guard let value = metadata[key] else { return nil }
        guard let text = value.string else { throw wrongType(key, value, expected: "a string") }
        return text
    }

    /// A metadata integer, or `nil` when absent.
    package func int(_ key: String) throws -> Int? {
        guard let value = metadata[key] else { return nil }
        guard let number = value.int else { throw wrongType(key, value, expected: "an integer") }
        return number
    }

    /// A metadata number (float or integer), or `nil` when absent.
    package func double(_ key: String) throws -> Double? {
        guard let value = metadata[key] else { return nil }
        guard let number = value.double else { throw wrongType(key, value, expected: "a number") }
        return number
    }

    /// A metadata array of strings, or `nil` when absent.
    package func strings(_ key: String) throws -> [String]? {
        guard let value = metadata[key] else { return nil }
        guard let items = value.array else { throw wrongType(key, value, expected: "an array of strings") }
        var out: [String] = []
        out.reserveCapacity(items.count)
        for item in items {
            guard let text = item.string else { throw wrongType(key, item, expected: "an array of strings") }
            out.append(text)
        }
        return out
    }

    private func wrongType(_ key: String, _ value: GGUFValue, expected: String) -> AutoInterpError {
        .invalidFile(url.path, "metadata '\(key)' is \(value.typeName); expected \(expected)")
    }

    // MARK: - Dequantisation

    /// All elements of `name` as `Float`, in row-major (PyTorch) order.
    package func floats(_ name: String) throws -> [Float] {
        let info = try info(name)
        return [Float](unsafeUninitializedCapacity: info.elementCount) { buffer, count in
            if let base = buffer.baseAddress {
                GGMLDequantize.convert(rawBytes(info), type: info.type, count: info.elementCount, into: base)
            }
            count = info.elementCount
        }
    }

    /// Dequantises rows `rows` (each `info.rowLength` elements) of a tensor into `destination`.
    ///
    /// - Throws: `AutoInterpError.invalidInput` when `rows` is outside the tensor.
    package func copyRows(_ info: GGUFTensorInfo, rows: Range<Int>, into destination: UnsafeMutablePointer<Float>) throws {
        guard rows.lowerBound >= 0, rows.upperBound <= info.rowCount else {
            throw AutoInterpError.invalidInput("\(url.path): rows \(rows) are outside tensor '\(info.name)' of \(info.rowCount) rows")
        }
        let rowBytes = info.rowLength / info.type.blockSize * info.type.blockBytes
        let source = UnsafeRawBufferPointer(rebasing: rawBytes(info)[(rows.lowerBound * rowBytes)..<(rows.upperBound * rowBytes)])
        GGMLDequantize.convert(source, type: info.type, count: rows.count * info.rowLength, into: destination)
    }

    // MARK: - Parsing

    struct Parsed {
        var version: Int
        var metadata: [String: GGUFValue]
        var keys: [String]
        var tensors: [GGUFTensorInfo]
        var alignment: Int
        var dataStart: Int
    }

    static func parse(_ file: UnsafeRawBufferPointer, path: String) throws -> Parsed {
        func fail(_ problem: String) -> AutoInterpError { .invalidFile(path, problem) }
        var cursor = GGUFCursor(bytes: file, fail: fail)
        let magic = try cursor.read(UInt32.self, "magic")
        guard magic == Self.magic else {
            throw fail(
                "does not start with the GGUF magic (not a GGUF file; a Hugging Face folder needs config.json and model.safetensors)")
        }
        let version = try cursor.read(UInt32.self, "version")
        guard version == 2 || version == 3 else {
            throw fail("GGUF version \(version) is not supported (versions 2 and 3 are read)")
        }
        // A tensor entry takes at least 8 (name) + 4 (dims) + 4 (type) + 8 (offset) bytes, a
        // metadata pair at least 8 (key) + 4 (type) + 1.
        let tensorCount = try cursor.count("tensor count", minimumItemBytes: 24)
        let pairCount = try cursor.count("metadata count", minimumItemBytes: 13)
        var metadata: [String: GGUFValue] = [:]
        var keys: [String] = []
        for index in 0..<pairCount {
            let key = try cursor.string("metadata key \(index)")
            guard metadata[key] == nil else { throw fail("metadata key '\(key)' appears twice") }
            let type = try cursor.read(UInt32.self, "type of metadata '\(key)'")
            metadata[key] = try cursor.value(type: type, "metadata '\(key)'")
            keys.append(key)
        }
        var alignment = 32
        if let value = metadata["general.alignment"] {
            guard case .uint32(let raw) = value, raw > 0, raw & (raw - 1) == 0 else {
                throw fail("general.alignment must be a uint32 power of two, not \(value)")
            }
            alignment = Int(raw)
        }
        var tensors: [GGUFTensorInfo] = []
        var names = Set<String>()
        for index in 0..<tensorCount {
            let name = try cursor.string("tensor name \(index)")
            guard names.insert(name).inserted else { throw fail("tensor '\(name)' appears twice in the tensor table") }
            let dimensionCount = try cursor.read(UInt32.self, "dimension count of tensor '\(name)'")
            guard (1...UInt32(maxDimensions)).contains(dimensionCount) else {
                throw fail("tensor '\(name)' has \(dimensionCount) dimensions (1 to \(maxDimensions) allowed)")
            }
            var dimensions: [Int] = []
            var elements = 1
            for d in 0..<Int(dimensionCount) {
                let raw = try cursor.read(UInt64.self, "dimension \(d) of tensor '\(name)'")
                guard let size = Int(exactly: raw), size >= 0 else { throw fail("tensor '\(name)' dimension \(d) is \(raw), too large") }
                let (product, overflow) = elements.multipliedReportingOverflow(by: size)
                guard !overflow else { throw fail("tensor '\(name)' element count overflows") }
                elements = product
                dimensions.append(size)
            }
            let rawType = try cursor.read(UInt32.self, "type of tensor '\(name)'")
            guard let type = GGMLType(rawValue: rawType) else {
                throw fail(
                    "tensor '\(name)' has type \(GGMLType.describe(rawType)), which this version cannot dequantise "
                        + "(supported: \(GGMLType.supportedList)); re-quantise the model to one of them")
            }
            guard dimensions[0] % type.blockSize == 0 else {
                throw fail(
                    "tensor '\(name)' rows of \(dimensions[0]) elements are not a whole number of \(type.name) blocks of \(type.blockSize)")
            }
            let (bytes, overflow) = (elements / type.blockSize).multipliedReportingOverflow(by: type.blockBytes)
            guard !overflow else { throw fail("tensor '\(name)' byte size overflows") }
            let rawOffset = try cursor.read(UInt64.self, "data offset of tensor '\(name)'")
            guard let offset = Int(exactly: rawOffset), offset % alignment == 0 else {
                throw fail("tensor '\(name)' data offset \(rawOffset) is not a multiple of the alignment \(alignment)")
            }
            tensors.append(
                GGUFTensorInfo(name: name, dimensions: dimensions, type: type, offset: offset, elementCount: elements, byteCount: bytes))
        }
        let dataStart = (cursor.offset + alignment - 1) / alignment * alignment
        let dataBytes = file.count - min(dataStart, file.count)
        for tensor in tensors {
            let (end, overflow) = tensor.offset.addingReportingOverflow(tensor.byteCount)
            guard !overflow, end <= dataBytes else {
                throw fail(
                    "tensor '\(tensor.name)' data (\(tensor.byteCount) bytes at offset \(tensor.offset)) runs past the end of the "
                        + "\(dataBytes)-byte data section (truncated?)")
            }
        }
        // Overlapping tensors would mean a corrupt table.
        let ordered = tensors.sorted { $0.offset < $1.offset }
        for (previous, next) in zip(ordered, ordered.dropFirst()) where previous.offset + previous.byteCount > next.offset {
            throw fail("tensor '\(next.name)' overlaps the data of tensor '\(previous.name)'")
        }
        return Parsed(version: Int(version), metadata: metadata, keys: keys, tensors: tensors, alignment: alignment, dataStart: dataStart)
    }
}
