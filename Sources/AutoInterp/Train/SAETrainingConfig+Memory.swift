import AutoInterpLLM
import Foundation

extension SAETrainingConfig {
    /// Bytes training needs, roughly: encoder and decoder weights with their gradients and two
    /// Adam moments (5 copies of 2 × d_in × d_sae floats), plus one batch's pre-activations,
    /// features and their gradients (4 × batch × d_sae floats) and the batch input.
    package func estimatedBytes(inputWidth dIn: Int) -> Double {
        let dSAE = Double(featureCount(inputWidth: dIn)), dIn = Double(dIn), batch = Double(batchSize)
        return 4 * (10 * dIn * dSAE + 4 * batch * dSAE + 2 * batch * dIn)
    }

    /// Refuses sizes the machine cannot hold, before anything is allocated.
    ///
    /// - Throws: ``AutoInterpError/invalidInput(_:)`` with the estimate, the machine's memory and the options to lower.
    func checkMemory(inputWidth dIn: Int) throws {
        let needed = estimatedBytes(inputWidth: dIn)
        let available = Double(ProcessInfo.processInfo.physicalMemory)
        guard needed <= available else {
            throw AutoInterpError.invalidInput(
                "train-sae: d_sae \(featureCount(inputWidth: dIn)) × d_in \(dIn) with batches of \(batchSize) needs about \(MemorySize.text(needed)) (weights, optimiser state, one batch), more than this machine's \(MemorySize.text(available)); lower \(Setting.dSAE), \(Setting.expansion) or \(Setting.batchSize)"
            )
        }
    }
}

/// Sizes in words for memory errors.
enum MemorySize {
    /// `1.5 GB`, `36.0 TB`, … (powers of 1000).
    static func text(_ bytes: Double) -> String {
        let units = ["B", "KB", "MB", "GB", "TB", "PB", "EB"]
        var value = bytes, unit = 0
        while value >= 1000, unit < units.count - 1 {
            value /= 1000
            unit += 1
        }
        return unit == 0 ? String(format: "%.0f B", value) : String(format: "%.1f %@", value, units[unit])
    }

    /// Whether `bytes` fits in physical memory with room to spare (at most `share` of it).
    static func fits(_ bytes: Double, share: Double = 0.8) -> Bool {
        bytes <= share * Double(ProcessInfo.processInfo.physicalMemory)
    }
}
