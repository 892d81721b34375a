package import AutoInterp
package import Foundation

/// A small sentence-embedding model folder (sentence-transformers layout: `config.json`,
/// `vocab.txt`, `model.safetensors`, `modules.json`, `1_Pooling/config.json`,
/// `sentence_bert_config.json`) whose embeddings mean what the synthetic dataset plants.
///
/// One BERT layer whose attention and MLP weights are zero, so each token's output is its word
/// embedding through two LayerNorms and the mean-pooled sentence vector is a bag of words. A word
/// of a planted concept (``SyntheticDataset/animals``, numbers, colours, places, verbs) and the
/// concept's own name (`animal`, `number`, `colour`, …) share that concept's direction; every
/// other token comes out of LayerNorm as zero. So "animal words"
/// or a pattern list of animal words lands near the contexts holding animals.
package enum EmbeddingFixture {
    package static let hidden = 32

    /// The concept words of each planted direction, with the names an explanation would use.
    package static let concepts: [[String]] = [
        ["animal", "animals"] + SyntheticDataset.animals,
        ["number", "numbers"] + SyntheticDataset.numbers,
        ["colour", "colours", "color", "colors"] + SyntheticDataset.colours,
        ["place", "places"] + SyntheticDataset.places,
        ["verb", "verbs"] + SyntheticDataset.verbs,
    ]

    /// `[PAD] [UNK] [CLS] [SEP] [MASK]`, the dataset's words and the concept names, a few words of explanations.
    package static var vocabulary: [String] {
        var words = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
        for word in SyntheticDataset.vocabulary + concepts.flatMap { $0 } + ["words", "fires", "on", "after", "(", ")", "\""]
        where !words.contains(word) {
            words.append(word)
        }
        return words
    }

    /// Writes the folder; `modules` false leaves out `modules.json` and the pooling folder (a plain checkpoint).
    package static func write(to directory: URL, modules: Bool = true) throws {
        let fm = FileManager.default
        try fm.createDirectory(at: directory, withIntermediateDirectories: true)
        let vocabulary = vocabulary
        let h = hidden
        let config = """
            {"_name_or_path": "embedding-fixture", "architectures": ["BertModel"], "model_type": "bert", \
            "vocab_size": \(vocabulary.count), "hidden_size": \(h), "num_hidden_layers": 1, "num_attention_heads": 2, \
            "intermediate_size": 4, "hidden_act": "gelu", "layer_norm_eps": 1e-12, "max_position_embeddings": 64, \
            "type_vocab_size": 2, "position_embedding_type": "absolute", "pad_token_id": 0}
            """
        try config.write(to: directory.appendingPathComponent("config.json"), atomically: true, encoding: .utf8)
        try (vocabulary.joined(separator: "\n") + "\n")
            .write(to: directory.appendingPathComponent("vocab.txt"), atomically: true, encoding: .utf8)
        try #"{"do_lower_case": true, "tokenizer_class": "BertTokenizer"}"#
            .write(to: directory.appendingPathComponent("tokenizer_config.json"), atomically: true, encoding: .utf8)
        if modules {
            try """
                [{"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
                 {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
                 {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"}]
                """.write(to: directory.appendingPathComponent("modules.json"), atomically: true, encoding: .utf8)
            let pooling = directory.appendingPathComponent("1_Pooling")
            try fm.createDirectory(at: pooling, withIntermediateDirectories: true)
            try """
                {"word_embedding_dimension": \(h), "pooling_mode_cls_token": false, "pooling_mode_mean_tokens": true, \
                "pooling_mode_max_tokens": false, "pooling_mode_mean_sqrt_len_tokens": false}
                """.write(to: pooling.appendingPathComponent("config.json"), atomically: true, encoding: .utf8)
            try #"{"max_seq_length": 64, "do_lower_case": false}"#
                .write(to: directory.appendingPathComponent("sentence_bert_config.json"), atomically: true, encoding: .utf8)
        }
        var word = [Float](repeating: 0, count: vocabulary.count * h)
        for (id, token) in vocabulary.enumerated() {
            // A concept's words point along the concept (all alike: no per-word part that would
            // break a control's ties one way); every other token
            // (function words, punctuation, specials, [UNK]) is constant, which LayerNorm maps to
            // exactly zero: it adds nothing to a sentence's direction.
            guard let concept = concepts.firstIndex(where: { $0.contains(token) }) else {
                for k in 0..<h { word[id * h + k] = 1 }
                continue
            }
            word[id * h + concept] = 4
        }
        let i = 4, zeros = { (count: Int) in [Float](repeating: 0, count: count) }, ones = [Float](repeating: 1, count: h)
        var tensors: [SafeTensorsWriter.Tensor] = [
            .float32("embeddings.word_embeddings.weight", shape: [vocabulary.count, h], word),
            .float32("embeddings.position_embeddings.weight", shape: [64, h], zeros(64 * h)),
            .float32("embeddings.token_type_embeddings.weight", shape: [2, h], zeros(2 * h)),
            .float32("embeddings.LayerNorm.weight", shape: [h], ones),
            .float32("embeddings.LayerNorm.bias", shape: [h], zeros(h)),
        ]
        let prefix = "encoder.layer.0."
        for name in ["query", "key", "value"] {
            tensors.append(.float32(prefix + "attention.self.\(name).weight", shape: [h, h], zeros(h * h)))
            tensors.append(.float32(prefix + "attention.self.\(name).bias", shape: [h], zeros(h)))
        }
        tensors += [
            .float32(prefix + "attention.output.dense.weight", shape: [h, h], zeros(h * h)),
            .float32(prefix + "attention.output.dense.bias", shape: [h], zeros(h)),
            .float32(prefix + "attention.output.LayerNorm.weight", shape: [h], ones),
            .float32(prefix + "attention.output.LayerNorm.bias", shape: [h], zeros(h)),
            .float32(prefix + "intermediate.dense.weight", shape: [i, h], zeros(i * h)),
            .float32(prefix + "intermediate.dense.bias", shape: [i], zeros(i)),
            .float32(prefix + "output.dense.weight", shape: [h, i], zeros(h * i)),
            .float32(prefix + "output.dense.bias", shape: [h], zeros(h)),
            .float32(prefix + "output.LayerNorm.weight", shape: [h], ones),
            .float32(prefix + "output.LayerNorm.bias", shape: [h], zeros(h)),
        ]
        try SafeTensorsWriter.write(tensors, metadata: ["format": "pt"], to: directory.appendingPathComponent("model.safetensors"))
    }

    /// A dataset of two independent slots, for the embedding scorer's floor: every context is
    /// `[CLS]`, ten words, `[SEP]`; one word is an animal or a place (even odds), another a number
    /// or a colour, the rest function words. Neuron 0 fires on the animal (0.5–1.5, else exactly 0),
    /// neuron 1 on the number. Every context holds exactly two concept words, so whether it holds a
    /// number says nothing of whether it holds an animal, and neither changes its embedding's norm:
    /// one neuron's explanation scored on the other's contexts is unrelated to them.
    package static func writeTwoSlotDataset(to url: URL, contexts: Int = 200, seed: UInt64 = 9) throws {
        let vocabulary = SyntheticDataset.vocabulary
        let id = Dictionary(uniqueKeysWithValues: vocabulary.enumerated().map { ($1, Int32($0)) })
        let length = 12
        var rng = SeededGenerator(seed: seed, stream: 1)
        var tokens: [Int32] = [], activations: [Float] = []
        for _ in 0..<contexts {
            var words = (0..<10).map { _ in SyntheticDataset.function.randomElement(using: &rng)! }
            let slots = Array((0..<10).shuffled(using: &rng).prefix(2))
            let animal = Bool.random(using: &rng), number = Bool.random(using: &rng)
            words[slots[0]] = (animal ? SyntheticDataset.animals : SyntheticDataset.places).randomElement(using: &rng)!
            words[slots[1]] = (number ? SyntheticDataset.numbers : SyntheticDataset.colours).randomElement(using: &rng)!
            for (p, word) in (["[CLS]"] + words + ["[SEP]"]).enumerated() {
                tokens.append(id[word]!)
                let fires = p >= 1 && p <= 10
                activations.append(fires && animal && p - 1 == slots[0] ? Float.random(in: 0.5...1.5, using: &rng) : 0)
                activations.append(fires && number && p - 1 == slots[1] ? Float.random(in: 0.5...1.5, using: &rng) : 0)
            }
        }
        let specials = SyntheticDataset.special.compactMap { id[$0] }.map(String.init).joined(separator: ",")
        let writer = try DatasetWriter(
            url: url, contextLength: length, width: 2, tokens: tokens, mask: nil, dtype: .F32, vocabulary: vocabulary,
            metadata: ["model": "two-slot", "layer": "0", "hook": "planted", "special_token_ids": "[\(specials)]"])
        try writer.append(activations)
        try writer.finish()
    }
}
