import Foundation

/// Conversion of F32 / F16 / BF16 / F64 element runs to `Float`.
enum FloatConversion {
    /// Every F16 bit pattern as a Float: a 256 KiB table, faster than per-element conversion.
    static let halfTable: [Float] = (0...UInt16.max).map { Float(Float16(bitPattern: $0)) }

    /// Converts `count` little-endian elements at `source` (any alignment) into `destination`.
    ///
    /// - Returns: `count`, read back after the copy (see `SafeTensorsFile.copyFloats`).
    @inline(never)
    static func convert(_ source: UnsafeRawPointer, dtype: SafeTensorsDType, count: Int, into destination: UnsafeMutablePointer<Float>) -> Int {
        switch dtype {
        case .F32:
            memcpy(destination, source, count * 4)
        case .F16:
            halfTable.withUnsafeBufferPointer { table in
                for i in 0..<count {
                    destination[i] = table[Int(source.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self))]
                }
            }
        case .BF16:
            for i in 0..<count {
                let bits = UInt32(source.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)) << 16
                destination[i] = Float(bitPattern: bits)
            }
        case .F64:
            for i in 0..<count {
                destination[i] = Float(source.loadUnaligned(fromByteOffset: 8 * i, as: Double.self))
            }
        default:
            preconditionFailure("not a float dtype: \(dtype)")
        }
        return count
    }
}
