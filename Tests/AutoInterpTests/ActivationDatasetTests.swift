import AutoInterpTestSupport
import Foundation
import Testing

@testable import AutoInterp

struct ActivationDatasetTests {
    @Test(arguments: [SafeTensorsDType.F32, .F16, .BF16])
    func readsTheContractInEveryDtype(_ dtype: SafeTensorsDType) throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let url = dir.path("acts.safetensors")
        try SyntheticDataset.write(to: url, contexts: 6, length: 8, width: 9, seed: 1, dtype: dtype)
        let data = SyntheticDataset.generate(contexts: 6, length: 8, width: 9, seed: 1)
        let dataset = try ActivationDataset(url: url)
        #expect(dataset.contextCount == 6 && dataset.contextLength == 8 && dataset.width == 9)
        #expect(dataset.activationDType == dtype)
        #expect(dataset.specialTokenIDs == [0, 1, 2])
        #expect(Array(dataset.tokens(context: 2)) == Array(data.tokens[16..<24]))
        var out = [Float](repeating: 0, count: 2 * 8 * 9)
        try out.withUnsafeMutableBufferPointer { try dataset.readActivations(contexts: 1..<3, into: $0.baseAddress!) }
        let tolerance: Float = dtype == .F32 ? 0 : (dtype == .F16 ? 2e-3 : 2e-2)
        for (a, b) in zip(out, data.activations[(8 * 9)..<(3 * 8 * 9)]) { #expect(abs(a - b) <= tolerance * max(1, abs(b))) }
        // Padding is not selectable, special tokens are not unless asked.
        let firstPad = try #require(data.mask.firstIndex(of: 0))
        #expect(!dataset.isSelectable(token: firstPad, includeSpecial: true))
        #expect(!dataset.isSelectable(token: 0, includeSpecial: false))  // [CLS]
        #expect(dataset.isSelectable(token: 0, includeSpecial: true))
    }

    static func writeRaw(_ dir: TemporaryDirectory, tensors: [SafeTensorsWriter.Tensor], vocab: [String] = ["a", "b", "c"]) throws -> URL {
        let url = dir.path("d.safetensors")
        try SafeTensorsWriter.write(tensors, to: url)
        try JSONSerialization.data(withJSONObject: vocab).write(to: dir.path("vocab.json"))
        return url
    }

    @Test func vocabularyShorterThanTheLargestTokenIsRejected() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let url = try Self.writeRaw(
            dir, tensors: [.int32("tokens", shape: [1, 2], [0, 7]), .float32("activations", shape: [1, 2, 1], [0, 1])])
        let error = #expect(throws: AutoInterpError.self) { try ActivationDataset(url: url) }
        #expect(error?.description.contains("vocab.json: has 3 entries but") == true)
        #expect(error?.description.contains("token id 7") == true)
    }

    @Test func nanActivationIsReportedWithItsPlace() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let url = try Self.writeRaw(
            dir, tensors: [.int32("tokens", shape: [2, 2], [0, 1, 2, 0]), .float32("activations", shape: [2, 2, 2], [0, 1, 2, 3, 4, 5, .nan, 7])])
        let dataset = try ActivationDataset(url: url)
        var out = [Float](repeating: 0, count: 8)
        let error = #expect(throws: AutoInterpError.self) {
            try out.withUnsafeMutableBufferPointer { try dataset.readActivations(contexts: 0..<2, into: $0.baseAddress!) }
        }
        #expect(error?.description.contains("context 1, position 1, neuron 0") == true)
    }

    @Test func mismatchedShapesAndMissingTensorsAreRejected() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        var url = try Self.writeRaw(
            dir, tensors: [.int32("tokens", shape: [2, 2], [0, 1, 2, 0]), .float32("activations", shape: [2, 3, 1], [0, 1, 2, 3, 4, 5])])
        #expect((#expect(throws: AutoInterpError.self) { try ActivationDataset(url: url) })?.description.contains("does not match 'tokens'") == true)
        url = try Self.writeRaw(dir, tensors: [.float32("activations", shape: [1, 1, 1], [0])])
        #expect((#expect(throws: AutoInterpError.self) { try ActivationDataset(url: url) })?.description.contains("no tensor named 'tokens'") == true)
        url = try Self.writeRaw(
            dir, tensors: [.float32("tokens", shape: [1, 1], [0]), .float32("activations", shape: [1, 1, 1], [0])])
        #expect((#expect(throws: AutoInterpError.self) { try ActivationDataset(url: url) })?.description.contains("'tokens' must be I32 or I64") == true)
        url = try Self.writeRaw(
            dir, tensors: [.int32("tokens", shape: [1, 2], [0, 1]), .uint8("mask", shape: [2, 1], [1, 1]), .float32("activations", shape: [1, 2, 1], [0, 0])])
        #expect((#expect(throws: AutoInterpError.self) { try ActivationDataset(url: url) })?.description.contains("'mask' must be U8") == true)
    }
}
