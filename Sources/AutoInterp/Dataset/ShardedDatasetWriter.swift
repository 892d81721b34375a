package import Foundation

/// Writes an activation dataset as one file, or as shards of at most `contextsPerShard` contexts
/// (`<folder>/shard-00000.safetensors`, `shard-00001…`, each a complete dataset with the same
/// metadata, `vocab.json` beside them) that `--activations <folder>` reads as one dataset.
///
/// Takes the whole dataset's `tokens` and `mask` up front, like ``DatasetWriter``, and the
/// activations in batches of whole contexts; a batch may straddle shards.
package final class ShardedDatasetWriter {
    /// The file, or the folder of shards.
    package let url: URL
    /// The shard files written or being written, in order.
    package private(set) var files: [URL] = []

    private let contextLength: Int
    private let width: Int
    private let tokens: [Int32]
    private let mask: [UInt8]?
    private let dtype: SafeTensorsDType
    private let vocabulary: [String]
    private let metadata: [String: String]
    private let contextsPerShard: Int
    private let contextCount: Int
    private var current: DatasetWriter?
    /// Contexts handed to `current`, and contexts of the shards before it.
    private var inCurrent = 0
    private var before = 0

    /// The file name of shard `index`: `shard-00000.safetensors`.
    package static func shardName(_ index: Int) -> String {
        "shard-" + String(repeating: "0", count: max(0, 5 - String(index).count)) + String(index) + ".safetensors"
    }

    /// Prepares the writer; no file is created before the first activations.
    ///
    /// - Parameters:
    ///   - url: the output file when `contextsPerShard` is nil, else the folder of shards (created).
    ///   - contextsPerShard: contexts per shard (the last may hold fewer); nil for one file.
    /// - Throws: `AutoInterpError` for a shard size below 1 or a folder that cannot be made.
    package init(
        url: URL, contextLength: Int, width: Int, tokens: [Int32], mask: [UInt8]?, dtype: SafeTensorsDType, vocabulary: [String],
        metadata: [String: String], contextsPerShard: Int?
    ) throws {
        precondition(contextLength > 0 && tokens.count % contextLength == 0)
        self.url = url
        self.contextLength = contextLength
        self.width = width
        self.tokens = tokens
        self.mask = mask
        self.dtype = dtype
        self.vocabulary = vocabulary
        self.metadata = metadata
        contextCount = tokens.count / contextLength
        if let contextsPerShard {
            guard contextsPerShard >= 1 else {
                throw AutoInterpError.invalidOption(.shardTokens, "a shard must hold at least one context of \(contextLength) tokens")
            }
            self.contextsPerShard = contextsPerShard
            do {
                try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
            } catch {
                throw AutoInterpError.io(url.path, "cannot create the shard folder: \(error.localizedDescription)")
            }
        } else {
            self.contextsPerShard = max(contextCount, 1)
        }
        sharded = contextsPerShard != nil
    }

    private let sharded: Bool

    /// Appends the activations of whole contexts, `[contexts, context_len, width]` row-major F32.
    package func append(_ activations: [Float]) throws {
        let stride = contextLength * width
        precondition(stride > 0 && activations.count % stride == 0, "append whole contexts")
        var offset = 0
        let contexts = activations.count / stride
        while offset < contexts {
            let writer = try shardWriter()
            let take = min(contexts - offset, shardSize(before) - inCurrent)
            try writer.append(Array(activations[(offset * stride)..<((offset + take) * stride)]))
            inCurrent += take
            offset += take
            if inCurrent == shardSize(before) { try closeCurrent() }
        }
    }

    /// Checks every context was written and moves the last file into place.
    package func finish() throws {
        if current != nil { try closeCurrent() }
        guard before == contextCount else {
            throw AutoInterpError.invalidInput("dataset writer for \(url.path): \(before) of \(contextCount) contexts written")
        }
    }

    private func shardSize(_ start: Int) -> Int { min(contextsPerShard, contextCount - start) }

    private func shardWriter() throws -> DatasetWriter {
        if let current { return current }
        let count = shardSize(before)
        let rows = (before * contextLength)..<((before + count) * contextLength)
        let file = sharded ? url.appendingPathComponent(Self.shardName(files.count)) : url
        let writer = try DatasetWriter(
            url: file, contextLength: contextLength, width: width, tokens: Array(tokens[rows]), mask: mask.map { Array($0[rows]) },
            dtype: dtype, vocabulary: vocabulary, metadata: metadata)
        files.append(file)
        current = writer
        inCurrent = 0
        return writer
    }

    private func closeCurrent() throws {
        try current?.finish()
        before += inCurrent
        current = nil
        inCurrent = 0
    }
}
