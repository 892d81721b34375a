import Foundation

/// The trainer's random stream: a ``SeededGenerator`` (SplitMix64) started one increment on,
/// so that training is reproducible from one seed.
struct TrainingRandom: RandomNumberGenerator, Sendable {
    private var base: SeededGenerator

    init(seed: UInt64) { base = SeededGenerator(seed: seed &+ 0x9E37_79B9_7F4A_7C15) }

    mutating func next() -> UInt64 { base.next() }

    /// A uniform `Float` in [0, 1).
    mutating func unitFloat() -> Float { base.nextUnitFloat() }

    /// A standard normal sample.
    mutating func gaussian() -> Float { base.nextGaussianFloat() }
}
