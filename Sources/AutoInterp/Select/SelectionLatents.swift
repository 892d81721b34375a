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
        let width = encoder.outputWidth
        let scratch = ScratchFiles(beside: url)
        defer { scratch.remove() }
        let indicesFile = try scratch.create("indices")
        let valuesFile = try scratch.create("values")
        var indptr: [Int64] = [0]
        indptr.reserveCapacity(dataset.tokenCount + 1)
        var input = [Float](repeating: 0, count: batchTokens * dataset.width)
        var encoded = [Float](repeating: 0, count: batchTokens * width)
        var indices: [Int32] = [], values: [Float] = []
        for start in stride(from: 0, to: dataset.contextCount, by: contextsPerBatch) {
            let contexts = start..<min(start + contextsPerBatch, dataset.contextCount)
            let tokens = contexts.count * dataset.contextLength
            try input.withUnsafeMutableBufferPointer { x in
                try dataset.readActivations(contexts: contexts, into: x.baseAddress!)
                dataset.releasePages(contexts: contexts)
                encoded.withUnsafeMutableBufferPointer { z in encoder.encodeDense(x.baseAddress!, tokens: tokens, into: z.baseAddress!) }
            }
            indices.removeAll(keepingCapacity: true)
            values.removeAll(keepingCapacity: true)
            let base = indptr.last ?? 0
            encoded.withUnsafeBufferPointer { z in
                for t in 0..<tokens {
                    let row = z.baseAddress! + t * width
                    for (c, column) in columns.enumerated() where row[column] != 0 {
                        indices.append(Int32(c))
                        values.append(row[column])
                    }
                    indptr.append(base + Int64(indices.count))
                }
            }
            try indicesFile.write(indices)
            try valuesFile.write(values)
            progress(contexts.upperBound * dataset.contextLength)
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
