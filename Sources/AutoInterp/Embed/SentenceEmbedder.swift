import AutoInterpLLM
package import Foundation
import Synchronization

/// A sentence-embedding model run on the CPU: a BERT-family encoder (``BertModel``) with its
/// WordPiece tokenizer and the folder's pooling (``SentencePooling``), computing what
/// sentence-transformers' `SentenceTransformer.encode` returns for the same folder.
///
/// A text is tokenised as `[CLS] pieces… [SEP]`, cut to the pooling's `max_seq_length` (or the
/// model's positions), run through every layer, pooled over its real tokens (no padding exists:
/// sequences are packed), and L2-normalised when the folder's modules say so.
package final class SentenceEmbedder: Sendable {
    package let model: BertModel
    package let tokenizer: WordPieceTokenizer
    package let pooling: SentencePooling
    /// The folder it was loaded from, and its name (`_name_or_path`, else the folder's name).
    package let directory: URL?
    package let name: String
    /// The name and a fingerprint of the weights: what the run's identity records (`pipeline.embedder`).
    package let identity: String

    /// Texts run through the model in one forward pass (packed, so memory is this many sequences' tokens).
    private static let batch = 32
    /// The contexts embedded so far in this process (``embedContexts(_:)``).
    package let contexts: EmbeddingCache
    private let embedded = Mutex(0)

    package init(
        model: BertModel, tokenizer: WordPieceTokenizer, pooling: SentencePooling, directory: URL? = nil, name: String,
        identity: String? = nil, contextCache: Int = EmbeddingCache.defaultCapacity
    ) {
        self.contexts = EmbeddingCache(capacity: contextCache)
        self.model = model
        self.tokenizer = tokenizer
        self.pooling = pooling
        self.directory = directory
        self.name = name
        self.identity = identity ?? name
    }

    /// The sentence-embedding model in a Hugging Face / sentence-transformers folder: `config.json`,
    /// `model.safetensors`, `vocab.txt` (+ `tokenizer.json`), and where present `modules.json`,
    /// `1_Pooling/config.json`, `sentence_bert_config.json`.
    ///
    /// - Throws: ``AutoInterpError`` naming the folder or file and the fix.
    /// - Parameter contextCache: context vectors kept for reuse (``embedContexts(_:)``); 0 keeps none.
    package static func load(directory: URL, contextCache: Int = EmbeddingCache.defaultCapacity) throws -> SentenceEmbedder {
        var isFolder: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory.path, isDirectory: &isFolder), isFolder.boolValue else {
            throw AutoInterpError.invalidOption(
                .embedder, "\(directory.path) is not a folder: pass a sentence-embedding model folder (config.json, model.safetensors, vocab.txt)")
        }
        let model = try BertModel.load(directory: directory)
        let tokenizer = try WordPieceTokenizer.load(modelDirectory: directory)
        let pooling = try SentencePooling.load(directory: directory)
        let name = model.config.nameOrPath.flatMap { $0.isEmpty ? nil : $0 } ?? directory.lastPathComponent
        let identity = "\(name) sha256:\(try fingerprint(directory))"
        return SentenceEmbedder(
            model: model, tokenizer: tokenizer, pooling: pooling, directory: directory, name: name, identity: identity,
            contextCache: contextCache)
    }

    /// 16 hex digits of SHA-256 over `config.json`, the tokenizer and pooling files and the first 2 MiB and
    /// last 1 MiB of `model.safetensors` (its header and the first and last tensors): another
    /// checkpoint of the same architecture (a fine-tune) gets another fingerprint, without
    /// hashing the whole file at every start.
    static func fingerprint(_ directory: URL) throws -> String {
        var bytes: [UInt8] = []
        for file in ["config.json", "vocab.txt", "tokenizer.json", "modules.json", "1_Pooling/config.json", "sentence_bert_config.json"] {
            if let data = FileManager.default.contents(atPath: directory.appendingPathComponent(file).path) { bytes += data }
        }
        let weights = directory.appendingPathComponent("model.safetensors")
        do {
            let handle = try FileHandle(forReadingFrom: weights)
            defer { try? handle.close() }
            bytes += try handle.read(upToCount: 2 << 20) ?? Data()
            let size = try handle.seekToEnd()
            try handle.seek(toOffset: size > (3 << 20) ? size - (1 << 20) : size)
            bytes += try handle.readToEnd() ?? Data()
        } catch {
            throw AutoInterpError.io(weights.path, "cannot be read (\(error.localizedDescription))")
        }
        return String(SHA256.hex(bytes).prefix(16))
    }

    /// Width of an embedding.
    package var dimension: Int { model.config.hiddenSize }

    /// The longest tokenised input, `[CLS]` and `[SEP]` included.
    package var maxLength: Int { min(pooling.maxSequenceLength ?? model.config.maxPositionEmbeddings, model.config.maxPositionEmbeddings) }

    /// One embedding per text, in order (each `dimension` wide).
    ///
    /// - Throws: ``AutoInterpError`` from the model (a token id outside its vocabulary).
    package func embed(_ texts: [String]) throws -> [[Float]] {
        embedded.withLock { $0 += texts.count }
        var out: [[Float]] = []
        out.reserveCapacity(texts.count)
        var start = 0
        while start < texts.count {
            let end = min(start + Self.batch, texts.count)
            let sequences = texts[start..<end].map { tokenizer.encode($0, maxLength: maxLength).ids }
            let hidden = try model.lastHiddenState(sequences)
            var row = 0
            for sequence in sequences {
                out.append(pool(hidden, rows: row..<(row + sequence.count)))
                row += sequence.count
            }
            start = end
        }
        return out
    }

    /// Texts run through the model so far (``embed(_:)``), for tests and logs.
    package var textsEmbedded: Int { embedded.withLock { $0 } }

    /// One embedding per context text, in order, each distinct text through the model once while
    /// ``contexts`` holds it: the embedding stage's `classify` contexts serve the intruder's local
    /// answerer (the same unit's contexts, embedded just before). The same vectors as ``embed(_:)``.
    package func embedContexts(_ texts: [String]) throws -> [[Float]] {
        var known: [String: [Float]] = [:]
        var missing: [String] = []
        for text in texts where known[text] == nil {
            if let vector = contexts.vector(text) {
                known[text] = vector
            } else if !missing.contains(text) {
                missing.append(text)
            }
        }
        let fresh = Array(zip(missing, try embed(missing)))
        contexts.keep(fresh.map { (text: $0.0, vector: $0.1) })
        for (text, vector) in fresh { known[text] = vector }
        return texts.map { known[$0] ?? [] }
    }

    /// The pooled (and normalised) vector of `rows` of `hidden`.
    private func pool(_ hidden: [Float], rows: Range<Int>) -> [Float] {
        let h = dimension
        var v = [Float](repeating: pooling.mode == .max ? -.infinity : 0, count: h)
        switch pooling.mode {
        case .cls:
            for k in 0..<h { v[k] = hidden[rows.lowerBound * h + k] }
        case .max:
            for r in rows { for k in 0..<h { v[k] = max(v[k], hidden[r * h + k]) } }
        case .mean, .meanSqrtLength:
            for r in rows { for k in 0..<h { v[k] += hidden[r * h + k] } }
            let divisor = pooling.mode == .mean ? Float(rows.count) : Float(rows.count).squareRoot()
            for k in 0..<h { v[k] /= max(divisor, 1e-9) }
        }
        if pooling.normalize {
            // torch.nn.functional.normalize: v / max(‖v‖, 1e-12).
            let norm = max(v.reduce(0) { $0 + $1 * $1 }.squareRoot(), 1e-12)
            for k in 0..<h { v[k] /= norm }
        }
        return v
    }

    /// Cosine similarity of two embeddings (0 when either is zero).
    package static func cosine(_ a: [Float], _ b: [Float]) -> Double {
        var dot = 0.0, na = 0.0, nb = 0.0
        for k in 0..<min(a.count, b.count) {
            dot += Double(a[k]) * Double(b[k])
            na += Double(a[k]) * Double(a[k])
            nb += Double(b[k]) * Double(b[k])
        }
        guard na > 0, nb > 0 else { return 0 }
        return dot / (na.squareRoot() * nb.squareRoot())
    }
}
