import Foundation

/// A value a restricted pickle may hold: plain data, plus the torch tensor references a state
/// dict is made of.
indirect enum PickleValue {
    case none
    case bool(Bool)
    case int(Int)
    case float(Double)
    case string(String)
    case tuple([PickleValue], depth: Int)
    case list([PickleValue], depth: Int)
    /// Keys and values in insertion order (`dict` and `collections.OrderedDict`).
    case dict([(PickleValue, PickleValue)], depth: Int)
    /// One of the allowed globals, not yet called.
    case global(PickleGlobal)
    /// A storage named by a persistent id: `('storage', <type>, key, location, numel)`.
    case storage(TorchStorageRef)
    /// The result of `torch._utils._rebuild_tensor_v2` (or `_rebuild_parameter` around it).
    case tensor(TorchTensorRef)

    /// Nesting depth (0 for scalars), stored so that shared sub-values are never walked again.
    var depth: Int {
        switch self {
        case .tuple(_, let d), .list(_, let d), .dict(_, let d): d
        default: 0
        }
    }

    /// A short name of the kind of value, for messages.
    var kind: String {
        switch self {
        case .none: "None"
        case .bool: "bool"
        case .int: "int"
        case .float: "float"
        case .string: "str"
        case .tuple: "tuple"
        case .list: "list"
        case .dict: "dict"
        case .global(let g): g.rawValue
        case .storage: "storage"
        case .tensor: "tensor"
        }
    }
}

/// The only globals the unpickler resolves: what `torch.save(state_dict)` writes.
enum PickleGlobal: String, CaseIterable {
    case orderedDict = "collections.OrderedDict"
    case rebuildTensorV2 = "torch._utils._rebuild_tensor_v2"
    case rebuildParameter = "torch._utils._rebuild_parameter"
    case floatStorage = "torch.FloatStorage"
    case halfStorage = "torch.HalfStorage"
    case bfloat16Storage = "torch.BFloat16Storage"
    case doubleStorage = "torch.DoubleStorage"
    case intStorage = "torch.IntStorage"
    case longStorage = "torch.LongStorage"

    /// The element type of a storage global.
    var storageDType: SafeTensorsDType? {
        switch self {
        case .floatStorage: .F32
        case .halfStorage: .F16
        case .bfloat16Storage: .BF16
        case .doubleStorage: .F64
        case .intStorage: .I32
        case .longStorage: .I64
        default: nil
        }
    }
}

/// A storage record of a torch zip archive: the bytes are `<archive>/data/<key>`.
struct TorchStorageRef: Equatable {
    var key: String
    var dtype: SafeTensorsDType
    var elementCount: Int
}

/// A strided view of a storage, as `_rebuild_tensor_v2(storage, offset, size, stride, …)` makes.
struct TorchTensorRef: Equatable {
    var storage: TorchStorageRef
    var offset: Int
    var shape: [Int]
    var strides: [Int]
}
