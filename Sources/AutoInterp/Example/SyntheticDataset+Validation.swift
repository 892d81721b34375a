import AutoInterpLLM
import Foundation

extension SyntheticDataset {
    /// Checks the sizes of `write(to:contexts:length:width:seed:)` before anything is allocated.
    ///
    /// - Throws: ``AutoInterpError/invalidInput(_:)`` naming the option and the accepted range.
    package static func validate(contexts: Int, length: Int, width: Int) throws {
        guard contexts >= 1 else { throw AutoInterpError.invalidInput("\(Setting.contexts) must be at least 1, got \(contexts)") }
        guard length >= 4 else { throw AutoInterpError.invalidInput("\(Setting.contextLength) must be at least 4, got \(length)") }
        guard width > concepts.count else {
            throw AutoInterpError.invalidInput("\(Setting.width) must be at least \(concepts.count + 1) (one neuron per planted concept and one more), got \(width)")
        }
        let bytes = 4 * 3 * Double(contexts) * Double(length) * Double(width)
        guard MemorySize.fits(bytes) else {
            throw AutoInterpError.invalidInput(
                "\(contexts) contexts × \(length) tokens × \(width) neurons need about \(MemorySize.text(bytes)), more than this machine's memory allows; lower \(Setting.contexts), \(Setting.contextLength) or \(Setting.width)")
        }
    }
}
