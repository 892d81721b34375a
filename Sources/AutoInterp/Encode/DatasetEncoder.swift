public import Foundation

/// Encodes every token of a dataset with an SAE and writes the DESIGN.md `encode` output.
///
/// CSR output (`indptr` I64 `[n_tokens + 1]`, `indices` I32, `values` F32, `__metadata__`
/// `d_sae`, `n_tokens`) is streamed: non-zeros go to scratch files beside the output while the
/// row pointers stay in memory, then the three are joined into the final file. Memory stays at
/// one token batch plus the SAE, whatever the dataset size.
public struct DatasetEncoder {
    /// What an encode run did.
    public struct Summary: Sendable {
        public var tokens: Int
        public var nonZeros: Int
        public var seconds: Double
        public var tokensPerSecond: Double { seconds > 0 ? Double(tokens) / seconds : 0 }
        public var meanActive: Double { tokens > 0 ? Double(nonZeros) / Double(tokens) : 0 }
    }

    public var tokensPerBatch: Int

    public init(tokensPerBatch: Int = 4096) {
        self.tokensPerBatch = tokensPerBatch
    }

    /// Encodes `dataset` with `sae` into `output`.
    ///
    /// - Parameters:
    ///   - dense: write `features` F32 `[n_tokens, d_sae]` instead of CSR.
    ///   - progress: called with (tokens done, total tokens).
    /// - Throws: `AutoInterpError.shapeMismatch` when the SAE's `d_in` is not the dataset's width.
    public func encode(
        dataset: ActivationDataset, sae: SparseAutoencoder, output: URL, dense: Bool = false,
        progress: ((Int, Int) -> Void)? = nil
    ) throws -> Summary {
        try sae.checkCompatible(with: dataset)
        let started = Date()
        guard tokensPerBatch >= 1 else {
            throw AutoInterpError.invalidInput("--batch-tokens must be at least 1, got \(tokensPerBatch)")
        }
        // A batch never holds more than the whole dataset.
        let contextsPerBatch = min(dataset.contextCount, max(1, tokensPerBatch / dataset.contextLength))
        let batchTokens = contextsPerBatch * dataset.contextLength
        let batchBytes = 4 * Double(batchTokens) * Double(dataset.width + 2 * sae.dSAE)
        guard MemorySize.fits(batchBytes) else {
            throw AutoInterpError.invalidInput(
                "--batch-tokens \(tokensPerBatch) needs about \(MemorySize.text(batchBytes)) per batch for d_in \(dataset.width) and d_sae \(sae.dSAE), more than this machine's memory allows (\(MemorySize.text(Double(ProcessInfo.processInfo.physicalMemory)))); lower --batch-tokens"
            )
        }
        let encoder = try SAEEncoder(sae: sae, batchSize: batchTokens)
        let totalTokens = dataset.tokenCount
        var input = [Float](repeating: 0, count: batchTokens * dataset.width)
        let metadata = ["d_sae": String(sae.dSAE), "n_tokens": String(totalTokens)]

        if dense {
            let writer = try SafeTensorsStreamWriter(
                url: output, entries: [.init(name: "features", dtype: .F32, shape: [totalTokens, sae.dSAE])], metadata: metadata)
            var out = [Float](repeating: 0, count: batchTokens * sae.dSAE)
            var nonZeros = 0
            for start in stride(from: 0, to: dataset.contextCount, by: contextsPerBatch) {
                let contexts = start..<min(start + contextsPerBatch, dataset.contextCount)
                let tokens = contexts.count * dataset.contextLength
                try input.withUnsafeMutableBufferPointer { try dataset.readActivations(contexts: contexts, into: $0.baseAddress!) }
                dataset.releasePages(contexts: contexts)
                input.withUnsafeBufferPointer { x in
                    out.withUnsafeMutableBufferPointer { encoder.encodeDense(x.baseAddress!, tokens: tokens, into: $0.baseAddress!) }
                }
                nonZeros += out.prefix(tokens * sae.dSAE).reduce(0) { $0 + ($1 != 0 ? 1 : 0) }
                try out.withUnsafeBytes { try writer.append(UnsafeRawBufferPointer(rebasing: $0.prefix(tokens * sae.dSAE * 4))) }
                progress?(contexts.upperBound * dataset.contextLength, totalTokens)
            }
            try writer.finish()
            return Summary(tokens: totalTokens, nonZeros: nonZeros, seconds: Date().timeIntervalSince(started))
        }

        let scratch = ScratchFiles(beside: output)
        defer { scratch.remove() }
        let indicesFile = try scratch.create("indices")
        let valuesFile = try scratch.create("values")
        var indptr: [Int64] = [0]
        indptr.reserveCapacity(totalTokens + 1)
        var rows = SparseRows()
        for start in stride(from: 0, to: dataset.contextCount, by: contextsPerBatch) {
            let contexts = start..<min(start + contextsPerBatch, dataset.contextCount)
            let tokens = contexts.count * dataset.contextLength
            try input.withUnsafeMutableBufferPointer { try dataset.readActivations(contexts: contexts, into: $0.baseAddress!) }
            dataset.releasePages(contexts: contexts)
            rows.removeAll()
            input.withUnsafeBufferPointer { encoder.encodeSparse($0.baseAddress!, tokens: tokens, appendingTo: &rows) }
            let base = indptr.last!
            indptr.append(contentsOf: rows.indptr.dropFirst().map { $0 + base })
            try indicesFile.write(rows.indices)
            try valuesFile.write(rows.values)
            progress?(contexts.upperBound * dataset.contextLength, totalTokens)
        }
        let nonZeros = Int(indptr.last!)
        try indicesFile.close()
        try valuesFile.close()
        let writer = try SafeTensorsStreamWriter(
            url: output,
            entries: [
                .init(name: "indptr", dtype: .I64, shape: [totalTokens + 1]),
                .init(name: "indices", dtype: .I32, shape: [nonZeros]),
                .init(name: "values", dtype: .F32, shape: [nonZeros]),
            ],
            metadata: metadata)
        try writer.append(indptr)
        try indicesFile.copy(into: writer)
        try valuesFile.copy(into: writer)
        try writer.finish()
        return Summary(tokens: totalTokens, nonZeros: nonZeros, seconds: Date().timeIntervalSince(started))
    }
}

// MARK: - Scratch files

/// Temporary files beside an output (named by ``WriterTemporaryFiles``), removed when done.
final class ScratchFiles {
    private let base: URL
    private var made: [URL] = []

    /// Also removes the scratch and partial files that dead processes left in the output folder.
    init(beside output: URL) {
        base = output
        WriterTemporaryFiles.removeStale(in: output.deletingLastPathComponent())
    }

    func create(_ name: String) throws -> ScratchFile {
        let url = WriterTemporaryFiles.url(beside: base, role: "\(name).scratch")
        made.append(url)
        return try ScratchFile(url: url)
    }

    func remove() {
        for url in made { try? FileManager.default.removeItem(at: url) }
    }
}

/// An append-only scratch file that can be copied into a safetensors stream.
final class ScratchFile {
    let url: URL
    private let handle: FileHandle

    init(url: URL) throws {
        self.url = url
        try? FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        guard FileManager.default.createFile(atPath: url.path, contents: nil), let handle = FileHandle(forWritingAtPath: url.path) else {
            throw AutoInterpError.io(url.deletingLastPathComponent().path, "cannot create a scratch file (is the output folder writable?)")
        }
        self.handle = handle
    }

    func write<T: BitwiseCopyable>(_ values: [T]) throws {
        do {
            try values.withUnsafeBytes { try handle.write(contentsOf: Data(bytesNoCopy: UnsafeMutableRawPointer(mutating: $0.baseAddress ?? UnsafeRawPointer(bitPattern: 8)!), count: $0.count, deallocator: .none)) }
        } catch {
            throw AutoInterpError.io(url.path, "write failed: \(error.localizedDescription) (disk full?)")
        }
    }

    func close() throws { try handle.close() }

    /// Streams the file into `writer` through one reused 16 MiB buffer (no per-chunk allocations).
    func copy(into writer: SafeTensorsStreamWriter) throws {
        let fd = open(url.path, O_RDONLY)
        guard fd >= 0 else { throw AutoInterpError.io(url.path, "cannot reopen scratch file: \(String(cString: strerror(errno)))") }
        defer { Glibc.close(fd) }
        let size = 16 << 20
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: size, alignment: 64)
        defer { buffer.deallocate() }
        while true {
            let count = Glibc.read(fd, buffer, size)
            guard count >= 0 else { throw AutoInterpError.io(url.path, "read failed: \(String(cString: strerror(errno)))") }
            if count == 0 { return }
            try writer.append(UnsafeRawBufferPointer(start: buffer, count: count))
        }
    }
}
