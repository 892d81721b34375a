/// A bounds-checked little-endian reader over a GGUF header; every read that would run past the
/// end throws, naming what was being read.
struct GGUFCursor {
    let bytes: UnsafeRawBufferPointer
    var offset = 0
    let fail: (String) -> AutoInterpError

    var remaining: Int { bytes.count - offset }

    mutating func take(_ count: Int, _ what: @autoclosure () -> String) throws -> UnsafeRawBufferPointer {
        guard count >= 0, count <= remaining else {
            throw fail("\(what()) at byte \(offset) needs \(count) bytes but the file ends after \(remaining) (truncated?)")
        }
        defer { offset += count }
        return UnsafeRawBufferPointer(rebasing: bytes[offset..<(offset + count)])
    }

    mutating func read<T: FixedWidthInteger>(_: T.Type, _ what: @autoclosure () -> String) throws -> T {
        let raw = try take(MemoryLayout<T>.size, what())
        return T(littleEndian: raw.loadUnaligned(as: T.self))
    }

    /// A `uint64` count or length that must fit in the bytes left, each item taking at least
    /// `minimumItemBytes`: a huge count is refused before anything is allocated for it.
    mutating func count(_ what: @autoclosure () -> String, minimumItemBytes: Int) throws -> Int {
        let at = offset
        let raw = try read(UInt64.self, what())
        guard raw <= UInt64(remaining / max(minimumItemBytes, 1)) else {
            throw fail("\(what()) at byte \(at) is \(raw), more than the \(remaining) bytes left can hold (corrupt or truncated?)")
        }
        return Int(raw)
    }

    mutating func string(_ what: @autoclosure () -> String) throws -> String {
        let length = try count("\(what()) length", minimumItemBytes: 1)
        let at = offset
        let raw = try take(length, what())
        guard let text = String(validating: raw, as: UTF8.self) else {
            throw fail("\(what()) at byte \(at) is not valid UTF-8")
        }
        return text
    }

    /// One metadata value of GGUF type number `type`.
    mutating func value(type: UInt32, _ what: @autoclosure () -> String, depth: Int = 0) throws -> GGUFValue {
        switch type {
        case 0: return .uint8(try read(UInt8.self, what()))
        case 1: return .int8(try read(Int8.self, what()))
        case 2: return .uint16(try read(UInt16.self, what()))
        case 3: return .int16(try read(Int16.self, what()))
        case 4: return .uint32(try read(UInt32.self, what()))
        case 5: return .int32(try read(Int32.self, what()))
        case 6: return .float32(Float(bitPattern: try read(UInt32.self, what())))
        case 7:
            let at = offset
            let raw = try read(UInt8.self, what())
            guard raw <= 1 else { throw fail("\(what()) at byte \(at) is a bool of value \(raw) (must be 0 or 1)") }
            return .bool(raw == 1)
        case 8: return .string(try string(what()))
        case 9:
            guard depth < 8 else { throw fail("\(what()) nests arrays more than 8 deep") }
            let elementType = try read(UInt32.self, "\(what()) element type")
            let minimum = [0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 8: 8, 9: 12, 10: 8, 11: 8, 12: 8][Int(elementType)]
            guard let minimum else { throw fail("\(what()) has unknown element type \(elementType) (GGUF types are 0-12)") }
            let count = try count("\(what()) element count", minimumItemBytes: minimum)
            var items: [GGUFValue] = []
            items.reserveCapacity(count)
            for i in 0..<count {
                items.append(try value(type: elementType, "\(what())[\(i)]", depth: depth + 1))
            }
            return .array(items)
        case 10: return .uint64(try read(UInt64.self, what()))
        case 11: return .int64(try read(Int64.self, what()))
        case 12: return .float64(Double(bitPattern: try read(UInt64.self, what())))
        default:
            throw fail("\(what()) has unknown value type \(type) (GGUF types are 0-12)")
        }
    }
}
