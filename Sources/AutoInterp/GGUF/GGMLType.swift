/// A ggml tensor element type as GGUF stores it (`ggml_type` in ggml.h).
///
/// Only the types this package can dequantise have cases; any other number is refused when the
/// file is opened, with the type's ggml name when it is a known one.
package enum GGMLType: UInt32, Sendable, CaseIterable {
    case f32 = 0
    case f16 = 1
    case q4_0 = 2
    case q4_1 = 3
    case q5_0 = 6
    case q5_1 = 7
    case q8_0 = 8
    case q4_K = 12
    case q5_K = 13
    case q6_K = 14
    case bf16 = 30

    /// ggml's name for the type (`F32`, `Q4_K`, …).
    package var name: String { Self.knownNames[Int(rawValue)] }

    /// Elements per block.
    package var blockSize: Int {
        switch self {
        case .f32, .f16, .bf16: 1
        case .q4_0, .q4_1, .q5_0, .q5_1, .q8_0: 32
        case .q4_K, .q5_K, .q6_K: 256
        }
    }

    /// Bytes per block.
    package var blockBytes: Int {
        switch self {
        case .f32: 4
        case .f16, .bf16: 2
        case .q4_0: 18
        case .q4_1: 20
        case .q5_0: 22
        case .q5_1: 24
        case .q8_0: 34
        case .q4_K: 144
        case .q5_K: 176
        case .q6_K: 210
        }
    }

    /// ggml's type names by number (`ggml_type`), including the ones this package does not read.
    static let knownNames: [String] = [
        "F32", "F16", "Q4_0", "Q4_1", "Q4_2", "Q4_3", "Q5_0", "Q5_1", "Q8_0", "Q8_1", "Q2_K", "Q3_K", "Q4_K", "Q5_K",
        "Q6_K", "Q8_K", "IQ2_XXS", "IQ2_XS", "IQ3_XXS", "IQ1_S", "IQ4_NL", "IQ3_S", "IQ2_S", "IQ4_XS", "I8", "I16", "I32",
        "I64", "F64", "IQ1_M", "BF16", "Q4_0_4_4", "Q4_0_4_8", "Q4_0_8_8", "TQ1_0", "TQ2_0", "IQ4_NL_4_4", "IQ4_NL_4_8",
        "IQ4_NL_8_8", "MXFP4",
    ]

    /// A description of type number `raw` for an error message: its ggml name when known.
    static func describe(_ raw: UInt32) -> String {
        raw < knownNames.count ? "\(knownNames[Int(raw)]) (ggml type \(raw))" : "unknown ggml type \(raw)"
    }

    /// The names of the readable types, for error messages.
    static var supportedList: String { allCases.map(\.name).joined(separator: ", ") }
}
