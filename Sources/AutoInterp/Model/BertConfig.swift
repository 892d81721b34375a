import AutoInterpLLM
package import Foundation

/// The shape and settings of a BERT-family encoder, read from Hugging Face's `config.json`.
package struct BertConfig: Sendable, Equatable, Codable {
    package var vocabSize: Int
    package var hiddenSize: Int
    package var numHiddenLayers: Int
    package var numAttentionHeads: Int
    package var intermediateSize: Int
    /// The MLP activation: `gelu` (exact, erf form), `gelu_new` / `gelu_pytorch_tanh` (tanh form) or `relu`.
    package var hiddenAct: String
    package var layerNormEps: Float
    package var maxPositionEmbeddings: Int
    package var typeVocabSize: Int
    /// Only `absolute` is supported.
    package var positionEmbeddingType: String
    /// `_name_or_path` when the file has it.
    package var nameOrPath: String?

    enum CodingKeys: String, CodingKey {
        case vocabSize = "vocab_size"
        case hiddenSize = "hidden_size"
        case numHiddenLayers = "num_hidden_layers"
        case numAttentionHeads = "num_attention_heads"
        case intermediateSize = "intermediate_size"
        case hiddenAct = "hidden_act"
        case layerNormEps = "layer_norm_eps"
        case maxPositionEmbeddings = "max_position_embeddings"
        case typeVocabSize = "type_vocab_size"
        case positionEmbeddingType = "position_embedding_type"
        case nameOrPath = "_name_or_path"
    }

    package init(
        vocabSize: Int, hiddenSize: Int, numHiddenLayers: Int, numAttentionHeads: Int, intermediateSize: Int,
        hiddenAct: String = "gelu", layerNormEps: Float = 1e-12, maxPositionEmbeddings: Int = 512,
        typeVocabSize: Int = 2, positionEmbeddingType: String = "absolute", nameOrPath: String? = nil
    ) {
        self.vocabSize = vocabSize
        self.hiddenSize = hiddenSize
        self.numHiddenLayers = numHiddenLayers
        self.numAttentionHeads = numAttentionHeads
        self.intermediateSize = intermediateSize
        self.hiddenAct = hiddenAct
        self.layerNormEps = layerNormEps
        self.maxPositionEmbeddings = maxPositionEmbeddings
        self.typeVocabSize = typeVocabSize
        self.positionEmbeddingType = positionEmbeddingType
        self.nameOrPath = nameOrPath
    }

    package init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        vocabSize = try c.decode(Int.self, forKey: .vocabSize)
        hiddenSize = try c.decode(Int.self, forKey: .hiddenSize)
        numHiddenLayers = try c.decode(Int.self, forKey: .numHiddenLayers)
        numAttentionHeads = try c.decode(Int.self, forKey: .numAttentionHeads)
        intermediateSize = try c.decode(Int.self, forKey: .intermediateSize)
        hiddenAct = try c.decodeIfPresent(String.self, forKey: .hiddenAct) ?? "gelu"
        layerNormEps = try c.decodeIfPresent(Float.self, forKey: .layerNormEps) ?? 1e-12
        maxPositionEmbeddings = try c.decodeIfPresent(Int.self, forKey: .maxPositionEmbeddings) ?? 512
        typeVocabSize = try c.decodeIfPresent(Int.self, forKey: .typeVocabSize) ?? 2
        positionEmbeddingType = try c.decodeIfPresent(String.self, forKey: .positionEmbeddingType) ?? "absolute"
        nameOrPath = try c.decodeIfPresent(String.self, forKey: .nameOrPath)
    }

    /// Width of one attention head.
    package var headSize: Int { hiddenSize / numAttentionHeads }

    /// Reads `config.json` of a model folder.
    ///
    /// - Throws: `AutoInterpError` if the file is missing, malformed or describes a model this runner does not handle.
    package static func load(_ url: URL) throws -> BertConfig {
        guard FileManager.default.fileExists(atPath: url.path) else {
            throw AutoInterpError.invalidFile(
                url.deletingLastPathComponent().path, "no config.json; \(Setting.model) must be a Hugging Face BERT model folder")
        }
        let data: Data
        do {
            data = try Data(contentsOf: url)
        } catch {
            throw AutoInterpError.invalidFile(url.path, "cannot read the model config (\(error.localizedDescription)); a BERT model folder needs config.json")
        }
        let config: BertConfig
        do {
            config = try JSONDecoder().decode(BertConfig.self, from: data)
        } catch {
            throw AutoInterpError.invalidFile(url.path, "not a BERT config.json (\(Self.describe(error))); expected hidden_size, num_hidden_layers, num_attention_heads, intermediate_size, vocab_size")
        }
        try config.validate(source: url.path)
        return config
    }

    /// Checks the settings this runner depends on.
    package func validate(source: String = "config.json") throws {
        guard hiddenSize > 0, numAttentionHeads > 0, hiddenSize % numAttentionHeads == 0 else {
            throw AutoInterpError.invalidFile(source, "hidden_size \(hiddenSize) is not a positive multiple of num_attention_heads \(numAttentionHeads)")
        }
        guard numHiddenLayers > 0, intermediateSize > 0, vocabSize > 0, maxPositionEmbeddings > 0 else {
            throw AutoInterpError.invalidFile(source, "layer count, intermediate size, vocabulary and positions must be positive")
        }
        guard positionEmbeddingType == "absolute" else {
            throw AutoInterpError.unsupported("\(source): position_embedding_type '\(positionEmbeddingType)' is not supported; only absolute position embeddings are")
        }
        guard BertActivation(hiddenAct) != nil else {
            throw AutoInterpError.unsupported("\(source): hidden_act '\(hiddenAct)' is not supported; use gelu, gelu_new, gelu_pytorch_tanh or relu")
        }
    }

    private static func describe(_ error: any Error) -> String {
        switch error {
        case DecodingError.keyNotFound(let key, _): return "missing \(key.stringValue)"
        case DecodingError.typeMismatch(_, let context), DecodingError.valueNotFound(_, let context):
            return "bad value at \(context.codingPath.map(\.stringValue).joined(separator: "."))"
        default: return "invalid JSON"
        }
    }
}

/// The MLP non-linearity of a BERT layer.
package enum BertActivation: Sendable {
    /// `x * Φ(x)`, exact (erf) form: Hugging Face's `gelu`.
    case gelu
    /// The tanh approximation: `gelu_new`, `gelu_pytorch_tanh`, `gelu_fast`.
    case geluTanh
    case relu

    package init?(_ name: String) {
        switch name {
        case "gelu": self = .gelu
        case "gelu_new", "gelu_pytorch_tanh", "gelu_fast": self = .geluTanh
        case "relu": self = .relu
        default: return nil
        }
    }
}
