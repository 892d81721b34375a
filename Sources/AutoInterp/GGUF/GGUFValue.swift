/// One metadata value of a GGUF file, in the file's own type.
package enum GGUFValue: Sendable, Equatable {
    case uint8(UInt8)
    case int8(Int8)
    case uint16(UInt16)
    case int16(Int16)
    case uint32(UInt32)
    case int32(Int32)
    case float32(Float)
    case bool(Bool)
    case string(String)
    case uint64(UInt64)
    case int64(Int64)
    case float64(Double)
    /// An array; GGUF arrays hold one element type (arrays of arrays are allowed).
    case array([GGUFValue])

    /// The GGUF name of the value's type, for error messages.
    package var typeName: String {
        switch self {
        case .uint8: "uint8"
        case .int8: "int8"
        case .uint16: "uint16"
        case .int16: "int16"
        case .uint32: "uint32"
        case .int32: "int32"
        case .float32: "float32"
        case .bool: "bool"
        case .string: "string"
        case .uint64: "uint64"
        case .int64: "int64"
        case .float64: "float64"
        case .array: "array"
        }
    }

    /// Any integer value that fits an `Int`; `nil` for other types.
    package var int: Int? {
        switch self {
        case .uint8(let v): Int(v)
        case .int8(let v): Int(v)
        case .uint16(let v): Int(v)
        case .int16(let v): Int(v)
        case .uint32(let v): Int(v)
        case .int32(let v): Int(v)
        case .uint64(let v): Int(exactly: v)
        case .int64(let v): Int(exactly: v)
        default: nil
        }
    }

    /// Any float or integer value as a `Double`; `nil` for other types.
    package var double: Double? {
        switch self {
        case .float32(let v): Double(v)
        case .float64(let v): v
        default: int.map(Double.init)
        }
    }

    /// The text of a string value.
    package var string: String? {
        if case .string(let v) = self { return v }
        return nil
    }

    /// The value of a bool.
    package var bool: Bool? {
        if case .bool(let v) = self { return v }
        return nil
    }

    /// The elements of an array.
    package var array: [GGUFValue]? {
        if case .array(let v) = self { return v }
        return nil
    }
}
