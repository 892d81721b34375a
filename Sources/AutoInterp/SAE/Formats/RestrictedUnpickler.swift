import Foundation

/// Reads a pickle (protocols 2-5) that only builds a torch state dict, and refuses anything else.
///
/// This is not Python's unpickler: it knows the opcodes a state dict of tensors needs, resolves
/// only the globals in `PickleGlobal`, calls (REDUCE) only those, and never imports or runs
/// anything. An unknown opcode or global stops it with one line naming it. Every length is
/// checked against the bytes left, and the stack, memo and nesting are bounded.
struct RestrictedUnpickler {
    /// Where the pickle came from, for messages (`model.pt:archive/data.pkl`).
    let path: String
    private let bytes: [UInt8]
    private var position = 0
    private var stack: [PickleValue] = []
    private var marks: [Int] = []
    private var memo: [Int: PickleValue] = [:]
    /// Container elements copied so far (a memoised dict is copied on insert), bounded by `maxWork`.
    private var work = 0

    /// Most container elements copied while building values; a state dict needs a few thousand.
    static let maxWork = 50_000_000

    /// Deepest nesting of containers accepted.
    static let maxDepth = 64
    /// Most values on the stack or in the memo.
    static let maxItems = 10_000_000

    init(bytes: [UInt8], path: String) {
        self.bytes = bytes
        self.path = path
    }

    /// Unpickles `bytes` (from `path`, for messages).
    ///
    /// - Throws: `AutoInterpError.invalidFile` naming the opcode, global or truncation; the
    ///   message says nothing was executed when it refuses a global.
    static func load(_ bytes: [UInt8], path: String) throws -> PickleValue {
        var unpickler = RestrictedUnpickler(bytes: bytes, path: path)
        return try unpickler.run()
    }

    private func fail(_ problem: String) -> AutoInterpError {
        .invalidFile(path, "pickle: \(problem)")
    }

    // MARK: - Reading bytes

    private mutating func byte() throws -> UInt8 {
        guard position < bytes.count else { throw fail("truncated at byte \(position)") }
        defer { position += 1 }
        return bytes[position]
    }

    private mutating func take(_ count: Int) throws -> ArraySlice<UInt8> {
        guard count >= 0, count <= bytes.count - position else {
            throw fail("a length of \(count) at byte \(position) runs past the end (\(bytes.count) bytes)")
        }
        defer { position += count }
        return bytes[position..<(position + count)]
    }

    private mutating func littleEndian(_ count: Int) throws -> UInt64 {
        var value: UInt64 = 0
        for (i, b) in try take(count).enumerated() { value |= UInt64(b) << (8 * UInt64(i)) }
        return value
    }

    private mutating func line() throws -> String {
        guard let end = bytes[position...].firstIndex(of: 0x0A) else { throw fail("unterminated text at byte \(position)") }
        let text = String(decoding: bytes[position..<end], as: UTF8.self)
        position = end + 1
        return text
    }

    private mutating func utf8(_ count: Int) throws -> String {
        let raw = try take(count)
        guard let text = String(validating: raw, as: UTF8.self) else { throw fail("invalid UTF-8 string at byte \(position - count)") }
        return text
    }

    // MARK: - Stack

    private mutating func push(_ value: PickleValue) throws {
        guard stack.count < Self.maxItems else { throw fail("more than \(Self.maxItems) values on the stack") }
        stack.append(value)
    }

    private mutating func pop() throws -> PickleValue {
        guard let value = stack.popLast() else { throw fail("stack underflow at byte \(position)") }
        if let mark = marks.last, stack.count < mark { throw fail("popped past a MARK at byte \(position)") }
        return value
    }

    private mutating func popToMark() throws -> [PickleValue] {
        guard let mark = marks.popLast(), mark <= stack.count else { throw fail("no MARK for the opcode at byte \(position - 1)") }
        let items = Array(stack[mark...])
        stack.removeSubrange(mark...)
        return items
    }

    private func nested(_ items: [PickleValue]) throws -> Int {
        let depth = 1 + (items.map(\.depth).max() ?? 0)
        guard depth <= Self.maxDepth else { throw fail("containers nested more than \(Self.maxDepth) deep") }
        return depth
    }

    private mutating func setItems(_ pairs: [PickleValue]) throws {
        guard pairs.count % 2 == 0 else { throw fail("SETITEMS with an odd number of values") }
        guard case .dict(var entries, let depth) = try pop() else { throw fail("SETITEM(S) on something that is not a dict") }
        try count(entries.count + pairs.count / 2)
        var newDepth = depth
        for i in stride(from: 0, to: pairs.count, by: 2) {
            entries.append((pairs[i], pairs[i + 1]))
            newDepth = max(newDepth, try nested([pairs[i], pairs[i + 1]]))
        }
        try push(.dict(entries, depth: newDepth))
    }

    private mutating func appendItems(_ items: [PickleValue]) throws {
        guard case .list(var list, let depth) = try pop() else { throw fail("APPEND(S) on something that is not a list") }
        try count(list.count + items.count)
        list.append(contentsOf: items)
        try push(.list(list, depth: max(depth, try nested(items))))
    }

    private mutating func count(_ elements: Int) throws {
        work += elements
        guard work <= Self.maxWork else { throw fail("more than \(Self.maxWork) container updates; not a state dict") }
    }

    private mutating func memoize(_ index: Int) throws {
        guard let top = stack.last else { throw fail("memo store with an empty stack") }
        guard memo.count < Self.maxItems else { throw fail("memo larger than \(Self.maxItems) values") }
        memo[index] = top
    }

    private mutating func recall(_ index: Int) throws {
        guard let value = memo[index] else { throw fail("memo index \(index) was never stored") }
        try push(value)
    }

    private func resolve(module: String, name: String) throws -> PickleValue {
        guard let global = PickleGlobal(rawValue: "\(module).\(name)") else {
            throw fail(
                "refusing global '\(module).\(name)': a state dict of tensors never needs it (nothing was executed; only torch tensors, storages and OrderedDict are allowed)"
            )
        }
        return .global(global)
    }

    // MARK: - Calls

    private func call(_ callable: PickleValue, _ args: PickleValue) throws -> PickleValue {
        guard case .global(let global) = callable else { throw fail("REDUCE on a \(callable.kind), which is not an allowed callable") }
        guard case .tuple(let items, _) = args else { throw fail("REDUCE of \(global.rawValue) without an argument tuple") }
        switch global {
        case .orderedDict:
            guard items.isEmpty else { throw fail("collections.OrderedDict called with arguments") }
            return .dict([], depth: 1)
        case .rebuildTensorV2:
            guard items.count >= 4, case .storage(let storage) = items[0], case .int(let offset) = items[1],
                case .tuple(let sizeItems, _) = items[2], case .tuple(let strideItems, _) = items[3]
            else { throw fail("_rebuild_tensor_v2 called with unexpected arguments") }
            func ints(_ values: [PickleValue]) throws -> [Int] {
                try values.map {
                    guard case .int(let n) = $0, n >= 0 else { throw fail("_rebuild_tensor_v2: a size or stride is not a non-negative int") }
                    return n
                }
            }
            let shape = try ints(sizeItems), strides = try ints(strideItems)
            guard shape.count == strides.count, offset >= 0 else { throw fail("_rebuild_tensor_v2: size \(shape) and stride \(strides) disagree") }
            var elements = 1
            for n in shape {
                let (product, overflow) = elements.multipliedReportingOverflow(by: n)
                guard !overflow else { throw fail("_rebuild_tensor_v2: size \(shape) overflows") }
                elements = product
            }
            return .tensor(TorchTensorRef(storage: storage, offset: offset, shape: shape, strides: strides))
        case .rebuildParameter:
            guard items.count >= 1, case .tensor = items[0] else { throw fail("_rebuild_parameter called without a tensor") }
            return items[0]
        default:
            throw fail("\(global.rawValue) cannot be called")
        }
    }

    private func persistentLoad(_ id: PickleValue) throws -> PickleValue {
        guard case .tuple(let items, _) = id, items.count == 5, case .string("storage") = items[0], case .global(let type) = items[1],
            let dtype = type.storageDType, case .string(let key) = items[2], case .int(let count) = items[4], count >= 0
        else { throw fail("persistent id is not a torch storage record") }
        guard !key.isEmpty, key.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_") }) else {
            throw fail("storage key '\(key.prefix(40))' is not a plain name")
        }
        return .storage(TorchStorageRef(key: key, dtype: dtype, elementCount: count))
    }

    // MARK: - The loop

    private mutating func run() throws -> PickleValue {
        while true {
            let opcode = try byte()
            switch opcode {
            case 0x80:  // PROTO
                let version = try byte()
                guard (2...5).contains(version) else { throw fail("protocol \(version) is not supported (2-5)") }
            case 0x95:  // FRAME
                _ = try take(8)
            case 0x2E:  // STOP
                guard stack.count == 1 else { throw fail("STOP with \(stack.count) values on the stack") }
                return stack[0]
            case 0x28:  // MARK
                guard marks.count < Self.maxDepth * 4 else { throw fail("too many nested MARKs") }
                marks.append(stack.count)
            case 0x4E: try push(.none)  // NONE
            case 0x88: try push(.bool(true))  // NEWTRUE
            case 0x89: try push(.bool(false))  // NEWFALSE
            case 0x4B: try push(.int(Int(try byte())))  // BININT1
            case 0x4D: try push(.int(Int(try littleEndian(2))))  // BININT2
            case 0x4A: try push(.int(Int(Int32(truncatingIfNeeded: try littleEndian(4)))))  // BININT
            case 0x8A:  // LONG1
                let count = Int(try byte())
                guard count <= 8 else { throw fail("integer of \(count) bytes is too large") }
                let raw = try take(count)
                var value: Int64 = 0
                for (i, b) in raw.enumerated() { value |= Int64(b) << (8 * Int64(i)) }
                if count > 0 && count < 8, let last = raw.last, last & 0x80 != 0 { value -= Int64(1) << (8 * Int64(count)) }
                try push(.int(Int(value)))
            case 0x47:  // BINFLOAT (big-endian)
                var bits: UInt64 = 0
                for b in try take(8) { bits = bits << 8 | UInt64(b) }
                try push(.float(Double(bitPattern: bits)))
            case 0x58: try push(.string(try utf8(Int(try littleEndian(4)))))  // BINUNICODE
            case 0x8C: try push(.string(try utf8(Int(try byte()))))  // SHORT_BINUNICODE
            case 0x8D:  // BINUNICODE8
                let count = try littleEndian(8)
                guard count <= UInt64(bytes.count) else { throw fail("string length \(count) runs past the end") }
                try push(.string(try utf8(Int(count))))
            case 0x29: try push(.tuple([], depth: 1))  // EMPTY_TUPLE
            case 0x85, 0x86, 0x87:  // TUPLE1-3
                let n = Int(opcode - 0x84)
                var items: [PickleValue] = []
                for _ in 0..<n { items.insert(try pop(), at: 0) }
                try push(.tuple(items, depth: try nested(items)))
            case 0x74:  // TUPLE
                let items = try popToMark()
                try push(.tuple(items, depth: try nested(items)))
            case 0x7D: try push(.dict([], depth: 1))  // EMPTY_DICT
            case 0x5D: try push(.list([], depth: 1))  // EMPTY_LIST
            case 0x73:  // SETITEM
                let value = try pop(), key = try pop()
                try setItems([key, value])
            case 0x75:  // SETITEMS
                let items = try popToMark()
                try setItems(items)
            case 0x61:  // APPEND
                try appendItems([try pop()])
            case 0x65:  // APPENDS
                try appendItems(try popToMark())
            case 0x71: try memoize(Int(try byte()))  // BINPUT
            case 0x72: try memoize(Int(try littleEndian(4)))  // LONG_BINPUT
            case 0x94: try memoize(memo.count)  // MEMOIZE
            case 0x68: try recall(Int(try byte()))  // BINGET
            case 0x6A: try recall(Int(try littleEndian(4)))  // LONG_BINGET
            case 0x63:  // GLOBAL
                let module = try line(), name = try line()
                try push(try resolve(module: module, name: name))
            case 0x93:  // STACK_GLOBAL
                guard case .string(let name) = try pop(), case .string(let module) = try pop() else {
                    throw fail("STACK_GLOBAL without module and name strings")
                }
                try push(try resolve(module: module, name: name))
            case 0x52:  // REDUCE
                let args = try pop(), callable = try pop()
                try push(try call(callable, args))
            case 0x62:  // BUILD: only the `__dict__` state of an OrderedDict (torch's `_metadata`), which is dropped
                let state = try pop()
                guard case .dict = state, let target = stack.last, case .dict = target else {
                    throw fail("BUILD on a \(stack.last?.kind ?? "nothing") with a \(state.kind) state is not allowed")
                }
            case 0x51:  // BINPERSID
                try push(try persistentLoad(try pop()))
            default:
                throw fail(String(format: "opcode 0x%02x at byte %d is not allowed in a state dict (nothing was executed)", opcode, position - 1))
            }
        }
    }
}
