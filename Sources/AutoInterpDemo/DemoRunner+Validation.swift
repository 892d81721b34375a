import AutoInterp
import Foundation

extension DemoRunner.Options {
    /// MiniLM-L6's layers, MLP width and the demo SAE's width (4 × the MLP width); SmolLM2-135M's MLP
    /// is as wide (``DecoderDemoPlan``).
    static let layers = 0...5
    static let mlpWidth = 1536
    static let featureWidth = 4 * 1536

    /// Checks the options before anything is fetched or computed.
    ///
    /// - Throws: ``AutoInterpError/invalidInput(_:)`` naming the option and the accepted range.
    package func validate() throws {
        let featureWidth: Int
        switch model {
        case .minilm:
            guard Self.layers.contains(layer) else {
                throw AutoInterpError.invalidInput("--layer must be 0-5 (MiniLM-L6 has 6 layers), got \(layer)")
            }
            featureWidth = Self.featureWidth
        case .smollm2:
            featureWidth = try DecoderDemoPlan(layer: layer).featureWidth
        }
        guard (0...featureWidth).contains(features) else {
            throw AutoInterpError.invalidInput("--features must be between 0 and \(featureWidth) (the demo SAE's width), got \(features)")
        }
        guard (0...Self.mlpWidth).contains(neurons) else {
            throw AutoInterpError.invalidInput("--neurons must be between 0 and \(Self.mlpWidth) (the layer's MLP width), got \(neurons)")
        }
        guard features + neurons > 0 else { throw AutoInterpError.invalidInput("--features and --neurons are both 0: nothing to study") }
        guard (1...1_000_000).contains(snippets) else {
            throw AutoInterpError.invalidInput("--snippets must be between 1 and 1000000, got \(snippets)")
        }
    }
}
