import AutoInterpTestSupport
import Foundation
import Testing

@testable import AutoInterp

/// The two readers of an `encode` CSR (dense rows and sparse rows) make the one checked scan of
/// its entries: the same entries, and the same line naming the file for a bad `indptr` or index.
@Suite struct LatentCacheCSRTests {
    /// 4 tokens (2 contexts of 2), d_sae 3: token 0 holds latents 0 and 2, token 1 latent 1,
    /// token 2 none, token 3 latents 0 and 2.
    static func writeCSR(
        to url: URL, indptr: [Int64] = [0, 2, 3, 3, 5], indices: [Int32] = [0, 2, 1, 0, 2]
    ) throws {
        try SafeTensorsWriter.write(
            [.int64("indptr", shape: [indptr.count], indptr), .int32("indices", shape: [indices.count], indices),
             .float32("values", shape: [indices.count], indices.indices.map { Float($0 + 1) })],
            metadata: ["d_sae": "3"], to: url)
    }

    /// Latent 2 in row 0, latent 0 in row 1, latent 1 not wanted.
    static let slots: [Int32] = [1, -1, 0]

    @Test func denseAndSparseReadsGiveTheWantedEntries() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let url = dir.path("latents.safetensors")
        try Self.writeCSR(to: url)
        let cache = try LatentCache(url: url)
        var dense = [Float](repeating: 0, count: 2 * 4)
        try dense.withUnsafeMutableBufferPointer {
            try cache.read(contexts: 0..<2, contextLength: 2, contextCount: 2, slots: Self.slots, into: $0.baseAddress!, rowStride: 4)
        }
        #expect(dense == [2, 0, 0, 5, 1, 0, 0, 4])
        let sparse = try cache.readSparse(tokens: 0..<4, slots: Self.slots, rowCount: 2, contextLength: 2)
        #expect(sparse.rowStart == [0, 2, 4])
        #expect(sparse.tokens == [0, 3, 0, 3])
        #expect(sparse.values == [2, 5, 1, 4])
        // A later range: tokens count from its start, and entries before it are not read.
        let later = try cache.readSparse(tokens: 1..<4, slots: Self.slots, rowCount: 2, contextLength: 2)
        #expect(later.rowStart == [0, 1, 2] && later.tokens == [2, 2] && later.values == [5, 4])
        var second = [Float](repeating: 0, count: 2 * 2)
        try second.withUnsafeMutableBufferPointer {
            try cache.read(contexts: 1..<2, contextLength: 2, contextCount: 2, slots: Self.slots, into: $0.baseAddress!, rowStride: 2)
        }
        #expect(second == [0, 5, 0, 4])
    }

    @Test(arguments: [
        ([0, 2, 1, 3, 5] as [Int64], [0, 2, 1, 0, 2] as [Int32], "'indptr' is not non-decreasing within 0...5 at token 1"),
        ([0, 2, 3, 3, 5], [0, 2, 1, 3, 2], "index 3 at token 3 is outside d_sae 3"),
        ([0, 2, 3, 3, 5], [0, -1, 1, 0, 2], "index -1 at token 0 is outside d_sae 3"),
    ])
    func aBadEntryIsTheSameLineForBothReaders(_ indptr: [Int64], _ indices: [Int32], _ message: String) throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let url = dir.path("bad.safetensors")
        try Self.writeCSR(to: url, indptr: indptr, indices: indices)
        let cache = try LatentCache(url: url)
        var dense = [Float](repeating: 0, count: 2 * 4)
        let denseError = #expect(throws: AutoInterpError.self) {
            try dense.withUnsafeMutableBufferPointer {
                try cache.read(contexts: 0..<2, contextLength: 2, contextCount: 2, slots: Self.slots, into: $0.baseAddress!, rowStride: 4)
            }
        }
        let sparseError = #expect(throws: AutoInterpError.self) {
            try cache.readSparse(tokens: 0..<4, slots: Self.slots, rowCount: 2, contextLength: 2)
        }
        #expect(denseError?.description == sparseError?.description)
        #expect(denseError?.description.contains(url.path) == true && denseError?.description.contains(message) == true,
                "\(denseError?.description ?? "")")
    }
}
