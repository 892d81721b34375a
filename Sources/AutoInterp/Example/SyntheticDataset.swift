import Foundation

/// A small generated dataset with planted units, for tests, benchmarks and the built-in example.
///
/// Contexts are sentences over a vocabulary of word classes. Neuron `0` fires on animal words
/// (a clean unit), neuron `1` fires on numbers, colours and the word after "the" (a mixed unit),
/// neuron `2` fires on the token after a comma (context-dependent); the rest are dense noise.
public enum SyntheticDataset {
    public static let animals = ["cat", "dog", "horse", "owl", "fox", "whale", "mouse", "tiger"]
    public static let numbers = ["one", "two", "three", "seven", "ten", "twelve"]
    public static let colours = ["red", "green", "blue", "yellow", "purple"]
    public static let verbs = ["runs", "sees", "eats", "finds", "likes", "hears"]
    public static let places = ["park", "river", "house", "forest", "city"]
    public static let function = ["the", "a", "in", "and", "of", ",", "."]
    public static let special = ["[PAD]", "[CLS]", "[SEP]"]

    /// Token strings by id: special tokens first.
    public static var vocabulary: [String] { special + function + animals + numbers + colours + verbs + places }

    /// Generates tokens, mask and activations.
    ///
    /// - Returns: row-major tokens and mask `[contexts, length]` and activations `[contexts, length, width]`.
    public static func generate(contexts: Int, length: Int, width: Int, seed: UInt64) -> (tokens: [Int32], mask: [UInt8], activations: [Float]) {
        precondition(width >= 3 && length >= 4)
        let vocab = vocabulary
        let id = Dictionary(uniqueKeysWithValues: vocab.enumerated().map { ($1, Int32($0)) })
        var rng = SeededGenerator(seed: seed)
        var tokens = [Int32](repeating: id["[PAD]"]!, count: contexts * length)
        var mask = [UInt8](repeating: 0, count: contexts * length)
        var activations = [Float](repeating: 0, count: contexts * length * width)
        let animalIDs = Set(animals.map { id[$0]! })
        let numberIDs = Set(numbers.map { id[$0]! })
        let colourIDs = Set(colours.map { id[$0]! })
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
                let t = c * length + p
                tokens[t] = id[word]!
                mask[t] = 1
            }
            for p in 0..<length {
                let t = c * length + p
                let token = tokens[t]
                let previous = p > 0 ? tokens[t - 1] : -1
                let base = t * width
                for n in 0..<width { activations[base + n] = Float(rng.nextGaussian()) * 0.1 }
                guard mask[t] == 1 else { continue }
                if animalIDs.contains(token) { activations[base] = 2 + Float(token % 3) * 0.5 + Float(rng.nextGaussian()) * 0.05 } else {
                    activations[base] = min(activations[base], 0)
                }
                var mixed: Float = 0
                if numberIDs.contains(token) { mixed = 1.5 }
                if colourIDs.contains(token) { mixed = 1.0 }
                if previous == theID { mixed = max(mixed, 2.0) }
                activations[base + 1] = mixed > 0 ? mixed + Float(rng.nextGaussian()) * 0.2 : min(activations[base + 1], 0)
                activations[base + 2] = previous == commaID ? 3 : min(activations[base + 2], 0)
            }
        }
        return (tokens, mask, activations)
    }

    /// Writes a generated dataset (+ `vocab.json`) to `url`.
    public static func write(to url: URL, contexts: Int, length: Int, width: Int, seed: UInt64, dtype: SafeTensorsDType = .F32) throws {
        let data = generate(contexts: contexts, length: length, width: width, seed: seed)
        let specials = special.indices.map(String.init).joined(separator: ",")
        let writer = try DatasetWriter(
            url: url, contextLength: length, width: width, tokens: data.tokens, mask: data.mask, dtype: dtype,
            vocabulary: vocabulary, metadata: ["model": "synthetic", "layer": "0", "hook": "planted", "special_token_ids": "[\(specials)]"])
        try writer.append(data.activations)
        try writer.finish()
    }
}
