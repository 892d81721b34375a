import AutoInterpLLM
import Foundation

extension RunRequest {
    /// Most records per simulator call, explanations sampled per unit and units in flight accepted.
    public static let maxRecordsPerCall = 1_000
    public static let maxExplainerSamples = 100
    public static let maxUnitsInFlight = 100_000
    /// Most examples per detection / fuzzing call (the answer lists one digit per example).
    public static let maxClassifyPerCall = 100

    /// Checks every option of `autointerp run` before any work (the preparation's too).
    ///
    /// - Throws: ``AutoInterpError/invalidOption(_:_:)`` naming the setting and the accepted range.
    public func validate() throws {
        guard (1...Self.maxRecordsPerCall).contains(recordsPerCall) else {
            throw AutoInterpError.invalidOption(.recordsPerCall, "must be between 1 and \(Self.maxRecordsPerCall), got \(recordsPerCall)")
        }
        guard (1...Self.maxExplainerSamples).contains(explainerSamples) else {
            throw AutoInterpError.invalidOption(.explainerSamples, "must be between 1 and \(Self.maxExplainerSamples), got \(explainerSamples)")
        }
        guard (1...Self.maxClassifyPerCall).contains(classifyPerCall) else {
            throw AutoInterpError.invalidOption(.classifyPerCall, "must be between 1 and \(Self.maxClassifyPerCall), got \(classifyPerCall)")
        }
        if let unitsInFlight, !(1...Self.maxUnitsInFlight).contains(unitsInFlight) {
            throw AutoInterpError.invalidOption(.unitsInFlight, "must be between 1 and \(Self.maxUnitsInFlight), got \(unitsInFlight)")
        }
        try baseline.validate()
        if let batch {
            try batch.validate()
            try batch.check(endpoint: endpoint)
            guard endpoint != nil else {
                throw AutoInterpError.invalidOption(.batch, "batches carry LLM requests: pass \(Setting.endpoint) and \(Setting.model), or drop \(Setting.batch)")
            }
        }
        try setup.validate()
    }
}
