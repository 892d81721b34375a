import Foundation

/// One weight tensor as `Float`s, row-major.
package struct BertTensor: Sendable, Equatable {
    package var shape: [Int]
    package var values: [Float]

    package init(shape: [Int], values: [Float]) {
        precondition(shape.reduce(1, *) == values.count, "shape \(shape) does not hold \(values.count) values")
        self.shape = shape
        self.values = values
    }
}

/// Where a BERT model's weights come from: a safetensors file or tensors in memory.
package protocol BertWeightSource {
    /// Every tensor name the source has.
    var tensorNames: [String] { get }
    /// The tensor `name` converted to `Float`.
    func bertTensor(_ name: String) throws -> BertTensor
    /// Names errors after this (a path).
    var sourceDescription: String { get }
}

extension SafeTensorsFile: BertWeightSource {
    package func bertTensor(_ name: String) throws -> BertTensor {
        let info = try info(name)
        return BertTensor(shape: info.shape, values: try floats(name))
    }

    package var sourceDescription: String { url.path }
}

extension Dictionary: BertWeightSource where Key == String, Value == BertTensor {
    package var tensorNames: [String] { Array(keys) }

    package func bertTensor(_ name: String) throws -> BertTensor {
        guard let tensor = self[name] else {
            throw AutoInterpError.invalidInput("BERT weights: no tensor named '\(name)'")
        }
        return tensor
    }

    package var sourceDescription: String { "in-memory BERT weights" }
}

/// The weights of a BERT encoder, checked against its config, laid out for the runner.
///
/// Tensor names follow Hugging Face's `BertModel` (`embeddings.word_embeddings.weight`,
/// `encoder.layer.0.attention.self.query.weight`, …); a common prefix such as `bert.` or
/// `0.auto_model.` is found from the word-embedding tensor and stripped.
struct BertWeights: Sendable {
    struct Layer: Sendable {
        /// Query, key and value weights stacked: `[3 * hidden, hidden]`, PyTorch `[out, in]` order.
        var qkvWeight: [Float]
        var qkvBias: [Float]
        var attentionOutputWeight: [Float]
        var attentionOutputBias: [Float]
        var attentionNormWeight: [Float]
        var attentionNormBias: [Float]
        /// `[intermediate, hidden]`.
        var intermediateWeight: [Float]
        var intermediateBias: [Float]
        /// `[hidden, intermediate]`.
        var outputWeight: [Float]
        var outputBias: [Float]
        var outputNormWeight: [Float]
        var outputNormBias: [Float]
    }

    var wordEmbeddings: [Float]
    var positionEmbeddings: [Float]
    /// Row 0 of the token-type embeddings (every token is segment 0).
    var tokenTypeEmbedding: [Float]
    var embeddingNormWeight: [Float]
    var embeddingNormBias: [Float]
    var layers: [Layer]

    /// Loads the embeddings and the first `layerCount` layers.
    init(config: BertConfig, source: some BertWeightSource, layerCount: Int) throws {
        let names = source.tensorNames
        let anchor = "embeddings.word_embeddings.weight"
        let candidates = names.filter { $0 == anchor || $0.hasSuffix("." + anchor) }
        guard candidates.count == 1, let anchorName = candidates.first else {
            throw AutoInterpError.invalidFile(
                source.sourceDescription,
                candidates.isEmpty
                    ? "no '\(anchor)' tensor; expected a Hugging Face BertModel checkpoint"
                    : "several '\(anchor)' tensors (\(candidates.sorted().joined(separator: ", "))); keep one model per file")
        }
        let prefix = String(anchorName.dropLast(anchor.count))
        let h = config.hiddenSize
        let i = config.intermediateSize

        func load(_ name: String, _ shape: [Int]) throws -> [Float] {
            let tensor = try source.bertTensor(prefix + name)
            guard tensor.shape == shape else {
                throw AutoInterpError.invalidFile(
                    source.sourceDescription,
                    "tensor '\(prefix + name)' has shape \(tensor.shape), config.json implies \(shape); the weights and config.json do not belong together")
            }
            return tensor.values
        }

        wordEmbeddings = try load("embeddings.word_embeddings.weight", [config.vocabSize, h])
        positionEmbeddings = try load("embeddings.position_embeddings.weight", [config.maxPositionEmbeddings, h])
        tokenTypeEmbedding = Array(try load("embeddings.token_type_embeddings.weight", [config.typeVocabSize, h]).prefix(h))
        embeddingNormWeight = try load("embeddings.LayerNorm.weight", [h])
        embeddingNormBias = try load("embeddings.LayerNorm.bias", [h])
        layers = try (0..<layerCount).map { l in
            let p = "encoder.layer.\(l)."
            return Layer(
                qkvWeight: try load(p + "attention.self.query.weight", [h, h])
                    + load(p + "attention.self.key.weight", [h, h])
                    + load(p + "attention.self.value.weight", [h, h]),
                qkvBias: try load(p + "attention.self.query.bias", [h])
                    + load(p + "attention.self.key.bias", [h])
                    + load(p + "attention.self.value.bias", [h]),
                attentionOutputWeight: try load(p + "attention.output.dense.weight", [h, h]),
                attentionOutputBias: try load(p + "attention.output.dense.bias", [h]),
                attentionNormWeight: try load(p + "attention.output.LayerNorm.weight", [h]),
                attentionNormBias: try load(p + "attention.output.LayerNorm.bias", [h]),
                intermediateWeight: try load(p + "intermediate.dense.weight", [i, h]),
                intermediateBias: try load(p + "intermediate.dense.bias", [i]),
                outputWeight: try load(p + "output.dense.weight", [h, i]),
                outputBias: try load(p + "output.dense.bias", [h]),
                outputNormWeight: try load(p + "output.LayerNorm.weight", [h]),
                outputNormBias: try load(p + "output.LayerNorm.bias", [h]))
        }
    }
}
