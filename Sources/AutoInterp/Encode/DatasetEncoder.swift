import AutoInterpLLM
public import Foundation
public import Logging

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
    /// Logs where the time went (`encode phases: …`) at info level.
    public var logger: Logger

    public init(tokensPerBatch: Int = 4096, logger: Logger? = nil) {
        self.tokensPerBatch = tokensPerBatch
        self.logger = logger ?? .silent
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
        if let loaded = sae.featureIndices {
            throw AutoInterpError.invalidInput(
                "encode writes every feature, but this SAE was read for \(loaded.count) of its \(sae.dSAE) features; read it with SAEReadScope.encoder")
        }
        let started = Date()
        guard tokensPerBatch >= 1 else {
            throw AutoInterpError.invalidInput("\(Setting.batchTokens) must be at least 1, got \(tokensPerBatch)")
        }
        // A batch never holds more than the whole dataset.
        let contextsPerBatch = min(dataset.contextCount, max(1, tokensPerBatch / dataset.contextLength))
        let batchTokens = contextsPerBatch * dataset.contextLength
        let batchBytes = 4 * Double(batchTokens) * Double(dataset.width + 2 * sae.dSAE)
        guard MemorySize.fits(batchBytes) else {
            throw AutoInterpError.invalidInput(
                "\(Setting.batchTokens) \(tokensPerBatch) needs about \(MemorySize.text(batchBytes)) per batch for d_in \(dataset.width) and d_sae \(sae.dSAE), more than this machine's memory allows (\(MemorySize.text(Double(ProcessInfo.processInfo.physicalMemory)))); lower \(Setting.batchTokens)"
            )
        }
        let encoder = try SAEEncoder(sae: sae, batchSize: batchTokens)
        let totalTokens = dataset.tokenCount
        let metadata = ["d_sae": String(sae.dSAE), "n_tokens": String(totalTokens)]

        if dense {
            let writer = try SafeTensorsStreamWriter(
                url: output, entries: [.init(name: "features", dtype: .F32, shape: [totalTokens, sae.dSAE])], metadata: metadata)
            var input = [Float](repeating: 0, count: batchTokens * dataset.width)
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
        var times = PhaseTimes()
        let batches = stride(from: 0, to: dataset.contextCount, by: contextsPerBatch).map {
            $0..<min($0 + contextsPerBatch, dataset.contextCount)
        }
        // The next batch is read on another thread while this one is encoded.
        let reader = BatchReader(dataset: dataset, batchTokens: batchTokens)
        try times.measure("read") { try reader.read(batches[0], into: 0) }
        for (i, contexts) in batches.enumerated() {
            if i + 1 < batches.count { reader.start(batches[i + 1], into: (i + 1) % 2) }
            let tokens = contexts.count * dataset.contextLength
            rows.removeAll()
            encoder.encodeSparse(reader.buffer(i % 2), tokens: tokens, appendingTo: &rows)
            try times.measure("write") {
                let base = indptr.last!
                indptr.append(contentsOf: rows.indptr.dropFirst().map { $0 + base })
                try indicesFile.write(rows.indices)
                try valuesFile.write(rows.values)
            }
            progress?(contexts.upperBound * dataset.contextLength, totalTokens)
            if i + 1 < batches.count { try times.measure("wait for read") { try reader.wait() } }
        }
        let nonZeros = Int(indptr.last!)
        try times.measure("join") {
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
        }
        var all = encoder.times
        all.add(reader.times)
        all.add(times)
        logger.info("encode phases: \(all.summary)")
        return Summary(tokens: totalTokens, nonZeros: nonZeros, seconds: Date().timeIntervalSince(started))
    }
}

/// Reads token batches of a dataset into two reused buffers, the next one on a background
/// thread while the caller encodes the current one.
final class BatchReader: @unchecked Sendable {
    private let dataset: ActivationDataset
    private let buffers: [UnsafeMutablePointer<Float>]
    private let capacity: Int
    private let queue = DispatchQueue(label: "autointerp.encode.read")
    private let group = DispatchGroup()
    private var failure: (any Error)?
    /// Time spent reading on the background thread (`read ahead`).
    private(set) var times = PhaseTimes()

    init(dataset: ActivationDataset, batchTokens: Int) {
        self.dataset = dataset
        capacity = batchTokens * dataset.width
        buffers = (0..<2).map { _ in UnsafeMutablePointer<Float>.allocate(capacity: batchTokens * dataset.width) }
    }

    deinit {
        group.wait()
        for buffer in buffers { buffer.deallocate() }
    }

    /// Buffer `index` (0 or 1) as last filled.
    func buffer(_ index: Int) -> UnsafePointer<Float> { UnsafePointer(buffers[index]) }

    /// Reads `contexts` into buffer `index` now.
    func read(_ contexts: Range<Int>, into index: Int) throws {
        precondition(contexts.count * dataset.contextLength * dataset.width <= capacity)
        try dataset.readActivations(contexts: contexts, into: buffers[index])
        dataset.releasePages(contexts: contexts)
    }

    /// Starts reading `contexts` into buffer `index` on the background thread; `wait()` for it.
    func start(_ contexts: Range<Int>, into index: Int) {
        group.enter()
        queue.async { [self] in
            defer { group.leave() }
            do {
                try times.measure("read ahead") { try read(contexts, into: index) }
            } catch {
                failure = error
            }
        }
    }

    /// Waits for the read `start` began and rethrows its error.
    func wait() throws {
        group.wait()
        if let failure {
            self.failure = nil
            throw failure
        }
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
