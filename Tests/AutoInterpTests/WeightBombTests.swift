import AutoInterpTestSupport
import Foundation
import Testing

@testable import AutoInterp

/// Hostile `.pt` and `.npz` files: sizes, strides and element counts are checked against the file
/// before anything is inflated or allocated, so a small file costs little memory and gets one line.
@Suite(.serialized) struct WeightBombTests {
    /// A zip written byte by byte, so an entry can declare a size and a method it does not hold.
    struct Entry {
        var name: String
        var data: [UInt8]
        /// The uncompressed size written in the headers (default: the data's).
        var declared: UInt32?
        /// 0 stored, 8 deflated (the data are then not inflated: the reader must refuse first).
        var method: UInt16 = 0
    }

    static func crc32(_ bytes: [UInt8]) -> UInt32 {
        var crc: UInt32 = 0xFFFF_FFFF
        for byte in bytes {
            crc ^= UInt32(byte)
            for _ in 0..<8 { crc = crc & 1 == 1 ? (crc >> 1) ^ 0xEDB8_8320 : crc >> 1 }
        }
        return ~crc
    }

    static func zip(_ entries: [Entry]) -> Data {
        var out: [UInt8] = []
        var central: [UInt8] = []
        func le(_ v: UInt32, _ n: Int, into a: inout [UInt8]) { for i in 0..<n { a.append(UInt8((v >> (8 * UInt32(i))) & 0xFF)) } }
        for entry in entries {
            let offset = UInt32(out.count)
            let name = Array(entry.name.utf8)
            let crc = crc32(entry.data)
            let size = entry.declared ?? UInt32(entry.data.count)
            func common(_ a: inout [UInt8]) {
                le(20, 2, into: &a); le(0, 2, into: &a); le(UInt32(entry.method), 2, into: &a)
                le(0, 2, into: &a); le(0x21, 2, into: &a); le(crc, 4, into: &a)
                le(UInt32(entry.data.count), 4, into: &a); le(size, 4, into: &a); le(UInt32(name.count), 2, into: &a); le(0, 2, into: &a)
            }
            le(0x0403_4B50, 4, into: &out); common(&out); out += name; out += entry.data
            le(0x0201_4B50, 4, into: &central); le(20, 2, into: &central); common(&central)
            le(0, 2, into: &central); le(0, 2, into: &central); le(0, 2, into: &central)
            le(0, 4, into: &central); le(offset, 4, into: &central)
            central += name
        }
        let start = UInt32(out.count)
        out += central
        le(0x0605_4B50, 4, into: &out); le(0, 2, into: &out); le(0, 2, into: &out)
        le(UInt32(entries.count), 2, into: &out); le(UInt32(entries.count), 2, into: &out)
        le(UInt32(central.count), 4, into: &out); le(start, 4, into: &out); le(0, 2, into: &out)
        return Data(out)
    }

    /// A protocol-2 pickle of `{"w": tensor}`: a float storage '0' of `count` elements viewed with `shape` and `strides`.
    static func statePickle(count: Int, shape: [Int], strides: [Int]) -> [UInt8] {
        var p: [UInt8] = [0x80, 0x02, 0x7D, 0x28]  // PROTO 2, EMPTY_DICT, MARK
        func string(_ s: String) {
            let b = Array(s.utf8)
            p.append(0x58)
            p += withUnsafeBytes(of: UInt32(b.count).littleEndian, Array.init) + b
        }
        func int(_ n: Int) { p.append(0x8A); p.append(8); p += withUnsafeBytes(of: Int64(n).littleEndian, Array.init) }  // LONG1
        func global(_ module: String, _ name: String) { p.append(0x63); p += Array("\(module)\n\(name)\n".utf8) }
        string("w")
        global("torch._utils", "_rebuild_tensor_v2")
        p += [0x28, 0x28]  // MARK (args), MARK (persistent id)
        string("storage"); global("torch", "FloatStorage"); string("0"); string("cpu"); int(count)
        p += [0x74, 0x51]  // TUPLE, BINPERSID
        int(0)
        p.append(0x28); shape.forEach(int); p.append(0x74)
        p.append(0x28); strides.forEach(int); p.append(0x74)
        p.append(0x89)  // requires_grad False
        global("collections", "OrderedDict"); p += [0x29, 0x52]  // () REDUCE
        p += [0x74, 0x52, 0x75, 0x2E]  // TUPLE, REDUCE, SETITEMS, STOP
        return p
    }

    static func residentBytes() -> Int { SAESubsetTests.residentBytes() }

    /// Runs `body`, expecting one `AutoInterpError` line containing `fragment`, within 16 MiB of resident growth.
    static func expectRefusal(_ fragment: String, _ body: () throws -> Void) {
        let before = residentBytes()
        let error = #expect(throws: AutoInterpError.self) { try body() }
        let grown = residentBytes() - before
        let message = error?.message ?? ""
        #expect(message.contains(fragment), "\(message)")
        #expect(!message.contains("\n"))
        #expect(grown < 16 << 20, "resident size grew by \(grown) bytes")
    }

    @Test func goodTorchFileFromTheWriterReads() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let url = dir.path("good.pt")
        let values: [Float] = [1, 2, 3, 4, 5, 6]
        let bytes = values.flatMap { withUnsafeBytes(of: $0.bitPattern.littleEndian, Array.init) }
        try Self.zip([
            Entry(name: "good/data.pkl", data: Self.statePickle(count: 6, shape: [2, 3], strides: [3, 1])),
            Entry(name: "good/data/0", data: bytes),
        ]).write(to: url)
        let archive = try TorchArchive(url: url)
        #expect(archive.shape("w") == [2, 3])
        #expect(try archive.floats("w") == values)
    }

    @Test func zipBombTorchFileIsRefusedBeforeInflating() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let url = dir.path("bomb.pt")
        // The storage claims 2^28 floats (1 GiB) and its entry declares 1 GiB from 4 KiB of deflate.
        try Self.zip([
            Entry(name: "bomb/data.pkl", data: Self.statePickle(count: 1 << 28, shape: [1 << 14, 1 << 14], strides: [1 << 14, 1])),
            Entry(name: "bomb/data/0", data: [UInt8](repeating: 0, count: 4096), declared: 1 << 30, method: 8),
        ]).write(to: url)
        Self.expectRefusal("zip bomb") { _ = try TorchArchive(url: url).floats("w") }
        // A stored entry that declares more than it stores.
        try Self.zip([
            Entry(name: "bomb/data.pkl", data: Self.statePickle(count: 1 << 28, shape: [1 << 28], strides: [1])),
            Entry(name: "bomb/data/0", data: [UInt8](repeating: 0, count: 4096), declared: 1 << 30),
        ]).write(to: url)
        Self.expectRefusal("but stores 4096") { _ = try TorchArchive(url: url).floats("w") }
        // A storage that claims more elements than its entry declares: refused at open.
        try Self.zip([
            Entry(name: "bomb/data.pkl", data: Self.statePickle(count: 1 << 28, shape: [1 << 28], strides: [1])),
            Entry(name: "bomb/data/0", data: [UInt8](repeating: 0, count: 4096)),
        ]).write(to: url)
        Self.expectRefusal("declares 4096 bytes, 268435456 F32 elements need 1073741824") { _ = try TorchArchive(url: url) }
    }

    @Test func zeroStrideTorchFileIsRefusedBeforeAllocating() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let url = dir.path("zero.pt")
        // One stored float viewed as 2^33 × 2^20 (and 2^20 × 2^20) with stride 0: terabytes from 4 bytes.
        for shape in [[1 << 33, 1 << 20], [1 << 20, 1 << 20]] {
            try Self.zip([
                Entry(name: "zero/data.pkl", data: Self.statePickle(count: 1, shape: shape, strides: [0, 0])),
                Entry(name: "zero/data/0", data: [0, 0, 0x80, 0x3F]),
            ]).write(to: url)
            Self.expectRefusal("a zero-stride view") { _ = try TorchArchive(url: url) }
            Self.expectRefusal("a zero-stride view") { _ = try SparseAutoencoder.load(path: url) }
        }
    }

    /// A `.npy` v1 header for `shape` of little-endian float32, padded to 64 bytes.
    static func npyHeader(shape: [Int]) -> [UInt8] {
        let dims = shape.map(String.init).joined(separator: ", ") + (shape.count == 1 ? "," : "")
        var text = "{'descr': '<f4', 'fortran_order': False, 'shape': (\(dims)), }"
        while (10 + text.utf8.count + 1) % 64 != 0 { text += " " }
        text += "\n"
        return [0x93] + Array("NUMPY".utf8) + [1, 0, UInt8(text.utf8.count & 0xFF), UInt8(text.utf8.count >> 8)] + Array(text.utf8)
    }

    @Test func hugeClaimNpzIsRefusedBeforeInflating() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let url = dir.path("params.npz")
        // A good one reads.
        let good = Self.npyHeader(shape: [2]) + [0, 0, 0x80, 0x3F, 0, 0, 0, 0x40]
        try Self.zip([Entry(name: "W_enc.npy", data: good)]).write(to: url)
        #expect(try NpzArchive(url: url).floats("W_enc") == [1, 2])
        // The header claims 2^28 floats (1 GiB); the entry holds 64 KiB.
        let claim = Self.npyHeader(shape: [1 << 28]) + [UInt8](repeating: 0, count: 1 << 16)
        try Self.zip([Entry(name: "W_enc.npy", data: claim)]).write(to: url)
        Self.expectRefusal("needs 1073741824 bytes after its header") { _ = try NpzArchive(url: url) }
        // The entry agrees with the header, but declares 1 GiB from 64 KiB of deflate.
        let header = Self.npyHeader(shape: [1 << 28])
        let bomb = Entry(
            name: "W_enc.npy", data: header + [UInt8](repeating: 0, count: 1 << 16), declared: UInt32(header.count + (1 << 30)), method: 8)
        try Self.zip([bomb]).write(to: url)
        Self.expectRefusal("zip bomb") { _ = try NpzArchive(url: url) }
    }
}
