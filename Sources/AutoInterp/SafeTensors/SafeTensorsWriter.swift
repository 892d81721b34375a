package import Foundation

/// Writes a safetensors file whose tensor sizes are known up front, streaming the data.
///
/// Declare the entries, then `append` their bytes in entry order and `finish()`. The file is
/// written under a temporary name and renamed into place by `finish()`, so an interrupted
/// write never leaves a file that looks complete.
package final class SafeTensorsStreamWriter {
    /// One tensor to be written: name, element type and shape.
    package struct Entry: Sendable {
        package var name: String
        package var dtype: SafeTensorsDType
        package var shape: [Int]

        package init(name: String, dtype: SafeTensorsDType, shape: [Int]) {
            self.name = name
            self.dtype = dtype
            self.shape = shape
        }

        /// Bytes of data this entry holds.
        package var byteCount: Int { shape.reduce(1, *) * dtype.byteSize }
    }

    package let url: URL
    private let temporaryURL: URL
    private let handle: FileHandle
    private let expectedBytes: Int
    private var writtenBytes = 0
    private var buffer: [UInt8] = []
    private var finished = false
    private static let flushThreshold = 8 << 20

    /// Creates the file and writes its header.
    ///
    /// - Throws: `AutoInterpError.invalidInput` for duplicate names or negative dims, `.io` when the file cannot be created.
    package init(url: URL, entries: [Entry], metadata: [String: String] = [:]) throws {
        self.url = url
        var names = Set<String>()
        var fields: [String] = []
        var offset = 0
        for entry in entries {
            guard names.insert(entry.name).inserted, entry.name != "__metadata__" else {
                throw AutoInterpError.invalidInput("safetensors writer: duplicate or reserved tensor name '\(entry.name)'")
            }
            guard entry.shape.allSatisfy({ $0 >= 0 }) else {
                throw AutoInterpError.invalidInput("safetensors writer: tensor '\(entry.name)' has a negative dimension")
            }
            let end = offset + entry.byteCount
            let shape = entry.shape.map(String.init).joined(separator: ",")
            fields.append("\(jsonStringLiteral(entry.name)):{\"dtype\":\"\(entry.dtype.rawValue)\",\"shape\":[\(shape)],\"data_offsets\":[\(offset),\(end)]}")
            offset = end
        }
        if !metadata.isEmpty {
            let pairs = metadata.sorted { $0.key < $1.key }.map { "\(jsonStringLiteral($0.key)):\(jsonStringLiteral($0.value))" }
            fields.insert("\"__metadata__\":{\(pairs.joined(separator: ","))}", at: 0)
        }
        var header = Array("{\(fields.joined(separator: ","))}".utf8)
        // Pad with spaces so the data starts 8-byte aligned, as the reference implementation does.
        while (8 + header.count) % 8 != 0 { header.append(0x20) }
        expectedBytes = offset

        let directory = url.deletingLastPathComponent()
        try? FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        WriterTemporaryFiles.removeStale(in: directory)
        temporaryURL = WriterTemporaryFiles.url(beside: url, role: "partial")
        guard FileManager.default.createFile(atPath: temporaryURL.path, contents: nil),
            let handle = FileHandle(forWritingAtPath: temporaryURL.path)
        else {
            throw AutoInterpError.io(url.path, "cannot create the output file (check the folder exists and is writable)")
        }
        self.handle = handle
        var length = UInt64(header.count).littleEndian
        withUnsafeBytes(of: &length) { buffer.append(contentsOf: $0) }
        buffer.append(contentsOf: header)
    }

    deinit {
        if !finished {
            try? handle.close()
            try? FileManager.default.removeItem(at: temporaryURL)
        }
    }

    /// Appends raw little-endian bytes of the current entry (or entries, in order).
    package func append(_ bytes: UnsafeRawBufferPointer) throws {
        guard writtenBytes + bytes.count <= expectedBytes else {
            throw AutoInterpError.invalidInput("safetensors writer for \(url.path): more data than the declared shapes hold")
        }
        writtenBytes += bytes.count
        if bytes.count >= Self.flushThreshold {
            // Large blocks go straight to the file instead of through the buffer.
            try flush()
            try write(Data(bytesNoCopy: UnsafeMutableRawPointer(mutating: bytes.baseAddress!), count: bytes.count, deallocator: .none))
            return
        }
        buffer.append(contentsOf: bytes)
        if buffer.count >= Self.flushThreshold { try flush() }
    }

    /// Appends the bytes of an array of trivial values (Float, Int32, UInt8, ...).
    package func append<T: BitwiseCopyable>(_ values: [T]) throws {
        try values.withUnsafeBytes { try append($0) }
    }

    /// Checks that every declared byte was written, then moves the file into place.
    package func finish() throws {
        guard writtenBytes == expectedBytes else {
            throw AutoInterpError.invalidInput("safetensors writer for \(url.path): wrote \(writtenBytes) of \(expectedBytes) declared bytes")
        }
        try flush()
        do {
            try handle.synchronize()
            try handle.close()
        } catch {
            throw AutoInterpError.io(url.path, "cannot finish writing: \(error.localizedDescription) (disk full?)")
        }
        try WriterTemporaryFiles.moveIntoPlace(temporaryURL, over: url)
        finished = true
    }

    private func flush() throws {
        guard !buffer.isEmpty else { return }
        try write(Data(buffer))
        buffer.removeAll(keepingCapacity: true)
    }

    private func write(_ data: Data) throws {
        do {
            try handle.write(contentsOf: data)
        } catch {
            throw AutoInterpError.io(url.path, "write failed: \(error.localizedDescription) (disk full?)")
        }
    }
}

/// Writes a whole safetensors file from tensors held in memory.
package enum SafeTensorsWriter {
    /// A tensor with its data as little-endian bytes.
    package struct Tensor: Sendable {
        package var name: String
        package var dtype: SafeTensorsDType
        package var shape: [Int]
        package var data: Data

        package init(name: String, dtype: SafeTensorsDType, shape: [Int], data: Data) {
            self.name = name
            self.dtype = dtype
            self.shape = shape
            self.data = data
        }

        package static func float32(_ name: String, shape: [Int], _ values: [Float]) -> Tensor {
            Tensor(name: name, dtype: .F32, shape: shape, data: values.withUnsafeBytes { Data($0) })
        }

        package static func float16(_ name: String, shape: [Int], _ values: [Float]) -> Tensor {
            Tensor(name: name, dtype: .F16, shape: shape, data: values.map { Float16($0).bitPattern }.withUnsafeBytes { Data($0) })
        }

        package static func bfloat16(_ name: String, shape: [Int], _ values: [Float]) -> Tensor {
            // Round to nearest even, as torch does.
            let bits = values.map { value -> UInt16 in
                let raw = value.bitPattern
                if value.isNaN { return 0x7FC0 }
                return UInt16(truncatingIfNeeded: (raw &+ 0x7FFF &+ ((raw >> 16) & 1)) >> 16)
            }
            return Tensor(name: name, dtype: .BF16, shape: shape, data: bits.withUnsafeBytes { Data($0) })
        }

        package static func float64(_ name: String, shape: [Int], _ values: [Double]) -> Tensor {
            Tensor(name: name, dtype: .F64, shape: shape, data: values.withUnsafeBytes { Data($0) })
        }

        package static func int32(_ name: String, shape: [Int], _ values: [Int32]) -> Tensor {
            Tensor(name: name, dtype: .I32, shape: shape, data: values.withUnsafeBytes { Data($0) })
        }

        package static func int64(_ name: String, shape: [Int], _ values: [Int64]) -> Tensor {
            Tensor(name: name, dtype: .I64, shape: shape, data: values.withUnsafeBytes { Data($0) })
        }

        package static func uint8(_ name: String, shape: [Int], _ values: [UInt8]) -> Tensor {
            Tensor(name: name, dtype: .U8, shape: shape, data: Data(values))
        }
    }

    /// Writes `tensors` (in the given order) and `metadata` to `url`.
    package static func write(_ tensors: [Tensor], metadata: [String: String] = [:], to url: URL) throws {
        for tensor in tensors where tensor.data.count != tensor.shape.reduce(1, *) * tensor.dtype.byteSize {
            throw AutoInterpError.invalidInput("safetensors writer: tensor '\(tensor.name)' has \(tensor.data.count) bytes, its shape \(tensor.shape) needs \(tensor.shape.reduce(1, *) * tensor.dtype.byteSize)")
        }
        let writer = try SafeTensorsStreamWriter(
            url: url, entries: tensors.map { .init(name: $0.name, dtype: $0.dtype, shape: $0.shape) }, metadata: metadata)
        for tensor in tensors {
            try tensor.data.withUnsafeBytes { try writer.append($0) }
        }
        try writer.finish()
    }
}
