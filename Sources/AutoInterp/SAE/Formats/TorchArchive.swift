import Foundation

/// A torch `.pt` / `.pth` file in the zip format torch has written since 1.6, as a tensor source.
///
/// `<name>/data.pkl` is read with `RestrictedUnpickler`; each tensor is a strided view of a
/// storage `<name>/data/<key>`, read (and bounds-checked) only when asked for. Non-tensor
/// entries of the state dict are kept as `scalars` when they are numbers.
final class TorchArchive: TensorSource {
    let path: String
    let tensorNames: [String]
    private let archive: ZipReader
    private let prefix: String
    private let tensors: [String: TorchTensorRef]

    /// Opens `url` and unpickles its state dict.
    ///
    /// - Throws: `AutoInterpError.invalidFile` for a legacy (non-zip) file, a pickle the
    ///   restricted unpickler refuses, or a top-level object that is not a dict of tensors.
    init(url: URL) throws {
        path = url.path
        if let handle = FileHandle(forReadingAtPath: path) {
            let magic = handle.readData(ofLength: 4)
            try? handle.close()
            if magic.count == 4 && magic != Data([0x50, 0x4B, 0x03, 0x04]) {
                throw AutoInterpError.invalidFile(
                    path, "not a zip-format torch file (torch < 1.6 legacy format?); re-save it with torch.save(state_dict, path) from torch >= 1.6")
            }
        }
        archive = try ZipReader(url: url)
        let pickles = archive.entryPaths.filter { $0 == "data.pkl" || $0.hasSuffix("/data.pkl") }
        guard pickles.count == 1, let pickle = pickles.first else {
            throw AutoInterpError.invalidFile(path, "expected one data.pkl in the torch archive, found \(pickles.count)")
        }
        prefix = String(pickle.dropLast("data.pkl".count))
        if archive.contains(prefix + "byteorder") {
            let order = String(decoding: try archive.data(prefix + "byteorder"), as: UTF8.self)
            guard order == "little" else { throw AutoInterpError.invalidFile(path, "byteorder '\(order.prefix(20))' is not supported (little only)") }
        }
        let root = try RestrictedUnpickler.load([UInt8](try archive.data(pickle)), path: "\(path):\(pickle)")
        var found: [String: TorchTensorRef] = [:]
        var order: [String] = []
        func collect(_ value: PickleValue, prefix: String) {
            guard case .dict(let entries, _) = value else { return }
            for (key, item) in entries {
                guard case .string(let name) = key else { continue }
                let full = prefix.isEmpty ? name : "\(prefix).\(name)"
                switch item {
                case .tensor(let tensor):
                    if found[full] == nil { order.append(full) }
                    found[full] = tensor
                case .dict:
                    collect(item, prefix: full)
                default:
                    continue
                }
            }
        }
        guard case .dict = root else {
            throw AutoInterpError.invalidFile(path, "the pickle holds a \(root.kind), not a state dict (torch.save(model.state_dict(), path))")
        }
        collect(root, prefix: "")
        // A checkpoint that wraps the state dict ({"state_dict": {...}}) is read as the state dict.
        for wrapper in ["state_dict", "model", "model_state_dict"] where !order.isEmpty && order.allSatisfy({ $0.hasPrefix(wrapper + ".") }) {
            let cut = wrapper.count + 1
            found = Dictionary(uniqueKeysWithValues: found.map { (String($0.key.dropFirst(cut)), $0.value) })
            order = order.map { String($0.dropFirst(cut)) }
        }
        guard !order.isEmpty else { throw AutoInterpError.invalidFile(path, "the state dict holds no tensors") }
        tensors = found
        tensorNames = order
        // Every claim of the pickle checked against the archive before anything is inflated or allocated.
        for name in order { _ = try check(found[name]!, name) }
    }

    /// The element count of `tensor`'s view, after checking the pickle's claims against the archive:
    /// shape and strides without overflow, a view inside its storage and no larger than it (a
    /// zero-stride view of one value claims a huge tensor from a few bytes), and a storage entry that
    /// declares exactly its element count × element size (checked arithmetic throughout).
    private func check(_ tensor: TorchTensorRef, _ name: String) throws -> Int {
        func fail(_ problem: String) -> AutoInterpError { .invalidFile(path, "tensor '\(name)': \(problem)") }
        let storage = tensor.storage
        guard tensor.offset >= 0, storage.elementCount >= 0, tensor.shape.count == tensor.strides.count,
            tensor.shape.allSatisfy({ $0 >= 0 }), tensor.strides.allSatisfy({ $0 >= 0 })
        else {
            throw fail(
                "a negative size, offset or stride, or not one stride per dimension (shape \(tensor.shape), stride \(tensor.strides))")
        }
        // Largest element offset the view touches, with checked arithmetic.
        var elements = 1
        var last = tensor.offset
        for (n, s) in zip(tensor.shape, tensor.strides) {
            let (count, o1) = elements.multipliedReportingOverflow(by: n)
            guard !o1 else { throw fail("shape \(tensor.shape) overflows") }
            elements = count
            if n > 0 {
                let (reach, o2) = (n - 1).multipliedReportingOverflow(by: s)
                let (sum, o3) = last.addingReportingOverflow(reach)
                guard !o2, !o3 else { throw fail("strides \(tensor.strides) overflow") }
                last = sum
            }
        }
        guard elements > 0 else { return 0 }
        if last >= storage.elementCount {
            throw fail(
                "view (offset \(tensor.offset), shape \(tensor.shape), stride \(tensor.strides)) reaches past its storage of "
                    + "\(storage.elementCount) elements")
        }
        if elements > storage.elementCount {
            throw fail(
                "shape \(tensor.shape) claims \(elements) elements from a storage of \(storage.elementCount) "
                    + "(a zero-stride view, stride \(tensor.strides)); save the tensor with .contiguous() or .clone()")
        }
        let entry = prefix + "data/" + storage.key
        guard let declared = archive.size(entry) else { throw fail("its storage '\(storage.key)' is not in the archive") }
        let (needed, overflow) = storage.elementCount.multipliedReportingOverflow(by: storage.dtype.byteSize)
        guard !overflow, declared == UInt64(needed) else {
            let need = overflow ? "more than Int.max" : String(needed)
            throw fail(
                "storage '\(storage.key)' declares \(declared) bytes, "
                    + "\(storage.elementCount) \(storage.dtype.rawValue) elements need \(need)")
        }
        return elements
    }

    func shape(_ name: String) -> [Int]? { tensors[name]?.shape }
    func dtype(_ name: String) -> String? { tensors[name]?.storage.dtype.rawValue }

    func floats(_ name: String) throws -> [Float] {
        guard let tensor = tensors[name] else {
            throw AutoInterpError.invalidFile(path, "no tensor named '\(name)' (has: \(tensorNames.joined(separator: ", ")))")
        }
        let elements = try check(tensor, name)
        let storage = tensor.storage
        let size = storage.dtype.byteSize
        let data = try archive.data(
            prefix + "data/" + storage.key, expecting: storage.elementCount * size, what: "tensor '\(name)''s storage")
        guard elements > 0 else { return [] }
        let dtype = storage.dtype
        return data.withUnsafeBytes { raw -> [Float] in
            let base = raw.baseAddress!
            var out = [Float](repeating: 0, count: elements)
            // Row-major strides of the shape: a view with them is one contiguous run.
            var contiguous = true
            var expected = 1
            for (n, s) in zip(tensor.shape, tensor.strides).reversed() {
                if n != 1 && s != expected { contiguous = false }
                expected *= n
            }
            out.withUnsafeMutableBufferPointer { out in
                if contiguous && dtype.isConvertibleFloat {
                    _ = FloatConversion.convert(base + tensor.offset * size, dtype: dtype, count: elements, into: out.baseAddress!)
                    return
                }
                // General strided gather, one multi-index at a time (offsets were bounds-checked above).
                var index = [Int](repeating: 0, count: tensor.shape.count)
                var at = tensor.offset
                for i in 0..<elements {
                    out[i] = Self.load(base + at * size, dtype)
                    // Wrapping steps: past the last element (or along a size-1 axis with any
                    // stride) `at` may leave the range, but it is only read when back inside.
                    var axis = tensor.shape.count - 1
                    while axis >= 0 {
                        index[axis] += 1
                        at = at &+ tensor.strides[axis]
                        if index[axis] < tensor.shape[axis] { break }
                        at = at &- (tensor.strides[axis] &* tensor.shape[axis])
                        index[axis] = 0
                        axis -= 1
                    }
                }
            }
            return out
        }
    }

    /// One element at `p` as `Float`.
    private static func load(_ p: UnsafeRawPointer, _ dtype: SafeTensorsDType) -> Float {
        switch dtype {
        case .F32: Float(bitPattern: p.loadUnaligned(as: UInt32.self))
        case .F16: FloatConversion.halfTable[Int(p.loadUnaligned(as: UInt16.self))]
        case .BF16: Float(bitPattern: UInt32(p.loadUnaligned(as: UInt16.self)) << 16)
        case .F64: Float(p.loadUnaligned(as: Double.self))
        case .I32: Float(p.loadUnaligned(as: Int32.self))
        case .I64: Float(p.loadUnaligned(as: Int64.self))
        default: .nan
        }
    }
}
