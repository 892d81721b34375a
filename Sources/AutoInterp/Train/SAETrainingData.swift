import Foundation

/// Token rows of an activation dataset gathered into memory for SAE training, with a held-out slice.
///
/// Only real tokens (mask = 1) are taken, and special tokens (`special_token_ids`) are left out
/// unless asked for. Contexts are visited in an order shuffled by the seed; the first contexts
/// visited form the held-out evaluation set, so training and evaluation never share a context.
package struct SAETrainingData: Sendable {
    /// Activation width.
    package let width: Int
    /// Training rows `[trainingTokens, width]` row-major.
    package var training: [Float]
    /// Held-out rows `[heldOutTokens, width]` row-major.
    package var heldOut: [Float]

    package var trainingTokens: Int { training.count / width }
    package var heldOutTokens: Int { heldOut.count / width }

    package init(width: Int, training: [Float], heldOut: [Float]) {
        self.width = width
        self.training = training
        self.heldOut = heldOut
    }

    /// Reads up to `maxTokens` training tokens and about `heldOutTokens` evaluation tokens from `dataset`.
    ///
    /// - Throws: `AutoInterpError.invalidFile` if the activations hold a non-finite value, `.invalidInput` if no token qualifies.
    package static func load(
        from dataset: ActivationDataset, maxTokens: Int? = nil, heldOutTokens: Int = 8192, includeSpecialTokens: Bool = false,
        seed: UInt64 = 0
    ) throws -> SAETrainingData {
        let width = dataset.width
        let length = dataset.contextLength
        var random = TrainingRandom(seed: seed ^ 0xDA7A)
        var contexts = Array(0..<dataset.contextCount)
        contexts.shuffle(using: &random)
        func selectable(_ context: Int) -> [Int] {
            (0..<length).filter { dataset.isSelectable(token: context * length + $0, includeSpecial: includeSpecialTokens) }
        }
        let available = contexts.reduce(0) { $0 + selectable($1).count }
        guard available > 0 else {
            throw AutoInterpError.invalidInput("\(dataset.url.path): no real tokens to train on (mask all zero, or only special tokens)")
        }
        // Keep at least half of the tokens for training when the dataset is small.
        let heldOutTarget = min(max(0, heldOutTokens), available / 2)
        let trainingTarget = min(maxTokens ?? Int.max, available - heldOutTarget)
        var heldOut: [Float] = []
        var training: [Float] = []
        heldOut.reserveCapacity(heldOutTarget * width)
        training.reserveCapacity(trainingTarget * width)
        let buffer = FloatBuffer(length * width)
        for context in contexts {
            let heldOutCount = heldOut.count / width
            let trainingCount = training.count / width
            if heldOutCount >= heldOutTarget && trainingCount >= trainingTarget { break }
            let positions = selectable(context)
            guard !positions.isEmpty else { continue }
            try dataset.readActivations(contexts: context..<(context + 1), into: buffer.pointer)
            // Whole contexts go to one side, so held-out and training never share a context.
            let toHeldOut = heldOutCount < heldOutTarget
            for position in positions {
                let row = UnsafeBufferPointer(start: buffer.pointer + position * width, count: width)
                if toHeldOut {
                    heldOut.append(contentsOf: row)
                } else if training.count / width < trainingTarget {
                    training.append(contentsOf: row)
                }
            }
            dataset.releasePages(contexts: context..<(context + 1))
        }
        return SAETrainingData(width: width, training: training, heldOut: heldOut)
    }
}
