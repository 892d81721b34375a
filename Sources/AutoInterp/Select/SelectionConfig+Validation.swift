import AutoInterpLLM
import Foundation

extension SelectionConfig {
    /// The most examples of one kind a unit may ask for: far more than any prompt holds, small
    /// enough that every count and their sums stay far from overflow and allocations stay small.
    public static let maxPerUnit = 100_000

    /// Checks every count before any work: each in range, named by its CLI option.
    ///
    /// - Throws: ``AutoInterpError/invalidInput(_:)`` naming the option and the accepted range.
    public func validate() throws {
        let counts: [(String, Int, Int)] = [
            ("\(Setting.explainTop)", explainTop, 1), ("\(Setting.scoreTop)", scoreTop, 0), ("\(Setting.scoreRandom)", scoreRandom, 0),
            ("\(Setting.perBin)", quantilePerBin, 0), ("\(Setting.nonActivating)", nonActivating, 0), ("quantile bins", quantileBins, 1),
            ("histogram bins", histogramBins, 1), ("\(Setting.classifySilent)", classifySilent, 0),
            ("\(Setting.hardNegatives)", hardNegatives, 0),
        ]
        for (name, value, least) in counts where !(least...Self.maxPerUnit).contains(value) {
            throw AutoInterpError.invalidInput("\(name) must be between \(least) and \(Self.maxPerUnit), got \(value)")
        }
        let perDecileLimit = Self.maxPerUnit / Self.classifyDeciles
        guard (0...perDecileLimit).contains(classifyPerDecile) else {
            throw AutoInterpError.invalidInput("\(Setting.classifyPerDecile) must be between 0 and \(perDecileLimit), got \(classifyPerDecile)")
        }
    }
}
