package import Foundation

/// A small generated dataset with planted concepts, for tests, benchmarks and the built-in example.
///
/// Contexts are sentences over a vocabulary of word classes. Each *concept* (animal word, number,
/// colour, word after "the", word after a comma, place, verb) adds a fixed direction to the
/// token's activation vector. The animal direction is neuron 0 alone, so neuron 0 is a clean,
/// monosemantic unit; the other directions are spread over the remaining neurons, so those
/// neurons mix several concepts (superposition). `writeSAE` writes the SAE whose features are
/// exactly the concept directions: the features are monosemantic where the neurons are not.
package enum SyntheticDataset {
    package static let animals = ["cat", "dog", "horse", "owl", "fox", "whale", "mouse", "tiger"]
    package static let numbers = ["one", "two", "three", "seven", "ten", "twelve"]
    package static let colours = ["red", "green", "blue", "yellow", "purple"]
    package static let verbs = ["runs", "sees", "eats", "finds", "likes", "hears"]
    package static let places = ["park", "river", "house", "forest", "city"]
    package static let function = ["the", "a", "in", "and", "of", ",", "."]
    package static let special = ["[PAD]", "[CLS]", "[SEP]"]

    /// Names of the planted concepts, in feature order of `writeSAE`.
    package static let concepts = ["animal", "number", "colour", "after-the", "after-comma", "place", "verb"]

    /// Token strings by id: special tokens first.
    package static var vocabulary: [String] { special + function + animals + numbers + colours + verbs + places }

    /// Unit-norm concept directions (`concepts.count × width`, row-major); concept 0 is neuron 0.
    package static func directions(width: Int, seed: UInt64) -> [Float] {
        precondition(width >= concepts.count + 1, "width must exceed the number of concepts")
        var rng = SeededGenerator(seed: seed, stream: 99)
        var rows: [[Double]] = [[1] + Array(repeating: 0, count: width - 1)]
        while rows.count < concepts.count {
            var v = [0] + (1..<width).map { _ in rng.nextGaussian() }
            for r in rows {  // Gram-Schmidt: orthogonal to every earlier concept
                let dot = zip(v, r).reduce(0) { $0 + $1.0 * $1.1 }
                v = zip(v, r).map { $0 - dot * $1 }
            }
            let norm = v.reduce(0) { $0 + $1 * $1 }.squareRoot()
            rows.append(v.map { $0 / norm })
        }
        return rows.flatMap { $0.map(Float.init) }
    }

    /// Generates tokens, mask and activations.
    ///
    /// - Returns: row-major tokens and mask `[contexts, length]` and activations `[contexts, length, width]`.
    package static func generate(contexts: Int, length: Int, width: Int, seed: UInt64) -> (tokens: [Int32], mask: [UInt8], activations: [Float]) {
        precondition(length >= 4)
        let vocab = vocabulary
        let id = Dictionary(uniqueKeysWithValues: vocab.enumerated().map { ($1, Int32($0)) })
        let dirs = directions(width: width, seed: seed)
        var rng = SeededGenerator(seed: seed)
        var tokens = [Int32](repeating: id["[PAD]"]!, count: contexts * length)
        var mask = [UInt8](repeating: 0, count: contexts * length)
        var activations = [Float](repeating: 0, count: contexts * length * width)
        let classOf: [Int32: Int] = Dictionary(
            uniqueKeysWithValues: [(animals, 0), (numbers, 1), (colours, 2), (places, 5), (verbs, 6)].flatMap { words, concept in
                words.map { (id[$0]!, concept) }
            })
        let theID = id["the"]!, commaID = id[","]!
        let classes = [animals, numbers, colours, verbs, places, function, function]
        for c in 0..<contexts {
            // Real lengths vary so that padding (mask = 0) is exercised.
            let real = Int.random(in: (length / 2)...length, using: &rng)
            var words: [String] = ["[CLS]"]
            while words.count < real - 1 {
                let cls = classes[Int.random(in: 0..<classes.count, using: &rng)]
                words.append(cls[Int.random(in: 0..<cls.count, using: &rng)])
            }
            words.append("[SEP]")
            for (p, word) in words.enumerated() {
                tokens[c * length + p] = id[word]!
                mask[c * length + p] = 1
            }
            for p in 0..<length {
                let t = c * length + p
                let base = t * width
                for n in 0..<width { activations[base + n] = Float(rng.nextGaussian()) * 0.05 }
                guard mask[t] == 1 else { continue }
                var strengths: [(Int, Float)] = []
                if let concept = classOf[tokens[t]] {
                    // Strength varies by word so activations are graded, not binary.
                    strengths.append((concept, 1.5 + Float(tokens[t] % 4) * 0.4))
                }
                if p > 0 && tokens[t - 1] == theID { strengths.append((3, 2.0)) }
                if p > 0 && tokens[t - 1] == commaID { strengths.append((4, 2.5)) }
                for (concept, strength) in strengths {
                    let s = strength + Float(rng.nextGaussian()) * 0.1
                    for n in 0..<width { activations[base + n] += s * dirs[concept * width + n] }
                }
            }
        }
        return (tokens, mask, activations)
    }

    /// Writes a generated dataset (+ `vocab.json`) to `url`.
    package static func write(to url: URL, contexts: Int, length: Int, width: Int, seed: UInt64, dtype: SafeTensorsDType = .F32) throws {
        try validate(contexts: contexts, length: length, width: width)
        let data = generate(contexts: contexts, length: length, width: width, seed: seed)
        let specials = special.indices.map(String.init).joined(separator: ",")
        let writer = try DatasetWriter(
            url: url, contextLength: length, width: width, tokens: data.tokens, mask: data.mask, dtype: dtype,
            vocabulary: vocabulary,
            metadata: ["model": "synthetic", "layer": "0", "hook": "planted-concepts", "special_token_ids": "[\(specials)]"])
        try writer.append(data.activations)
        try writer.finish()
    }

    /// The SAE whose features are the planted concept directions (feature i = `concepts[i]`).
    package static func sae(width: Int, seed: UInt64) -> SparseAutoencoder {
        let dirs = directions(width: width, seed: seed)
        let k = concepts.count
        var encoder = [Float](repeating: 0, count: width * k)
        for f in 0..<k {
            for n in 0..<width { encoder[n * k + f] = dirs[f * width + n] }
        }
        return SparseAutoencoder(
            config: SAEConfig(architecture: .standard, dIn: width, dSAE: k, applyBDecToInput: true, hookName: "planted-concepts", modelName: "synthetic"),
            encoderWeights: encoder, encoderBias: Array(repeating: -0.5, count: k), decoderWeights: dirs,
            decoderBias: Array(repeating: 0, count: width))
    }

    /// Writes `sae(width:seed:)` as an SAELens folder.
    package static func writeSAE(to folder: URL, width: Int, seed: UInt64) throws {
        try SAELensWriter.write(sae(width: width, seed: seed), to: folder)
    }
}
