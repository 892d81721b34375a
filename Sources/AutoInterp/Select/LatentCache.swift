import AutoInterpLLM
public import Foundation

/// Sparse feature activations read from disk instead of encoding (`select --latents PATH`).
///
/// Two layouts:
/// - our `encode` CSR output: one file with `indptr` (I64 `[n_tokens + 1]`), `indices` (I32) and
///   `values` (F32), `__metadata__` `d_sae`; tokens in row-major `[n_contexts, context_len]` order
///   of the dataset given with `--activations` (which may hold only `tokens` and `mask`);
/// - delphi's latent cache (`LatentCache.save_splits`): a folder of `{start}_{end}.safetensors`
///   splits (latents `start...end`), each with `locations` (`[n, 3]` = context, position,
///   latent − start; U16/U32/I32/I64), `activations` (F16/F32/BF16 `[n]`) and `tokens`
///   (`[n_contexts, context_len]`, the same in every split); a single split file also works.
///   The tokens come from the first split unless `--activations` names the dataset; the
///   vocabulary is `vocab.json` beside the splits or `--vocab`. Locations must be in delphi's
///   order (sorted by context), which is checked as they are read.
///
/// The file is memory-mapped; a batch reads only its contexts' entries.
public final class LatentCache: @unchecked Sendable {
    /// Which writer's layout the cache has.
    public enum Layout: String, Sendable {
        case csr, delphi
    }

    public let url: URL
    public let layout: Layout
    /// Features in the cache (`d_sae`; for delphi, the last split's end + 1).
    public let featureCount: Int
    /// For a selection scratch file (`__metadata__` `feature_ids`): the SAE feature of each
    /// column; nil when column = feature.
    let featureIDs: [Int]?
    private let columnOfFeature: [Int: Int]

    private let csr: CSR?
    private let splits: [Split]

    /// Opens and checks a cache's headers.
    ///
    /// - Throws: `AutoInterpError.invalidFile` naming the file and what is wrong.
    public init(url: URL) throws {
        self.url = url
        if FileManager.default.isDirectory(url.path) {
            let names = (try? FileManager.default.contentsOfDirectory(atPath: url.path)) ?? []
            let ranged = names.compactMap { name in Self.latentRange(name).map { (name, $0) } }
            guard !ranged.isEmpty else {
                throw AutoInterpError.invalidFile(
                    url.path, "holds no delphi latent split ({start}_{end}.safetensors); pass the module's folder of a delphi cache or an encode CSR file")
            }
            splits = try ranged.sorted { $0.1.lowerBound < $1.1.lowerBound }.map { try Split(url: url.appendingPathComponent($0.0), latents: $0.1) }
            layout = .delphi
            csr = nil
        } else {
            let file = try SafeTensorsFile(url: url)
            if file.contains("indptr") {
                csr = try CSR(file: file)
                splits = []
                layout = .csr
            } else if file.contains("locations") {
                // One split, or delphi's unsplit `save` (latents from 0).
                let range = Self.latentRange(url.lastPathComponent)
                splits = [try Split(url: url, file: file, latents: range)]
                layout = .delphi
                csr = nil
            } else {
                throw AutoInterpError.invalidFile(
                    url.path, "is neither an encode CSR file ('indptr', 'indices', 'values') nor a delphi latent split ('locations', 'activations')")
            }
        }
        if let csr {
            featureCount = csr.featureCount
            if let text = csr.file.metadata["feature_ids"] {
                guard let ids = try? JSONDecoder().decode([Int].self, from: Data(text.utf8)), ids.count == featureCount else {
                    throw AutoInterpError.invalidFile(url.path, "__metadata__ feature_ids must be a JSON array of d_sae feature indices")
                }
                featureIDs = ids
            } else {
                featureIDs = nil
            }
        } else {
            featureIDs = nil
            for (a, b) in zip(splits, splits.dropFirst()) where a.latents.upperBound > b.latents.lowerBound {
                throw AutoInterpError.invalidFile(b.file.url.path, "latents \(b.latents) overlap those of \(a.file.url.lastPathComponent) (\(a.latents))")
            }
            featureCount = splits.map(\.latents.upperBound).max() ?? 0
            let shape = splits[0].tokens?.shape
            for split in splits.dropFirst() where split.tokens?.shape != shape {
                throw AutoInterpError.invalidFile(
                    split.file.url.path, "'tokens' \(split.tokens?.shape ?? []) differs from \(splits[0].file.url.lastPathComponent)'s \(shape ?? [])")
            }
        }
        guard featureCount > 0 else { throw AutoInterpError.invalidFile(url.path, "holds no latents (d_sae is 0)") }
        columnOfFeature = featureIDs.map { Dictionary($0.enumerated().map { ($1, $0) }, uniquingKeysWith: { first, _ in first }) } ?? [:]
    }

    /// The column holding SAE feature `feature`, or nil when the cache does not hold it.
    func column(of feature: Int) -> Int? {
        if featureIDs != nil { return columnOfFeature[feature] }
        return feature >= 0 && feature < featureCount ? feature : nil
    }

    /// Tokens the cache covers (CSR only; nil for delphi, whose size follows its tokens).
    var tokenCount: Int? { csr?.tokenCount }

    /// The tokens (and vocabulary) stored with a delphi cache, as a dataset without dense activations.
    ///
    /// - Throws: for a CSR file (it stores no tokens: pass `--activations`), or a split without `tokens`.
    public func tokenDataset(vocabURL: URL?) throws -> ActivationDataset {
        guard layout == .delphi, let first = splits.first, first.tokens != nil else {
            throw AutoInterpError.invalidInput(
                "\(url.path) stores no tokens: pass the dataset (or a file of its 'tokens' and 'mask') with \(Setting.activations)")
        }
        return try ActivationDataset(url: first.file.url, vocabURL: vocabURL ?? Self.defaultVocabulary(url), dense: .ignored)
    }

    /// `vocab.json` in the cache folder (or beside the file).
    static func defaultVocabulary(_ url: URL) -> URL {
        (FileManager.default.isDirectory(url.path) ? url : url.deletingLastPathComponent()).appendingPathComponent("vocab.json")
    }

    /// Checks that the cache covers `dataset`'s tokens.
    public func checkCompatible(with dataset: ActivationDataset) throws {
        if let csr {
            guard csr.tokenCount == dataset.tokenCount else {
                throw AutoInterpError.shapeMismatch(
                    "\(url.path) holds \(csr.tokenCount) tokens but \(dataset.url.path) has \(dataset.tokenCount) (\(dataset.contextCount) × \(dataset.contextLength)): encode this dataset")
            }
            return
        }
        guard let first = splits.first, let tokens = first.tokens else { return }
        let path = first.file.url.path
        guard tokens.shape == [dataset.contextCount, dataset.contextLength] else {
            throw AutoInterpError.shapeMismatch("\(path) has 'tokens' \(tokens.shape) but \(dataset.url.path) has [\(dataset.contextCount), \(dataset.contextLength)]: is it the cache of this dataset?")
        }
        let ids = try first.file.int64s("tokens")
        for context in 0..<dataset.contextCount {
            let mine = dataset.tokens(context: context)
            let stored = ids[(context * dataset.contextLength)..<((context + 1) * dataset.contextLength)]
            guard zip(mine, stored).allSatisfy({ Int64($0) == $1 }) else {
                throw AutoInterpError.shapeMismatch("\(path): tokens of context \(context) differ from \(dataset.url.path)'s: is it the cache of this dataset?")
            }
        }
    }

    /// Writes the activations of the wanted features over `contexts` into their rows:
    /// `output[slots[latent] * rowStride + token]` for each stored non-zero (rows must be zeroed).
    ///
    /// - Parameter slots: for each latent 0..<featureCount, its row, or -1 when not wanted.
    func read(
        contexts: Range<Int>, contextLength: Int, contextCount: Int, slots: [Int32], into output: UnsafeMutablePointer<Float>, rowStride: Int
    ) throws {
        if let csr {
            try csr.read(tokens: (contexts.lowerBound * contextLength)..<(contexts.upperBound * contextLength), slots: slots, into: output, rowStride: rowStride)
        }
        for split in splits {
            try split.read(contexts: contexts, contextLength: contextLength, contextCount: contextCount, slots: slots, into: output, rowStride: rowStride)
        }
    }

    /// The wanted latents' non-zeros over `tokens` (CSR only), by row (`slots[latent]`), each row
    /// in token order: what ``read(contexts:contextLength:contextCount:slots:into:rowStride:)``
    /// writes, without the dense rows. The same checks of the file as there.
    func readSparse(tokens: Range<Int>, slots: [Int32], rowCount: Int, contextLength: Int) throws -> SparseBatch {
        guard let csr else { throw AutoInterpError.invalidInput("\(url.path) is not a CSR file: it is read densely") }
        return try csr.readSparse(tokens: tokens, slots: slots, rowCount: rowCount, contextLength: contextLength)
    }

    /// The latent range of a delphi split's file name (`{start}_{end}.safetensors`, end inclusive).
    static func latentRange(_ name: String) -> Range<Int>? {
        guard name.hasSuffix(".safetensors") else { return nil }
        let parts = name.dropLast(".safetensors".count).split(separator: "_", omittingEmptySubsequences: false)
        guard parts.count == 2, let start = Int(parts[0]), let end = Int(parts[1]), start >= 0, end >= start, end < Int(Int32.max) else { return nil }
        return start..<(end + 1)
    }
}

// MARK: - Columns

/// An integer tensor read element by element from the mapping (any of the stored widths).
struct IntColumn {
    let base: UnsafeRawPointer
    let dtype: SafeTensorsDType

    init(_ file: SafeTensorsFile, _ info: SafeTensorInfo, allowed: [SafeTensorsDType]) throws {
        guard allowed.contains(info.dtype) else {
            throw AutoInterpError.invalidFile(file.url.path, "'\(info.name)' is \(info.dtype.rawValue); expected \(allowed.map(\.rawValue).joined(separator: ", "))")
        }
        base = file.rawBytes(info).baseAddress ?? UnsafeRawPointer(bitPattern: 8)!
        dtype = info.dtype
    }

    @inline(__always)
    subscript(_ i: Int) -> Int {
        switch dtype {
        case .U16: Int(base.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self))
        case .U32: Int(base.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self))
        case .I32: Int(base.loadUnaligned(fromByteOffset: 4 * i, as: Int32.self))
        default: Int(truncatingIfNeeded: base.loadUnaligned(fromByteOffset: 8 * i, as: Int64.self))
        }
    }
}

/// A float tensor read element by element (F32, F16 or BF16).
struct FloatColumn {
    let base: UnsafeRawPointer
    let dtype: SafeTensorsDType

    init(_ file: SafeTensorsFile, _ info: SafeTensorInfo) throws {
        guard [.F32, .F16, .BF16].contains(info.dtype) else {
            throw AutoInterpError.invalidFile(file.url.path, "'\(info.name)' is \(info.dtype.rawValue); expected F32, F16 or BF16")
        }
        base = file.rawBytes(info).baseAddress ?? UnsafeRawPointer(bitPattern: 8)!
        dtype = info.dtype
    }

    @inline(__always)
    subscript(_ i: Int) -> Float {
        switch dtype {
        case .F32: base.loadUnaligned(fromByteOffset: 4 * i, as: Float.self)
        case .F16: Float(Float16(bitPattern: base.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)))
        default: Float(bitPattern: UInt32(base.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)) << 16)
        }
    }
}

// MARK: - CSR

extension LatentCache {
    /// Our `encode` output.
    struct CSR {
        let file: SafeTensorsFile
        let indptr: IntColumn
        let indices: IntColumn
        let values: FloatColumn
        let tokenCount: Int
        let nonZeros: Int
        let featureCount: Int

        init(file: SafeTensorsFile) throws {
            self.file = file
            let path = file.url.path
            let indptrInfo = try file.info("indptr"), indicesInfo = try file.info("indices"), valuesInfo = try file.info("values")
            guard indptrInfo.shape.count == 1, indptrInfo.shape[0] >= 1, indicesInfo.shape.count == 1, valuesInfo.shape == indicesInfo.shape else {
                throw AutoInterpError.invalidFile(
                    path, "CSR needs 'indptr' [n_tokens + 1] and 'indices', 'values' [nnz]; found \(indptrInfo.shape), \(indicesInfo.shape), \(valuesInfo.shape)")
            }
            indptr = try IntColumn(file, indptrInfo, allowed: [.I64, .I32])
            indices = try IntColumn(file, indicesInfo, allowed: [.I32, .I64, .U32])
            values = try FloatColumn(file, valuesInfo)
            tokenCount = indptrInfo.shape[0] - 1
            nonZeros = indicesInfo.shape[0]
            guard let text = file.metadata["d_sae"], let dSAE = Int(text), dSAE > 0 else {
                throw AutoInterpError.invalidFile(path, "__metadata__ d_sae is missing or not a positive integer (write it with autointerp encode)")
            }
            featureCount = dSAE
            guard indptr[0] == 0, indptr[tokenCount] == nonZeros else {
                throw AutoInterpError.invalidFile(path, "'indptr' must start at 0 and end at nnz \(nonZeros), found \(indptr[0])...\(indptr[tokenCount])")
            }
        }

        /// See ``LatentCache/readSparse(tokens:slots:rowCount:contextLength:)``: the entries are
        /// counted per row, then placed (tokens ascending, so each row is in token order).
        func readSparse(tokens: Range<Int>, slots: [Int32], rowCount: Int, contextLength: Int) throws -> SparseBatch {
            var rowStart = [Int](repeating: 0, count: rowCount + 1)
            try forEachKeptEntry(tokens: tokens, slots: slots) { _, _, slot in rowStart[slot + 1] += 1 }
            for r in 0..<rowCount { rowStart[r + 1] += rowStart[r] }
            let kept = rowStart[rowCount]
            var next = rowStart
            var batchTokens = [Int32](repeating: 0, count: kept), batchValues = [Float](repeating: 0, count: kept)
            // The entries were checked by the count above.
            var start = indptr[tokens.lowerBound]
            for t in tokens {
                let end = indptr[t + 1]
                for k in start..<end {
                    let slot = Int(slots[indices[k]])
                    guard slot >= 0 else { continue }
                    batchTokens[next[slot]] = Int32(truncatingIfNeeded: t - tokens.lowerBound)
                    batchValues[next[slot]] = values[k]
                    next[slot] += 1
                }
                start = end
            }
            return SparseBatch(contextLength: contextLength, rowStart: rowStart, tokens: batchTokens, values: batchValues)
        }

        func read(tokens: Range<Int>, slots: [Int32], into output: UnsafeMutablePointer<Float>, rowStride: Int) throws {
            try forEachKeptEntry(tokens: tokens, slots: slots) { t, k, slot in
                output[slot * rowStride + t - tokens.lowerBound] = values[k]
            }
        }

        /// The one scan of `tokens` both readers make: calls `body(t, k, slot)` for each entry `k` of
        /// each token `t`, in token order, whose latent has a slot (`slots[latent] >= 0`), checking
        /// every token's `indptr` bounds and every entry's latent on the way (a bad file is one line
        /// naming it, never a trap). Inlined into each reader, so `body` costs no call per entry.
        @inline(__always)
        private func forEachKeptEntry(tokens: Range<Int>, slots: [Int32], _ body: (_ t: Int, _ k: Int, _ slot: Int) -> Void) throws {
            var start = indptr[tokens.lowerBound]
            for t in tokens {
                let end = indptr[t + 1]
                guard end >= start, end <= nonZeros else {
                    throw AutoInterpError.invalidFile(file.url.path, "'indptr' is not non-decreasing within 0...\(nonZeros) at token \(t)")
                }
                for k in start..<end {
                    let latent = indices[k]
                    guard latent >= 0, latent < featureCount else {
                        throw AutoInterpError.invalidFile(file.url.path, "index \(latent) at token \(t) is outside d_sae \(featureCount)")
                    }
                    let slot = Int(slots[latent])
                    if slot >= 0 { body(t, k, slot) }
                }
                start = end
            }
        }
    }
}

// MARK: - delphi splits

extension LatentCache {
    /// One `{start}_{end}.safetensors` split of a delphi cache.
    final class Split {
        let file: SafeTensorsFile
        let latents: Range<Int>
        let tokens: SafeTensorInfo?
        private let contextColumn: IntColumn
        private let count: Int
        /// Where the last read ended (entries and contexts), to check the order between batches.
        private var lastEnd = 0
        private var lastUpper = 0

        convenience init(url: URL, latents: Range<Int>) throws {
            try self.init(url: url, file: SafeTensorsFile(url: url), latents: latents)
        }

        /// - Parameter latents: nil for an unsplit file (latents from 0 up to its largest).
        init(url: URL, file: SafeTensorsFile, latents: Range<Int>?) throws {
            self.file = file
            let path = url.path
            let locations = try file.info("locations"), activations = try file.info("activations")
            guard locations.shape.count == 2, locations.shape[1] == 3, activations.shape == [locations.shape[0]] else {
                throw AutoInterpError.invalidFile(
                    path, "delphi needs 'locations' [n, 3] (context, position, latent) and 'activations' [n]; found \(locations.shape), \(activations.shape)")
            }
            count = locations.shape[0]
            contextColumn = try IntColumn(file, locations, allowed: [.U16, .U32, .I32, .I64])
            _ = try FloatColumn(file, activations)
            tokens = file.contains("tokens") ? try file.info("tokens") : nil
            if let tokens, tokens.shape.count != 2 {
                throw AutoInterpError.invalidFile(path, "'tokens' must be [n_contexts, context_len], found \(tokens.shape)")
            }
            if let latents {
                self.latents = latents
            } else {
                var largest = -1
                for i in 0..<count { largest = Swift.max(largest, contextColumn[3 * i + 2]) }
                self.latents = 0..<(largest + 1)
            }
        }

        /// The first entry whose context is at least `context` (entries sorted by context).
        private func firstEntry(atLeast context: Int) -> Int {
            var low = 0, high = count
            while low < high {
                let mid = (low + high) / 2
                if contextColumn[3 * mid] < context { low = mid + 1 } else { high = mid }
            }
            return low
        }

        func read(
            contexts: Range<Int>, contextLength: Int, contextCount: Int, slots: [Int32], into output: UnsafeMutablePointer<Float>, rowStride: Int
        ) throws {
            let path = file.url.path
            let values = try FloatColumn(file, try file.info("activations"))
            var k = firstEntry(atLeast: contexts.lowerBound)
            if contexts.lowerBound == lastUpper, contexts.lowerBound > 0, k != lastEnd {
                throw AutoInterpError.invalidFile(path, "'locations' are not sorted by context near entry \(Swift.min(k, lastEnd)) (delphi writes them sorted)")
            }
            var previous = contexts.lowerBound
            while k < count {
                let context = contextColumn[3 * k]
                if context >= contexts.upperBound { break }
                guard context >= previous else {
                    throw AutoInterpError.invalidFile(path, "'locations' are not sorted by context at entry \(k) (delphi writes them sorted)")
                }
                previous = context
                let position = contextColumn[3 * k + 1], latent = contextColumn[3 * k + 2] + latents.lowerBound
                guard context < contextCount, position >= 0, position < contextLength, latents.contains(latent) else {
                    throw AutoInterpError.invalidFile(
                        path, "location \(k) (context \(context), position \(position), latent \(latent)) is outside \(contextCount) × \(contextLength) tokens or latents \(latents)")
                }
                let slot = Int(slots[latent])
                if slot >= 0 { output[slot * rowStride + (context - contexts.lowerBound) * contextLength + position] = values[k] }
                k += 1
            }
            if contexts.upperBound >= contextCount, k < count {
                throw AutoInterpError.invalidFile(path, "location \(k) names context \(contextColumn[3 * k]), beyond the dataset's \(contextCount) contexts")
            }
            lastEnd = k
            lastUpper = contexts.upperBound
        }
    }
}
