import Foundation

/// The studied features encoded once into a CSR file, so that both selection passes of every
/// chunk read them instead of encoding again (selection with an SAE then costs about one encode).
///
/// The file is the `encode` CSR layout over the studied features only: column `c` holds SAE
/// feature `feature_ids[c]` (`__metadata__`), values are exactly what ``UnitActivationSource``
/// computes from the SAE (same encoder, same batches; exact zeros are left out). It is written
/// under a temporary name and renamed when complete, so a file found on resume is whole; it is
/// reused when it holds every feature still to select.
enum SelectionLatents {
    static let fileName = "selection-latents.safetensors"

    /// A complete scratch file at `url` holding `features` over `dataset`, or nil.
    static func reusable(at url: URL, features: [Int], dataset: ActivationDataset) -> LatentCache? {
        guard FileManager.default.fileExists(atPath: url.path), let cache = try? LatentCache(url: url), cache.layout == .csr,
            cache.featureIDs != nil, cache.tokenCount == dataset.tokenCount, features.allSatisfy({ cache.column(of: $0) != nil })
        else { return nil }
        return cache
    }

    /// Encodes `features` of `sae` over `dataset` into `url`.
    ///
    /// - Parameter progress: called with the tokens encoded so far.
    static func write(
        dataset: ActivationDataset, sae: SparseAutoencoder, features: [Int], to url: URL, tokensPerBatch: Int, progress: (Int) -> Void
    ) throws -> LatentCache {
        let contextsPerBatch = max(1, tokensPerBatch / max(dataset.contextLength, 1))
        let batchTokens = contextsPerBatch * dataset.contextLength
        // As UnitActivationSource builds it: a TopK SAE needs every pre-activation, the others only the studied columns.
        let encoder: SAEEncoder
        let columns: [Int]
        if sae.config.architecture == .topk {
            encoder = try SAEEncoder(sae: sae, batchSize: batchTokens)
            columns = features
        } else {
            encoder = try SAEEncoder(sae: sae, batchSize: batchTokens, features: features)
            columns = Array(0..<features.count)
        }
        // A TopK encoder computes every feature: keep the studied ones, renumbered to their columns.
        var slotOf: [Int32]? = nil
        if columns != Array(0..<encoder.outputWidth) {
            var slots = [Int32](repeating: -1, count: encoder.outputWidth)
            for (c, column) in columns.enumerated() { slots[column] = Int32(c) }
            slotOf = slots
        }
        let scratch = ScratchFiles(beside: url)
        defer { scratch.remove() }
        let indicesFile = try scratch.create("indices")
        let valuesFile = try scratch.create("values")
        var indptr: [Int64] = [0]
        indptr.reserveCapacity(dataset.tokenCount + 1)
        var rows = SparseRows()
        var indices: [Int32] = [], values: [Float] = []
        let batches = stride(from: 0, to: dataset.contextCount, by: contextsPerBatch).map {
            $0..<min($0 + contextsPerBatch, dataset.contextCount)
        }
        // As `encode` does: the next batch is read on another thread while this one is encoded, and
        // only the non-zeros are collected (the activations > 0 that the dense output holds).
        let reader = BatchReader(dataset: dataset, batchTokens: batchTokens)
        if let first = batches.first { try reader.read(first, into: 0) }
        for (b, contexts) in batches.enumerated() {
            if b + 1 < batches.count { reader.start(batches[b + 1], into: (b + 1) % 2) }
            let tokens = contexts.count * dataset.contextLength
            rows.removeAll()
            encoder.encodeSparse(reader.buffer(b % 2), tokens: tokens, appendingTo: &rows)
            let base = indptr.last ?? 0
            if let slotOf {
                indices.removeAll(keepingCapacity: true)
                values.removeAll(keepingCapacity: true)
                for t in 0..<tokens {
                    for k in Int(rows.indptr[t])..<Int(rows.indptr[t + 1]) where slotOf[Int(rows.indices[k])] >= 0 {
                        indices.append(slotOf[Int(rows.indices[k])])
                        values.append(rows.values[k])
                    }
                    indptr.append(base + Int64(indices.count))
                }
                try indicesFile.write(indices)
                try valuesFile.write(values)
            } else {
                indptr.append(contentsOf: rows.indptr.dropFirst().map { $0 + base })
                try indicesFile.write(rows.indices)
                try valuesFile.write(rows.values)
            }
            progress(contexts.upperBound * dataset.contextLength)
            if b + 1 < batches.count { try reader.wait() }
        }
        let nonZeros = Int(indptr.last ?? 0)
        try indicesFile.close()
        try valuesFile.close()
        let ids = String(decoding: try JSONEncoder().encode(features), as: UTF8.self)
        let writer = try SafeTensorsStreamWriter(
            url: url,
            entries: [
                .init(name: "indptr", dtype: .I64, shape: [dataset.tokenCount + 1]),
                .init(name: "indices", dtype: .I32, shape: [nonZeros]),
                .init(name: "values", dtype: .F32, shape: [nonZeros]),
            ],
            metadata: ["d_sae": String(features.count), "n_tokens": String(dataset.tokenCount), "feature_ids": ids])
        try writer.append(indptr)
        try indicesFile.copy(into: writer)
        try valuesFile.copy(into: writer)
        try writer.finish()
        return try LatentCache(url: url)
    }
}
