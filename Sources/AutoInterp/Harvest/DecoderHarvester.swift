import AutoInterpLLM
package import Foundation
package import Logging

/// Runs texts through a decoder LM (`DecoderModel`) and writes the activations at one or more
/// TransformerLens hook points as activation datasets (DESIGN.md), one file per hook.
///
/// Each text is one context: its BPE ids (BOS first with `prependBOS`), cut to the context length
/// and padded (mask 0, activations 0). Metadata records `model`, `hook`, `layer`, `context_len`,
/// `prepend_bos`, `bos_token_id` and `special_token_ids` (BOS and the special added tokens, which
/// selection leaves out by default).
package final class DecoderHarvester {
    package let model: DecoderModel
    package let tokenizer: any DecoderTokenizer
    package let hooks: [DecoderHook]
    package let prependBOS: Bool
    package let bosID: Int32?
    /// Written as the `model` metadata key.
    package let modelName: String
    private let logger: Logger

    /// Loads the model (layers up to the deepest hook) and its tokenizer from a Hugging Face folder
    /// (`tokenizer.json`) or a GGUF file (`tokenizer.ggml.*`).
    ///
    /// - Throws: `AutoInterpError` naming the path; `.invalidInput` for a hook past the model's layers
    ///   or `prependBOS` on a model without a BOS token.
    package init(
        modelPath: URL, hooks: [DecoderHook], prependBOS: Bool, modelName: String? = nil,
        logger: Logger? = nil
    ) throws {
        guard let deepest = hooks.map(\.layer).max() else { throw AutoInterpError.invalidInput("harvest: give at least one \(Setting.hook)") }
        var isDirectory: ObjCBool = false
        _ = FileManager.default.fileExists(atPath: modelPath.path, isDirectory: &isDirectory)
        let config = try DecoderModel.config(at: modelPath)
        guard deepest < config.layerCount else {
            throw AutoInterpError.invalidInput(
                "hook blocks.\(deepest) is out of range: \(modelPath.path) has layers 0...\(config.layerCount - 1)")
        }
        model = try DecoderModel.load(modelPath, layerCount: deepest + 1)
        if isDirectory.boolValue {
            let url = modelPath.appendingPathComponent("tokenizer.json")
            guard FileManager.default.fileExists(atPath: url.path) else {
                throw AutoInterpError.invalidFile(modelPath.path, "no tokenizer.json (the Hugging Face fast tokenizer file)")
            }
            tokenizer = try DecoderTokenizers.load(tokenizerJSON: url)
        } else {
            tokenizer = try DecoderTokenizers.load(gguf: GGUFFile(url: modelPath))
        }
        guard tokenizer.count <= model.config.vocabSize || tokenizer.vocabulary[model.config.vocabSize...].allSatisfy(\.isEmpty) else {
            throw AutoInterpError.invalidFile(
                modelPath.path, "the tokenizer has \(tokenizer.count) tokens but the model's vocabulary is \(model.config.vocabSize)")
        }
        self.hooks = Array(Set(hooks)).sorted { ($0.layer, $0.kind.rawValue) < ($1.layer, $1.kind.rawValue) }
        self.prependBOS = prependBOS
        bosID = model.config.bosTokenID
        if prependBOS && bosID == nil {
            throw AutoInterpError.invalidInput("\(Setting.prependBos): \(modelPath.path) names no bos_token_id")
        }
        let standardized = modelPath.standardizedFileURL
        let name = standardized.lastPathComponent
        self.modelName = modelName ?? (name.hasSuffix(".gguf") ? String(name.dropLast(5)) : name)
        self.logger = logger ?? .silent
    }

    /// One line for each way this harvest differs from what an SAE's `cfg.json` says it was trained on:
    /// its hook is not harvested, its `d_in` is not that hook's width, its `model_name` is another model,
    /// or its `prepend_bos` is not this harvest's.
    package func disagreements(with sae: SAEConfig, saePath: String) -> [String] {
        var lines: [String] = []
        if let name = sae.hookName, name.lowercased() != "unknown" {
            if let hook = try? DecoderHook(name: name) {
                if !hooks.contains(hook) {
                    lines.append("the SAE \(saePath) reads '\(name)', which this harvest does not write (add \(Setting.hook) \(name))")
                } else if model.width(of: hook) != sae.dIn {
                    lines.append("the SAE \(saePath) has d_in \(sae.dIn) but '\(name)' is \(model.width(of: hook)) wide in \(model.source)")
                }
            } else {
                lines.append("the SAE \(saePath) names hook '\(name)', which is not a TransformerLens hook this harvester writes")
            }
        }
        if let name = sae.modelName, name.lowercased() != "unknown", !SparseAutoencoder.sameModel(name, modelName) {
            lines.append("the SAE \(saePath) was trained on model '\(name)', not '\(modelName)' (give \(Setting.modelName) if it is the same model)")
        }
        if let bos = sae.prependBOS, bos != prependBOS {
            lines.append("the SAE \(saePath) was trained with prepend_bos \(bos) but this harvest has \(prependBOS)")
        }
        return lines
    }

    /// The output file of each hook: `output` itself for one hook, else `<stem>.<hook>.safetensors` beside it;
    /// `sharded`: the folder of each hook's shards, `output` itself for one hook, else `<output>/<hook>`.
    package func outputs(for output: URL, sharded: Bool = false) -> [DecoderHook: URL] {
        if hooks.count == 1 { return [hooks[0]: output] }
        if sharded {
            return Dictionary(uniqueKeysWithValues: hooks.map { ($0, output.appendingPathComponent($0.description, isDirectory: true)) })
        }
        let stem = output.deletingPathExtension().lastPathComponent
        let folder = output.deletingLastPathComponent()
        return Dictionary(uniqueKeysWithValues: hooks.map { ($0, folder.appendingPathComponent("\(stem).\($0).safetensors")) })
    }

    /// Harvests every text of a JSONL file (`{"text": …}` per line); every hook's dataset (each shard too)
    /// names the file (`texts`) and records its SHA-256 (`texts_sha256`), the corpus a run's config describes.
    @discardableResult
    package func harvest(
        textsFile: URL, output: URL, contextLength: Int = 64, dtype: HarvestDType = .f16, batchSize: Int = 16,
        contextsPerShard: Int? = nil, progress: ((HarvestProgress) -> Void)? = nil
    ) throws -> [HarvestSummary] {
        var texts: [String] = []
        let textsHash = try JSONLTextReader(url: textsFile).forEachText { text, _ in texts.append(text) }
        guard !texts.isEmpty else {
            throw AutoInterpError.invalidFile(textsFile.path, "no texts; expected one {\"text\": \"...\"} object per line")
        }
        return try harvest(
            texts: texts, output: output, contextLength: contextLength, dtype: dtype, batchSize: batchSize,
            contextsPerShard: contextsPerShard, extraMetadata: ["texts": textsFile.lastPathComponent, "texts_sha256": textsHash],
            progress: progress)
    }

    /// Harvests texts held in memory, one context each.
    ///
    /// With `contextsPerShard`, each hook's dataset is a folder of shards of that many contexts
    /// (``outputs(for:sharded:)``, ``ShardedDatasetWriter``).
    @discardableResult
    package func harvest(
        texts: [String], output: URL, contextLength ctx: Int = 64, dtype: HarvestDType = .f16, batchSize: Int = 16,
        contextsPerShard: Int? = nil, progress: ((HarvestProgress) -> Void)? = nil
    ) throws -> [HarvestSummary] {
        try harvest(
            texts: texts, output: output, contextLength: ctx, dtype: dtype, batchSize: batchSize, contextsPerShard: contextsPerShard,
            extraMetadata: [:], progress: progress)
    }

    private func harvest(
        texts: [String], output: URL, contextLength ctx: Int, dtype: HarvestDType, batchSize: Int, contextsPerShard: Int?,
        extraMetadata: [String: String], progress: ((HarvestProgress) -> Void)?
    ) throws -> [HarvestSummary] {
        guard ctx >= 1, ctx <= model.config.maxPositions else {
            throw AutoInterpError.invalidInput(
                "\(Setting.contextLen) \(ctx) must be between 1 and the model's \(model.config.maxPositions) positions")
        }
        guard !texts.isEmpty else { throw AutoInterpError.invalidInput("harvest: no texts to run") }
        let start = Date()
        var sequences: [[Int32]] = []
        var truncated = 0
        for text in texts {
            var ids = (prependBOS ? bosID.map { [$0] } ?? [] : []) + tokenizer.encode(text)
            if ids.count > ctx {
                ids.removeLast(ids.count - ctx)
                truncated += 1
            }
            sequences.append(ids)
        }
        let padding = bosID ?? 0
        var tokens: [Int32] = []
        var mask: [UInt8] = []
        for ids in sequences {
            tokens += ids + repeatElement(padding, count: ctx - ids.count)
            mask += [UInt8](repeating: 1, count: ids.count) + [UInt8](repeating: 0, count: ctx - ids.count)
        }
        var specials = tokenizer.addedTokens.values.filter(\.special).map(\.id)
        if let bosID, !specials.contains(bosID) { specials.append(bosID) }
        let vocabulary = (0..<model.config.vocabSize).map { tokenizer.text(of: Int32($0)) }
        let sharded = contextsPerShard != nil
        let folder = sharded ? output : output.deletingLastPathComponent()
        do {
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        } catch {
            throw AutoInterpError.io(folder.path, "cannot create the output folder: \(error.localizedDescription)")
        }
        let files = outputs(for: output, sharded: sharded)
        var writers: [DecoderHook: ShardedDatasetWriter] = [:]
        var metadataByHook: [DecoderHook: [String: String]] = [:]
        for hook in hooks {
            let metadata = extraMetadata.merging([
                "model": modelName, "hook": hook.description, "layer": String(hook.layer), "context_len": String(ctx),
                "prepend_bos": prependBOS ? "true" : "false", "bos_token_id": bosID.map(String.init) ?? "",
                "special_token_ids": "[\(specials.sorted().map(String.init).joined(separator: ","))]",
                "architecture": model.config.modelType,
            ]) { _, own in own }
            metadataByHook[hook] = metadata
            writers[hook] = try ShardedDatasetWriter(
                url: files[hook]!, contextLength: ctx, width: model.width(of: hook), tokens: tokens, mask: mask,
                dtype: dtype.safeTensorsDType, vocabulary: vocabulary, metadata: metadata, contextsPerShard: contextsPerShard)
        }
        let batch = max(1, batchSize)
        var done = 0
        var tokensDone = 0
        while done < sequences.count {
            let group = Array(sequences[done..<min(sequences.count, done + batch)])
            let values = try model.activations(group, hooks: hooks)
            for hook in hooks {
                let width = model.width(of: hook)
                let packed = values[hook] ?? []
                var out = [Float](repeating: 0, count: group.count * ctx * width)
                var row = 0
                for (c, ids) in group.enumerated() {
                    for t in 0..<ids.count {
                        for k in 0..<width { out[(c * ctx + t) * width + k] = packed[(row + t) * width + k] }
                    }
                    row += ids.count
                }
                try writers[hook]!.append(out)
            }
            done += group.count
            tokensDone += group.reduce(0) { $0 + $1.count }
            progress?(
                HarvestProgress(
                    contextsDone: done, contextsTotal: sequences.count, tokensDone: tokensDone,
                    elapsedSeconds: Date().timeIntervalSince(start)))
        }
        for hook in hooks { try writers[hook]!.finish() }
        let elapsed = Date().timeIntervalSince(start)
        logger.debug("harvest: \(sequences.count) contexts, \(tokensDone) tokens, \(hooks.count) hooks in \(elapsed) s")
        return hooks.map { hook in
            HarvestSummary(
                output: files[hook]!,
                vocabulary: (sharded ? files[hook]! : folder).appendingPathComponent("vocab.json"), contexts: sequences.count,
                contextLength: ctx,
                tokens: tokensDone, truncatedContexts: truncated, width: model.width(of: hook), elapsedSeconds: elapsed,
                metadata: metadataByHook[hook]!)
        }
    }
}
