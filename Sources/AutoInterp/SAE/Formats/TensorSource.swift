import Foundation

/// Named float tensors from one weights file, whatever its container (safetensors, `.npz`,
/// torch zip), so that every format reader validates and orients weights the same way.
protocol TensorSource {
    /// The file, for messages.
    var path: String { get }
    /// Tensor names in file order.
    var tensorNames: [String] { get }
    /// The shape of `name`, or nil when there is no such tensor.
    func shape(_ name: String) -> [Int]?
    /// The stored element type of `name` (`F32`, `F16`, `BF16`, …).
    func dtype(_ name: String) -> String?
    /// All elements of `name` as `Float`, row-major.
    func floats(_ name: String) throws -> [Float]
    /// The elements of `name` at flat row-major `elements`, in that order.
    func floats(_ name: String, at elements: [Int]) throws -> [Float]
    /// The smallest and largest finite element of `name` (nil when none is finite).
    func finiteRange(_ name: String) throws -> ClosedRange<Float>?
}

extension TensorSource {
    /// True when the file has a tensor `name`.
    func contains(_ name: String) -> Bool { shape(name) != nil }

    /// Reads the whole tensor and picks (containers that cannot read parts of a tensor).
    func floats(_ name: String, at elements: [Int]) throws -> [Float] {
        let all = try floats(name)
        return elements.map { all[$0] }
    }

    func finiteRange(_ name: String) throws -> ClosedRange<Float>? {
        let finite = try floats(name).filter(\.isFinite)
        guard let low = finite.min(), let high = finite.max() else { return nil }
        return low...high
    }
}

/// A safetensors file is a tensor source as it is.
struct SafeTensorsSource: TensorSource {
    let file: SafeTensorsFile

    var path: String { file.url.path }
    var tensorNames: [String] { file.tensorNames }
    func shape(_ name: String) -> [Int]? { file.contains(name) ? (try? file.info(name))?.shape : nil }
    func dtype(_ name: String) -> String? { file.contains(name) ? (try? file.info(name))?.dtype.rawValue : nil }
    func floats(_ name: String) throws -> [Float] { try file.floats(name) }

    /// Reads only the pages holding `elements` from the memory-mapped file.
    func floats(_ name: String, at elements: [Int]) throws -> [Float] {
        let info = try file.info(name)
        guard !elements.isEmpty else { return [] }
        return try [Float](unsafeUninitializedCapacity: elements.count) { buffer, count in
            try file.gatherFloats(info, elements: elements, into: buffer.baseAddress!)
            count = elements.count
        }
    }

    func finiteRange(_ name: String) throws -> ClosedRange<Float>? { try file.finiteRange(try file.info(name)) }
}
