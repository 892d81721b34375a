import Foundation

/// The binary columns of `examples` (schema v13): `token_ids` and `acts`.
///
/// Each is a plain little-endian array with no header: `token_ids` 4 bytes per token (two's
/// complement Int32), `acts` 4 bytes per token (IEEE-754 binary32, the exact bits: NaN, ±∞, -0
/// and subnormals come back as written). The length is the byte count / 4; an empty record is an
/// empty blob (never NULL). Reading refuses a blob whose length is not a multiple of 4.
enum ExampleBlob {
    /// True on the little-endian hosts Swift runs on today (the arrays are then copied as they lie).
    private static let hostIsLittleEndian = 1.littleEndian == 1

    /// `values` as little-endian Int32s.
    static func data(_ values: [Int32]) -> Data {
        if hostIsLittleEndian { return values.withUnsafeBytes { Data($0) } }
        return words(values.lazy.map { UInt32(bitPattern: $0) }, count: values.count)
    }

    /// `values` as little-endian binary32s (bit patterns kept).
    static func data(_ values: [Float]) -> Data {
        if hostIsLittleEndian { return values.withUnsafeBytes { Data($0) } }
        return words(values.lazy.map(\.bitPattern), count: values.count)
    }

    /// The Int32s of a `token_ids` blob.
    ///
    /// - Throws: ``AutoInterpError/database(_:_:)`` naming the column and example when the length
    ///   is not a multiple of 4.
    static func int32s(_ data: Data, column: String, example: Int64, path: String) throws -> [Int32] {
        try decode(data, column: column, example: example, path: path) { Int32(bitPattern: $0) }
    }

    /// The binary32s of an `acts` blob (see ``int32s(_:column:example:path:)``).
    static func floats(_ data: Data, column: String, example: Int64, path: String) throws -> [Float] {
        try decode(data, column: column, example: example, path: path) { Float(bitPattern: $0) }
    }

    private static func words(_ values: some Sequence<UInt32>, count: Int) -> Data {
        var data = Data(count: count * 4)
        data.withUnsafeMutableBytes { bytes in
            for (i, word) in values.enumerated() { bytes.storeBytes(of: word.littleEndian, toByteOffset: i * 4, as: UInt32.self) }
        }
        return data
    }

    private static func decode<T>(
        _ data: Data, column: String, example: Int64, path: String, _ make: (UInt32) -> T
    ) throws -> [T] {
        guard data.count % 4 == 0 else {
            throw AutoInterpError.database(
                path, "column \(column) of example \(example) holds \(data.count) bytes, not a multiple of 4 (was the row edited by hand?)")
        }
        let count = data.count / 4
        return data.withUnsafeBytes { bytes in
            (0..<count).map { make(UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: $0 * 4, as: UInt32.self))) }
        }
    }
}
