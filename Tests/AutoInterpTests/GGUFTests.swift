import AutoInterpTestSupport
import Foundation
import Testing

@testable import AutoInterp

/// The GGUF reader against `Fixtures/GGUF/quants.gguf` (made by `Tests/Scripts/make_gguf_fixtures.py`
/// with the `gguf` package) and against hand-built broken files.
struct GGUFTests {
    static let fixture = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/GGUF/quants.gguf")

    @Test func metadataOfEveryValueType() throws {
        let file = try GGUFFile(url: Self.fixture)
        #expect(file.version == 3)
        #expect(file.alignment == 32)
        #expect(try file.string("general.architecture") == "test")
        #expect(file.metadata["t.u8"] == .uint8(200))
        #expect(file.metadata["t.i8"] == .int8(-100))
        #expect(file.metadata["t.u16"] == .uint16(60000))
        #expect(file.metadata["t.i16"] == .int16(-30000))
        #expect(file.metadata["t.u32"] == .uint32(4_000_000_000))
        #expect(file.metadata["t.i32"] == .int32(-2_000_000_000))
        #expect(file.metadata["t.f32"] == .float32(0.15625))
        #expect(file.metadata["t.bool"] == .bool(true))
        #expect(try file.string("t.str") == "héllo ▁ 世界")
        #expect(try file.int("t.u64") == (1 << 40) + 7)
        #expect(file.metadata["t.i64"] == .int64(-(1 << 40)))
        #expect(file.metadata["t.f64"] == .float64(-1.5e-10))
        #expect(try file.strings("t.strs") == ["a", "", "Ġthe", "<|endoftext|>"])
        #expect(file.metadata["t.ints"] == .array([.int32(1), .int32(-2), .int32(3)]))
        #expect(file.metadata["t.nested"] == .array([.array([.int32(1), .int32(2)]), .array([.int32(3)])]))
        #expect(file.metadataKeys.first == "general.architecture")
        // A key of the wrong type is one clear line, not a nil.
        #expect(throws: AutoInterpError.self) { try file.int("t.str") }
    }

    @Test func tensorTableShapes() throws {
        let file = try GGUFFile(url: Self.fixture)
        #expect(file.tensors.count == 24)
        let cube = try file.info("f32_3d")
        #expect(cube.dimensions == [4, 3, 2])
        #expect(cube.shape == [2, 3, 4])
        #expect(cube.rowLength == 4 && cube.rowCount == 6)
        let q = try file.info("q4_k")
        #expect(q.type == .q4_K && q.shape == [2, 256] && q.byteCount == 2 * 144)
        #expect(throws: AutoInterpError.self) { try file.info("missing") }
    }

    @Test(arguments: ["f32", "f16", "bf16", "f32_3d", "q8_0", "q4_0", "q4_1", "q5_0", "q5_1", "q4_k", "q5_k", "q6_k"])
    func dequantisesLikeTheReference(name: String) throws {
        let file = try GGUFFile(url: Self.fixture)
        let values = try file.floats(name)
        let reference = try file.floats("ref." + name)
        #expect(values.count == reference.count)
        // ggml's order of float operations is followed, so the results agree to the last bit
        // (tolerance only for a compiler contracting a multiply-add).
        let worst = zip(values, reference).map { abs($0 - $1) / max(1, abs($1)) }.max() ?? 0
        #expect(worst <= 1e-6, "\(name): max relative error \(worst)")
        #expect(Set(values).count > 4, "\(name): values should vary")
    }

    @Test func copyRowsReadsOneRow() throws {
        let file = try GGUFFile(url: Self.fixture)
        let info = try file.info("q6_k")
        var row = [Float](repeating: 0, count: 256)
        try row.withUnsafeMutableBufferPointer { try file.copyRows(info, rows: 1..<2, into: $0.baseAddress!) }
        #expect(row == Array(try file.floats("ref.q6_k")[256...]))
        #expect(throws: AutoInterpError.self) {
            try row.withUnsafeMutableBufferPointer { try file.copyRows(info, rows: 2..<3, into: $0.baseAddress!) }
        }
    }

    // MARK: - Broken files

    /// A minimal GGUF writer for broken variants.
    struct Builder {
        var bytes: [UInt8] = []
        mutating func u32(_ v: UInt32) { withUnsafeBytes(of: v.littleEndian) { bytes += $0 } }
        mutating func u64(_ v: UInt64) { withUnsafeBytes(of: v.littleEndian) { bytes += $0 } }
        mutating func string(_ s: String) {
            u64(UInt64(s.utf8.count))
            bytes += Array(s.utf8)
        }
        /// A v3 file with one `general.alignment`-free key and one F32 tensor of `count` elements.
        static func file(
            tensorCount: UInt64 = 1, pairCount: UInt64 = 1, valueType: UInt32 = 8, tensorType: UInt32 = 0, count: UInt64 = 4,
            offset: UInt64 = 0, dataBytes: Int = 16, dims: UInt32 = 1
        ) -> [UInt8] {
            var b = Builder()
            b.u32(0x4655_4747)
            b.u32(3)
            b.u64(tensorCount)
            b.u64(pairCount)
            b.string("general.architecture")
            b.u32(valueType)
            b.string("llama")
            b.string("w")
            b.u32(dims)
            for _ in 0..<min(dims, 4) { b.u64(count) }
            b.u32(tensorType)
            b.u64(offset)
            while b.bytes.count % 32 != 0 { b.bytes.append(0) }
            b.bytes += [UInt8](repeating: 0, count: dataBytes)
            return b.bytes
        }
    }

    static func rejection(_ bytes: [UInt8]) throws -> String {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let url = dir.path("bad.gguf")
        try Data(bytes).write(to: url)
        do {
            _ = try GGUFFile(url: url)
            return "accepted"
        } catch let error as AutoInterpError {
            #expect(error.isInvalidFile)
            #expect(error.description.hasPrefix(url.path))
            #expect(!error.description.contains("\n"))
            return error.description
        }
    }

    @Test func wellFormedBuilderFileOpens() throws {
        #expect(try Self.rejection(Builder.file()) == "accepted")
    }

    @Test func refusesBrokenFiles() throws {
        let good = Builder.file()
        #expect(try Self.rejection(Array(good.prefix(10))).contains("shorter than a GGUF header"))
        #expect(try Self.rejection(Array(good.prefix(60))).contains("truncated"))
        #expect(try Self.rejection(Array(good.dropLast(4))).contains("runs past the end"))
        var magic = good
        magic[0] = UInt8(ascii: "X")
        #expect(try Self.rejection(magic).contains("GGUF magic"))
        #expect(try Self.rejection(Builder.file(tensorType: 99)).contains("unknown ggml type 99"))
        // A known ggml type this package does not dequantise is named (Q2_K).
        #expect(try Self.rejection(Builder.file(tensorType: 10)).contains("Q2_K"))
        #expect(try Self.rejection(Builder.file(valueType: 13)).contains("unknown value type 13"))
        #expect(try Self.rejection(Builder.file(offset: 64)).contains("runs past the end"))
        #expect(try Self.rejection(Builder.file(offset: 3)).contains("alignment"))
        #expect(try Self.rejection(Builder.file(dims: 5)).contains("5 dimensions"))
        // Huge counts are refused before any allocation.
        #expect(try Self.rejection(Builder.file(tensorCount: 1 << 60)).contains("tensor count"))
        #expect(try Self.rejection(Builder.file(pairCount: UInt64.max)).contains("metadata count"))
        #expect(try Self.rejection(Builder.file(count: 1 << 40, dims: 4)).contains("element count overflows"))
        #expect(try Self.rejection(Builder.file(tensorType: 2, count: 33)).contains("not a whole number of Q4_0 blocks"))
        var hugeString = good
        hugeString.replaceSubrange(24..<32, with: [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F])
        #expect(try Self.rejection(hugeString).contains("length"))
    }
}
