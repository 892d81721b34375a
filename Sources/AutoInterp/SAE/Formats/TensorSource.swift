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
}

extension TensorSource {
    /// True when the file has a tensor `name`.
    func contains(_ name: String) -> Bool { shape(name) != nil }
}

/// A safetensors file is a tensor source as it is.
struct SafeTensorsSource: TensorSource {
    let file: SafeTensorsFile

    var path: String { file.url.path }
    var tensorNames: [String] { file.tensorNames }
    func shape(_ name: String) -> [Int]? { file.contains(name) ? (try? file.info(name))?.shape : nil }
    func dtype(_ name: String) -> String? { file.contains(name) ? (try? file.info(name))?.dtype.rawValue : nil }
    func floats(_ name: String) throws -> [Float] { try file.floats(name) }
}
