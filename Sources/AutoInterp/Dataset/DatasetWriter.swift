public import Foundation

/// Writes activation datasets in the DESIGN.md contract, streaming context batches.
///
/// `tokens` and `mask` are small and kept in memory; activations are appended batch by batch, so
/// a dataset larger than memory can be written.
public final class DatasetWriter {
    public let url: URL
    private let writer: SafeTensorsStreamWriter
    private let contextLength: Int
    private let width: Int
    private let dtype: SafeTensorsDType
    private let contextCount: Int
    private var written = 0

    /// Creates the file and writes `tokens` (and `mask`) up front; the activations follow via `append`.
    ///
    /// - Parameters:
    ///   - tokens: `[n_contexts × context_len]` ids, row-major.
    ///   - mask: same shape, 1 = real token; nil writes no mask tensor.
    ///   - dtype: F32, F16 or BF16 for the activations.
    ///   - vocabulary: written as `vocab.json` beside `url`.
    public init(
        url: URL, contextLength: Int, width: Int, tokens: [Int32], mask: [UInt8]?, dtype: SafeTensorsDType = .F32,
        vocabulary: [String], metadata: [String: String] = [:]
    ) throws {
        precondition(tokens.count % contextLength == 0)
        guard [.F32, .F16, .BF16].contains(dtype) else {
            throw AutoInterpError.invalidInput("activations must be written as F32, F16 or BF16, not \(dtype.rawValue)")
        }
        self.url = url
        self.contextLength = contextLength
        self.width = width
        self.dtype = dtype
        contextCount = tokens.count / contextLength
        var entries: [SafeTensorsStreamWriter.Entry] = [.init(name: "tokens", dtype: .I32, shape: [contextCount, contextLength])]
        if mask != nil { entries.append(.init(name: "mask", dtype: .U8, shape: [contextCount, contextLength])) }
        entries.append(.init(name: "activations", dtype: dtype, shape: [contextCount, contextLength, width]))
        writer = try SafeTensorsStreamWriter(url: url, entries: entries, metadata: metadata)
        try writer.append(tokens)
        if let mask { try writer.append(mask) }
        let vocabData = try JSONSerialization.data(withJSONObject: vocabulary, options: [.withoutEscapingSlashes])
        do {
            try vocabData.write(to: url.deletingLastPathComponent().appendingPathComponent("vocab.json"))
        } catch {
            throw AutoInterpError.io(url.deletingLastPathComponent().path, "cannot write vocab.json: \(error.localizedDescription)")
        }
    }

    /// Appends the activations of whole contexts, `[contexts, context_len, width]` row-major F32.
    public func append(_ activations: [Float]) throws {
        precondition(activations.count % (contextLength * width) == 0, "append whole contexts")
        written += activations.count / (contextLength * width)
        switch dtype {
        case .F16: try writer.append(activations.map { Float16($0).bitPattern })
        case .BF16: try writer.append(activations.map { UInt16(truncatingIfNeeded: ($0.bitPattern &+ 0x7FFF &+ (($0.bitPattern >> 16) & 1)) >> 16) })
        default: try writer.append(activations)
        }
    }

    /// Checks every context was written and moves the file into place.
    public func finish() throws {
        guard written == contextCount else {
            throw AutoInterpError.invalidInput("dataset writer for \(url.path): \(written) of \(contextCount) contexts written")
        }
        try writer.finish()
    }
}
