import Foundation

/// Element types a safetensors file may declare (upper-case, as the format spells them).
public enum SafeTensorsDType: String, Sendable, CaseIterable, Codable {
    case BOOL, U8, I8, F8_E5M2, F8_E4M3, I16, U16, F16, BF16, I32, U32, F32, F64, I64, U64

    /// Bytes per element.
    public var byteSize: Int {
        switch self {
        case .BOOL, .U8, .I8, .F8_E5M2, .F8_E4M3: 1
        case .I16, .U16, .F16, .BF16: 2
        case .I32, .U32, .F32: 4
        case .F64, .I64, .U64: 8
        }
    }

    /// True for the float types this library converts to `Float` (F32, F16, BF16, F64).
    public var isConvertibleFloat: Bool { [.F32, .F16, .BF16, .F64].contains(self) }

    /// True for the integer types this library converts to `Int64`.
    public var isConvertibleInteger: Bool { [.I32, .I64, .U8, .I8, .I16, .U16, .U32, .BOOL].contains(self) }
}

/// One tensor's entry in a safetensors header.
public struct SafeTensorInfo: Sendable, Equatable {
    public var name: String
    public var dtype: SafeTensorsDType
    public var shape: [Int]
    /// Byte range relative to the start of the data section.
    public var dataOffsets: Range<Int>

    /// Number of elements (1 for a 0-d tensor).
    public var elementCount: Int { shape.reduce(1, *) }
}
