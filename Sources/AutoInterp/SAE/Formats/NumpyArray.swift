import Foundation

/// One `.npy` array (NumPy format versions 1-3), parsed from its bytes.
///
/// Understands the little-endian float dtypes an SAE is stored in (`<f4`, `<f2`, `<f8`, and
/// `bfloat16` as `ml_dtypes` writes it: `<V2`) and both C and Fortran order for 1-D and 2-D arrays.
/// Every length in the header is checked against the bytes present, so no input can make a
/// read go out of bounds.
struct NumpyArray {
    /// Element types this reader converts to `Float`.
    enum DType: String {
        case f32 = "<f4"
        case f16 = "<f2"
        case f64 = "<f8"
        case bf16 = "bfloat16"

        /// Bytes per element.
        var byteSize: Int {
            switch self {
            case .f32: 4
            case .f16, .bf16: 2
            case .f64: 8
            }
        }

        /// The matching safetensors dtype, used for the conversion and in messages.
        var safeTensorsDType: SafeTensorsDType {
            switch self {
            case .f32: .F32
            case .f16: .F16
            case .f64: .F64
            case .bf16: .BF16
            }
        }
    }

    /// The parsed header: dtype, shape, order and where the data starts.
    struct Header: Equatable {
        var dtype: DType
        var shape: [Int]
        var fortranOrder: Bool
        /// Offset of the first data byte.
        var dataOffset: Int
        /// Number of elements (checked, fits in `Int`).
        var elementCount: Int
        /// Data bytes the header promises (checked).
        var byteCount: Int
    }

    /// Longest header this reader accepts (NumPy itself writes a few hundred bytes).
    static let maxHeaderBytes = 1 << 20

    /// Parses the header at the start of `bytes`.
    ///
    /// - Parameter name: the array's name for messages (`W_enc.npy in params.npz`).
    /// - Throws: `AutoInterpError.invalidFile` naming `path` and `name`.
    static func header(_ bytes: UnsafeRawBufferPointer, path: String, name: String) throws -> Header {
        func fail(_ problem: String) -> AutoInterpError { .invalidFile(path, "array '\(name)': \(problem)") }
        let magic: [UInt8] = [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59]  // \x93NUMPY
        guard bytes.count >= 10, Array(bytes[0..<6]) == magic else { throw fail("not a .npy array (no \\x93NUMPY magic)") }
        let major = bytes[6]
        let headerLength: Int
        let headerStart: Int
        switch major {
        case 1:
            headerLength = Int(bytes[8]) | Int(bytes[9]) << 8
            headerStart = 10
        case 2, 3:
            guard bytes.count >= 12 else { throw fail("truncated header") }
            headerLength = Int(bytes[8]) | Int(bytes[9]) << 8 | Int(bytes[10]) << 16 | Int(bytes[11]) << 24
            headerStart = 12
        default:
            throw fail("unsupported .npy format version \(major)")
        }
        guard headerLength <= maxHeaderBytes, headerLength <= bytes.count - headerStart else {
            throw fail("header length \(headerLength) runs past the end of the array (\(bytes.count) bytes)")
        }
        let text = String(decoding: UnsafeRawBufferPointer(rebasing: bytes[headerStart..<(headerStart + headerLength)]), as: UTF8.self)
        var parser = PythonLiteralParser(text: text)
        guard case .dict(let entries)? = try? parser.parse() else { throw fail("header is not a Python dict literal: \(text.prefix(80))") }
        var values: [String: PythonLiteralParser.Value] = [:]
        for (key, value) in entries {
            guard case .string(let key) = key else { throw fail("header has a non-string key") }
            values[key] = value
        }

        let dtype: DType
        switch values["descr"] {
        case .string(let descr)?:
            if let known = DType(rawValue: descr) {
                dtype = known
            } else if descr == "|f2" || descr == "=f2" {
                dtype = .f16
            } else if descr == "<V2" || descr == "|V2" {
                // ml_dtypes' bfloat16 saves as a bare 2-byte void: the one 2-byte void an SAE holds.
                dtype = .bf16
            } else if descr.hasPrefix(">") {
                throw fail("big-endian dtype '\(descr)' is not supported (re-save with a little-endian dtype such as '<f4')")
            } else {
                throw fail("dtype '\(descr)' is not a float type this reader knows (<f4, <f2, <f8, bfloat16)")
            }
        case .list(let fields)? where fields.count == 1:
            // ml_dtypes' bfloat16 is saved as a structured type: [('bfloat16', '<V2')].
            guard case .tuple(let parts) = fields[0], parts.count == 2, case .string("bfloat16") = parts[0], case .string(let raw) = parts[1],
                raw.hasSuffix("V2")
            else { throw fail("structured dtype is not a float type this reader knows") }
            dtype = .bf16
        default:
            throw fail("header has no usable 'descr'")
        }
        guard case .bool(let fortranOrder)? = values["fortran_order"] else { throw fail("header has no 'fortran_order'") }
        guard case .tuple(let dims)? = values["shape"] else { throw fail("header has no 'shape' tuple") }
        var shape: [Int] = []
        var elements = 1
        for dim in dims {
            guard case .int(let n) = dim, n >= 0 else { throw fail("shape \(dims) holds a negative or non-integer dimension") }
            let (product, overflow) = elements.multipliedReportingOverflow(by: n)
            guard !overflow else { throw fail("shape \(dims) overflows") }
            elements = product
            shape.append(n)
        }
        if fortranOrder && shape.count > 2 {
            throw fail("Fortran-order arrays of more than 2 dimensions are not supported (re-save with np.ascontiguousarray)")
        }
        let (byteCount, overflow) = elements.multipliedReportingOverflow(by: dtype.byteSize)
        guard !overflow else { throw fail("shape \(shape) overflows") }
        let dataOffset = headerStart + headerLength
        return Header(dtype: dtype, shape: shape, fortranOrder: fortranOrder, dataOffset: dataOffset, elementCount: elements, byteCount: byteCount)
    }

    /// Reads a whole array as `Float` in C (row-major) order.
    ///
    /// - Throws: `AutoInterpError.invalidFile` when the data is shorter or longer than the header says.
    static func floats(_ bytes: UnsafeRawBufferPointer, path: String, name: String) throws -> (header: Header, values: [Float]) {
        let header = try header(bytes, path: path, name: name)
        guard bytes.count - header.dataOffset == header.byteCount else {
            throw AutoInterpError.invalidFile(
                path, "array '\(name)': shape \(header.shape) of \(header.dtype.rawValue) needs \(header.byteCount) bytes, found \(bytes.count - header.dataOffset)")
        }
        var values = [Float](repeating: 0, count: header.elementCount)
        if header.elementCount > 0 {
            values.withUnsafeMutableBufferPointer { out in
                _ = FloatConversion.convert(
                    bytes.baseAddress! + header.dataOffset, dtype: header.dtype.safeTensorsDType, count: header.elementCount, into: out.baseAddress!)
            }
        }
        if header.fortranOrder && header.shape.count == 2 {
            // Column-major [r, c] is row-major [c, r]; turn it around.
            values = transpose(values, rows: header.shape[1], columns: header.shape[0])
        }
        return (header, values)
    }
}
