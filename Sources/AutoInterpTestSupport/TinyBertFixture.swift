package import AutoInterp
package import Foundation

/// A tiny BERT model (2 layers, hidden 8, 2 heads, intermediate 16, 20 tokens) whose weights come
/// from a formula, so Swift and the numpy reference (`Tests/Scripts/tiny_bert_reference.py`)
/// build the same model without sharing files.
///
/// Tensor number `t` in `tensorNames` (0-based) has, at flat row-major index `e`,
/// `scale * sin(0.37 * e + 1.7 * t + 0.5) + offset`, computed in Double and rounded to Float;
/// `scale`/`offset` are 0.1/1 for LayerNorm weights, 0.1/0 for biases and LayerNorm biases,
/// 0.5/0 for everything else.
package enum TinyBertFixture {
    package static let config = BertConfig(
        vocabSize: 20, hiddenSize: 8, numHiddenLayers: 2, numAttentionHeads: 2, intermediateSize: 16,
        hiddenAct: "gelu", layerNormEps: 1e-12, maxPositionEmbeddings: 16, typeVocabSize: 2,
        nameOrPath: "tiny-bert-fixture")

    /// The WordPiece vocabulary, id = index.
    package static let vocabulary = [
        "[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the", "cat", "sat", "on", "mat",
        "dog", "a", "##s", "run", "##ning", ".", ",", "!", "hello", "world",
    ]

    /// Weight names in formula order (`t` = index), without prefix.
    package static var tensorNames: [String] {
        var names = [
            "embeddings.word_embeddings.weight",
            "embeddings.position_embeddings.weight",
            "embeddings.token_type_embeddings.weight",
            "embeddings.LayerNorm.weight",
            "embeddings.LayerNorm.bias",
        ]
        for l in 0..<config.numHiddenLayers {
            for suffix in [
                "attention.self.query.weight", "attention.self.query.bias",
                "attention.self.key.weight", "attention.self.key.bias",
                "attention.self.value.weight", "attention.self.value.bias",
                "attention.output.dense.weight", "attention.output.dense.bias",
                "attention.output.LayerNorm.weight", "attention.output.LayerNorm.bias",
                "intermediate.dense.weight", "intermediate.dense.bias",
                "output.dense.weight", "output.dense.bias",
                "output.LayerNorm.weight", "output.LayerNorm.bias",
            ] {
                names.append("encoder.layer.\(l).\(suffix)")
            }
        }
        return names
    }

    /// The shape of a weight (name without prefix).
    package static func shape(of name: String) -> [Int] {
        let c = config
        let h = c.hiddenSize
        switch name {
        case "embeddings.word_embeddings.weight": return [c.vocabSize, h]
        case "embeddings.position_embeddings.weight": return [c.maxPositionEmbeddings, h]
        case "embeddings.token_type_embeddings.weight": return [c.typeVocabSize, h]
        default: break
        }
        if name.hasSuffix("intermediate.dense.weight") { return [c.intermediateSize, h] }
        if name.hasSuffix("intermediate.dense.bias") { return [c.intermediateSize] }
        if name.hasSuffix("output.dense.weight") && !name.contains("attention") { return [h, c.intermediateSize] }
        if name.hasSuffix(".weight") && !name.hasSuffix("LayerNorm.weight") { return [h, h] }
        return [h]
    }

    /// The formula weights, keyed by `prefix + name`.
    package static func weights(prefix: String = "") -> [String: BertTensor] {
        var out: [String: BertTensor] = [:]
        for (t, name) in tensorNames.enumerated() {
            let shape = shape(of: name)
            let count = shape.reduce(1, *)
            let (scale, offset): (Double, Double) =
                name.hasSuffix("LayerNorm.weight") ? (0.1, 1) : name.hasSuffix(".bias") ? (0.1, 0) : (0.5, 0)
            let values = (0..<count).map { e in Float(scale * sin(0.37 * Double(e) + 1.7 * Double(t) + 0.5) + offset) }
            out[prefix + name] = BertTensor(shape: shape, values: values)
        }
        return out
    }

    /// Writes a Hugging Face style model folder: `config.json`, `vocab.txt`, `tokenizer_config.json`,
    /// `model.safetensors` (F32, tensor names with `prefix`).
    package static func write(to directory: URL, prefix: String = "") throws {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let c = config
        let configJSON = """
            {"_name_or_path": "tiny-bert-fixture", "architectures": ["BertModel"], "model_type": "bert", \
            "vocab_size": \(c.vocabSize), "hidden_size": \(c.hiddenSize), "num_hidden_layers": \(c.numHiddenLayers), \
            "num_attention_heads": \(c.numAttentionHeads), "intermediate_size": \(c.intermediateSize), \
            "hidden_act": "gelu", "layer_norm_eps": 1e-12, "max_position_embeddings": \(c.maxPositionEmbeddings), \
            "type_vocab_size": \(c.typeVocabSize), "position_embedding_type": "absolute", "pad_token_id": 0}
            """
        try configJSON.write(to: directory.appendingPathComponent("config.json"), atomically: true, encoding: .utf8)
        try (vocabulary.joined(separator: "\n") + "\n")
            .write(to: directory.appendingPathComponent("vocab.txt"), atomically: true, encoding: .utf8)
        try #"{"do_lower_case": true, "tokenizer_class": "BertTokenizer"}"#
            .write(to: directory.appendingPathComponent("tokenizer_config.json"), atomically: true, encoding: .utf8)
        let weights = weights(prefix: prefix)
        let tensors = tensorNames.map { name in
            SafeTensorsWriter.Tensor.float32(prefix + name, shape: weights[prefix + name]!.shape, weights[prefix + name]!.values)
        }
        try SafeTensorsWriter.write(tensors, metadata: ["format": "pt"], to: directory.appendingPathComponent("model.safetensors"))
    }
}
