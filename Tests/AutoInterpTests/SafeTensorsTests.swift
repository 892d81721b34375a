import AutoInterpTestSupport
import Foundation
import Testing

@testable import AutoInterp

struct SafeTensorsTests {
    /// One F32 tensor of 2 elements: the smallest well-formed header body to vary.
    static let twoFloats: [UInt8] = [0, 0, 128, 63, 0, 0, 0, 64]  // 1.0, 2.0

    static func open(header: String, data: [UInt8] = [], declaredLength: UInt64? = nil) throws -> SafeTensorsFile {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let url = dir.path("t.safetensors")
        try SafeTensorsFixture.write(to: url, header: header, data: data, declaredLength: declaredLength)
        return try SafeTensorsFile(url: url)
    }

    static func rejection(header: String, data: [UInt8] = [], declaredLength: UInt64? = nil) -> String? {
        do {
            _ = try open(header: header, data: data, declaredLength: declaredLength)
            return nil
        } catch let error as AutoInterpError {
            return error.isInvalidFile ? error.description : "wrong kind: \(error)"
        } catch {
            return "unexpected: \(error)"
        }
    }

    // MARK: - Reject

    struct Reject: Sendable, CustomTestStringConvertible {
        var name: String
        var header: String
        var data: [UInt8] = twoFloats
        var declaredLength: UInt64? = nil
        var mentions: String
        var testDescription: String { name }
    }

    static let rejectCases: [Reject] = [
        Reject(name: "header past end", header: #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#, declaredLength: 10_000, mentions: "past the end"),
        Reject(name: "header over 100 MB", header: "{}", data: [], declaredLength: 100_000_001, mentions: "100 MB"),
        Reject(name: "not JSON", header: "{not json}", data: [], mentions: "not valid"),
        Reject(name: "JSON array", header: "[1,2]", data: [], mentions: "not an object"),
        Reject(name: "unknown dtype", header: #"{"a":{"dtype":"F31","shape":[2],"data_offsets":[0,8]}}"#, mentions: "unknown dtype"),
        Reject(name: "lower-case dtype", header: #"{"a":{"dtype":"f32","shape":[2],"data_offsets":[0,8]}}"#, mentions: "unknown dtype"),
        Reject(name: "negative shape", header: #"{"a":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}}"#, mentions: "negative or non-integer"),
        Reject(name: "fractional shape", header: #"{"a":{"dtype":"F32","shape":[2.0],"data_offsets":[0,8]}}"#, mentions: "negative or non-integer"),
        Reject(name: "byte length mismatch", header: #"{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}"#, mentions: "needs 12"),
        Reject(name: "shape overflow", header: #"{"a":{"dtype":"F32","shape":[4611686018427387904,4],"data_offsets":[0,8]}}"#, mentions: "overflow"),
        Reject(name: "hole", header: #"{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#, mentions: "hole"),
        Reject(
            name: "overlap",
            header: #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#,
            mentions: "overlaps"),
        Reject(name: "data past end", header: #"{"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}"#, mentions: "truncated"),
        Reject(name: "uncovered tail", header: #"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}"#, mentions: "not covered"),
        Reject(
            name: "duplicate names",
            header: #"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#,
            mentions: "duplicate tensor name 'a'"),
        Reject(name: "NUL padding", header: "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}\0\0\0", mentions: "NUL"),
        Reject(name: "metadata not strings", header: #"{"__metadata__":{"k":1},"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#, mentions: "not a string"),
        Reject(name: "offsets reversed", header: #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[8,0]}}"#, mentions: "end before"),
    ]

    @Test(arguments: rejectCases)
    func rejectsBadHeader(_ c: Reject) throws {
        let message = try #require(Self.rejection(header: c.header, data: c.data, declaredLength: c.declaredLength))
        #expect(message.contains(c.mentions), "\(message)")
        #expect(message.contains("t.safetensors"))
        #expect(!message.contains("\n"))
    }

    @Test func rejectsFileShorterThanEightBytes() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let url = dir.path("short.safetensors")
        try Data([1, 2, 3]).write(to: url)
        #expect(throws: AutoInterpError.self) { try SafeTensorsFile(url: url) }
    }

    // MARK: - Accept

    @Test func acceptsWhitespaceAroundJSON() throws {
        let file = try Self.open(header: "  \n{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}   ", data: Self.twoFloats)
        #expect(try file.floats("a") == [1, 2])
    }

    @Test func acceptsHeaderOrderDifferentFromOffsetOrder() throws {
        let header = #"{"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]},"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}"#
        let file = try Self.open(header: header, data: Self.twoFloats)
        #expect(try file.floats("a") == [1])
        #expect(try file.floats("b") == [2])
        #expect(file.tensorNames == ["a", "b"])
    }

    @Test func acceptsZeroDimensionalAndEmptyTensors() throws {
        let header = #"{"scalar":{"dtype":"F32","shape":[],"data_offsets":[0,4]},"empty":{"dtype":"F32","shape":[0,3],"data_offsets":[4,4]},"tail":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#
        let file = try Self.open(header: header, data: Self.twoFloats)
        #expect(try file.floats("scalar") == [1])
        #expect(try file.floats("empty") == [])
        #expect(try file.info("empty").shape == [0, 3])
    }

    @Test func acceptsUnknownExtraFieldsAndMetadata() throws {
        let header = #"{"__metadata__":{"model":"x","layer":"3"},"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8],"extra":{"deep":[1,2]}}}"#
        let file = try Self.open(header: header, data: Self.twoFloats)
        #expect(file.metadata == ["model": "x", "layer": "3"])
        #expect(try file.floats("a") == [1, 2])
    }

    @Test func missingTensorNamesTheFileAndTheTensors() throws {
        let file = try Self.open(header: #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#, data: Self.twoFloats)
        let error = #expect(throws: AutoInterpError.self) { try file.floats("b") }
        #expect(error?.description.contains("no tensor named 'b' (has: a)") == true)
    }

    // MARK: - Dtypes and round trips

    @Test func bf16ToFloatIsBitsShiftedLeft() throws {
        // 0x3F80 -> 1.0, 0xC040 -> -3.0, 0x3E20 -> 0.15625
        let header = #"{"a":{"dtype":"BF16","shape":[3],"data_offsets":[0,6]}}"#
        let file = try Self.open(header: header, data: [0x80, 0x3F, 0x40, 0xC0, 0x20, 0x3E])
        #expect(try file.floats("a") == [1.0, -3.0, 0.15625])
    }

    @Test func writerRoundTripsEveryDtype() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let url = dir.path("all.safetensors")
        let values: [Float] = [0, 1.5, -2.25, 1024, 0.000061035156]
        try SafeTensorsWriter.write(
            [
                .float32("f32", shape: [5], values),
                .float16("f16", shape: [5], values),
                .bfloat16("bf16", shape: [1, 5], values),
                .float64("f64", shape: [5], values.map(Double.init)),
                .int32("i32", shape: [2, 2], [1, -2, 3, Int32.max]),
                .int64("i64", shape: [2], [Int64.min, 7]),
                .uint8("u8", shape: [3], [0, 1, 255]),
            ],
            metadata: ["note": "quote \" and\nnewline", "ünï": "çødé"],
            to: url)
        let file = try SafeTensorsFile(url: url)
        #expect(try file.floats("f32") == values)
        #expect(try file.floats("f16") == values)
        #expect(try file.floats("bf16") == values)
        #expect(try file.floats("f64") == values)
        #expect(try file.int64s("i32") == [1, -2, 3, Int64(Int32.max)])
        #expect(try file.int64s("i64") == [Int64.min, 7])
        #expect(try file.int64s("u8") == [0, 1, 255])
        #expect(try file.info("bf16").shape == [1, 5])
        #expect(file.metadata["note"] == "quote \" and\nnewline")
        #expect(file.metadata["ünï"] == "çødé")
        // The data section starts 8-byte aligned.
        #expect((try file.info("f32").dataOffsets.lowerBound) == 0)
        #expect(throws: AutoInterpError.self) { try file.floats("i32") }
    }

    @Test func streamWriterRejectsShortData() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let url = dir.path("short.safetensors")
        let writer = try SafeTensorsStreamWriter(url: url, entries: [.init(name: "a", dtype: .F32, shape: [4])])
        try writer.append([Float(1), 2])
        #expect(throws: AutoInterpError.self) { try writer.finish() }
        #expect(!FileManager.default.fileExists(atPath: url.path))
    }

    @Test func partialFloatCopyReadsTheRequestedRange() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let url = dir.path("r.safetensors")
        try SafeTensorsWriter.write([.float16("a", shape: [2, 3], [1, 2, 3, 4, 5, 6])], to: url)
        let file = try SafeTensorsFile(url: url)
        var out = [Float](repeating: 0, count: 3)
        _ = try out.withUnsafeMutableBufferPointer { try file.copyFloats("a", elements: 2..<5, into: $0.baseAddress!) }
        #expect(out == [3, 4, 5])
    }
}
