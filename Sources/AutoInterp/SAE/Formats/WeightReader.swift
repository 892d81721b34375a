import Foundation

/// Reads SAE tensors from a `TensorSource` with the checks every format shares: the tensor is
/// there, its shape fits `d_in` / `d_sae` (a weight stored the other way round is turned
/// around), and every value is finite. Errors name the file and the tensor.
struct WeightReader {
    /// How a publisher stores a weight matrix, which decides when `d_in == d_sae` leaves the
    /// shape ambiguous.
    enum Layout {
        /// `[d_in, d_sae]` (SAELens' `W_enc`; an `nn.Linear` decoder weight).
        case inputMajor
        /// `[d_sae, d_in]` (SAELens' `W_dec`; an `nn.Linear` encoder weight).
        case featureMajor
    }

    let source: any TensorSource
    /// Dtypes of the tensors read, for the run config.
    private(set) var dtypes: [String: String] = [:]

    init(_ source: any TensorSource) { self.source = source }

    var path: String { source.path }

    /// The shape of `name`, or a one-line error listing the tensors the file has.
    func shape(_ name: String) throws -> [Int] {
        guard let shape = source.shape(name) else {
            let known = source.tensorNames.prefix(12).joined(separator: ", ")
            throw AutoInterpError.invalidFile(path, "missing tensor '\(name)' (has: \(known)\(source.tensorNames.count > 12 ? ", …" : ""))")
        }
        return shape
    }

    /// The length of a vector tensor `name` (any shape with at most one dimension above 1).
    func length(_ name: String) throws -> Int {
        let shape = try shape(name)
        guard shape.filter({ $0 != 1 }).count <= 1 else {
            throw AutoInterpError.invalidFile(path, "'\(name)' has shape \(shape), expected a vector")
        }
        return shape.reduce(1, *)
    }

    /// A vector of `count` elements.
    mutating func vector(_ name: String, _ count: Int, what: String) throws -> [Float] {
        let shape = try shape(name)
        guard shape.reduce(1, *) == count, shape.filter({ $0 != 1 }).count <= 1 else {
            throw AutoInterpError.invalidFile(path, "'\(name)' has shape \(shape), expected [\(count)] (\(what))")
        }
        return try values(name)
    }

    /// The elements `columns` of a vector of `count` elements (all of it when nil).
    mutating func vector(_ name: String, _ count: Int, what: String, columns: [Int]?) throws -> [Float] {
        guard let columns else { return try vector(name, count, what: what) }
        let shape = try shape(name)
        guard shape.reduce(1, *) == count, shape.filter({ $0 != 1 }).count <= 1 else {
            throw AutoInterpError.invalidFile(path, "'\(name)' has shape \(shape), expected [\(count)] (\(what))")
        }
        return try values(name, at: columns)
    }

    /// The smallest and largest finite element of `name`, read without keeping the tensor.
    func finiteRange(_ name: String) throws -> ClosedRange<Float>? { try source.finiteRange(name) }

    /// One number (a 0-d or one-element tensor).
    mutating func scalar(_ name: String) throws -> Float {
        let shape = try shape(name)
        guard shape.reduce(1, *) == 1 else { throw AutoInterpError.invalidFile(path, "'\(name)' has shape \(shape), expected one number") }
        return try values(name)[0]
    }

    /// The encoder in SAELens orientation, row-major `[d_in, d_sae]`.
    mutating func encoder(_ name: String, dIn: Int, dSAE: Int, layout: Layout) throws -> [Float] {
        try matrix(name, rows: dIn, columns: dSAE, storedTransposed: layout == .featureMajor, what: "W_enc [d_in, d_sae]", dIn: dIn, dSAE: dSAE)
    }

    /// The encoder columns of `features` (all when nil), row-major `[d_in, features.count]`:
    /// only those elements are read.
    mutating func encoder(_ name: String, dIn: Int, dSAE: Int, layout: Layout, columns features: [Int]?) throws -> [Float] {
        guard let features else { return try encoder(name, dIn: dIn, dSAE: dSAE, layout: layout) }
        let stored = try orientation(name, rows: dIn, columns: dSAE, storedTransposed: layout == .featureMajor, what: "W_enc [d_in, d_sae]", dIn: dIn, dSAE: dSAE)
        let k = features.count
        if stored == .asIs {
            // [d_in, d_sae]: row r holds feature f at r * d_sae + f; read row by row.
            var elements = [Int]()
            elements.reserveCapacity(dIn * k)
            for r in 0..<dIn { for f in features { elements.append(r * dSAE + f) } }
            return try values(name, at: elements)
        }
        // [d_sae, d_in]: feature f's row is contiguous; read the rows, then turn them around.
        var elements = [Int]()
        elements.reserveCapacity(dIn * k)
        for f in features { for r in 0..<dIn { elements.append(f * dIn + r) } }
        return transpose(try values(name, at: elements), rows: k, columns: dIn)
    }

    /// Checks the decoder's shape without reading it, and records its dtype.
    mutating func checkDecoder(_ name: String, dIn: Int, dSAE: Int, layout: Layout) throws {
        _ = try orientation(name, rows: dSAE, columns: dIn, storedTransposed: layout == .inputMajor, what: "W_dec [d_sae, d_in]", dIn: dIn, dSAE: dSAE)
        dtypes[name] = source.dtype(name) ?? "?"
    }

    /// The decoder in SAELens orientation, row-major `[d_sae, d_in]`.
    mutating func decoder(_ name: String, dIn: Int, dSAE: Int, layout: Layout) throws -> [Float] {
        try matrix(name, rows: dSAE, columns: dIn, storedTransposed: layout == .inputMajor, what: "W_dec [d_sae, d_in]", dIn: dIn, dSAE: dSAE)
    }

    /// A `rows × columns` matrix; the stored tensor may be `[columns, rows]`, which `storedTransposed`
    /// says is the publisher's way when the matrix is square.
    private mutating func matrix(_ name: String, rows: Int, columns: Int, storedTransposed: Bool, what: String, dIn: Int, dSAE: Int) throws -> [Float] {
        switch try orientation(name, rows: rows, columns: columns, storedTransposed: storedTransposed, what: what, dIn: dIn, dSAE: dSAE) {
        case .asIs: return try values(name)
        case .flipped: return transpose(try values(name), rows: columns, columns: rows)
        }
    }

    private enum Orientation { case asIs, flipped }

    /// How `name` holds a `rows × columns` matrix, or the error naming the shape expected.
    private func orientation(_ name: String, rows: Int, columns: Int, storedTransposed: Bool, what: String, dIn: Int, dSAE: Int) throws -> Orientation {
        let shape = try shape(name)
        let asIs = shape == [rows, columns], flipped = shape == [columns, rows]
        if asIs && !(flipped && storedTransposed) { return .asIs }
        if flipped { return .flipped }
        throw AutoInterpError.invalidFile(
            path, "'\(name)' has shape \(shape), expected \(what) = [\(rows), \(columns)] or its transpose (d_in \(dIn), d_sae \(dSAE))")
    }

    /// All values of `name`, checked finite.
    private mutating func values(_ name: String) throws -> [Float] {
        let values = try source.floats(name)
        if let bad = values.firstIndex(where: { !$0.isFinite }) {
            throw AutoInterpError.invalidFile(path, "'\(name)' holds a non-finite value (\(values[bad])) at element \(bad)")
        }
        dtypes[name] = source.dtype(name) ?? "?"
        return values
    }

    /// The elements of `name` at `elements`, checked finite (an element not read is not checked).
    private mutating func values(_ name: String, at elements: [Int]) throws -> [Float] {
        let values = try source.floats(name, at: elements)
        if let bad = values.firstIndex(where: { !$0.isFinite }) {
            throw AutoInterpError.invalidFile(path, "'\(name)' holds a non-finite value (\(values[bad])) at element \(elements[bad])")
        }
        dtypes[name] = source.dtype(name) ?? "?"
        return values
    }

    /// The stored dtypes in one line: `BF16`, or `F32 (threshold), BF16` when they differ.
    var dtypeSummary: String {
        let counts = Dictionary(grouping: dtypes, by: \.value)
        guard counts.count > 1 else { return counts.keys.first ?? "F32" }
        let main = counts.max { $0.value.count < $1.value.count }!.key
        let others = counts.filter { $0.key != main }.sorted { $0.key < $1.key }
            .map { "\($0.key) (\($0.value.map(\.key).sorted().joined(separator: ", ")))" }
        return (others + [main]).joined(separator: ", ")
    }
}
