package import AutoInterp
package import Foundation

/// A planted dataset of signed neurons for `--neuron-sign` tests: 240 contexts × 12 tokens, width 4.
///
/// - neuron 0: +4 on `cat`, −4 on `river`, 0 elsewhere (one concept per side);
/// - neuron 1: −3 on `cat` only (never positive: its positive side is dead);
/// - neuron 2: small noise of both signs on `the` and `a` only (it never fires with neuron 0);
/// - neuron 3: −2 on `river` and on `old` (it fires below 0 with neuron 0, so it is neuron 0's
///   nearest negative-side neighbour and `old` contexts without `river` are its hard negatives).
package enum SignedDataset {
    package static let vocabulary = [
        "[PAD]", "[CLS]", "[SEP]", "the", "a", "of", "and", "on", "big", "small", "old", "new", "cat", "river",
    ]
    package static let cat: Int32 = 12, river: Int32 = 13, old: Int32 = 10
    package static let contexts = 240, length = 12, width = 4

    /// The activations of one token.
    package static func activations(token: Int32, noise: Float) -> [Float] {
        [
            token == cat ? 4 : token == river ? -4 : 0, token == cat ? -3 : 0, token <= 4 ? noise : 0,
            token == river || token == old ? -2 : 0,
        ]
    }

    /// Writes `signed.safetensors` (+ `vocab.json`) into `dir`.
    package static func write(in dir: TemporaryDirectory) throws -> URL {
        let url = dir.path("signed.safetensors")
        var rng = SeededGenerator(seed: 18)
        var tokens: [Int32] = [], values: [Float] = []
        for _ in 0..<contexts {
            for _ in 0..<length {
                let draw = Int.random(in: 0..<20, using: &rng)
                let token: Int32 = draw == 0 ? cat : draw == 1 ? river : Int32.random(in: 3...11, using: &rng)
                tokens.append(token)
                values += activations(token: token, noise: Float.random(in: -0.2...0.2, using: &rng))
            }
        }
        let writer = try DatasetWriter(
            url: url, contextLength: length, width: width, tokens: tokens, mask: [UInt8](repeating: 1, count: tokens.count),
            vocabulary: vocabulary,
            metadata: ["model": "planted-signed", "hook": "blocks.0.mlp.hook_post", "special_token_ids": "[0,1,2]"])
        try writer.append(values)
        try writer.finish()
        return url
    }
}
