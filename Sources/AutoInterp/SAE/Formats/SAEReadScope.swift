import Foundation
public import Logging

/// Which parts of an SAE a load reads.
///
/// Selection (`select`, `run`) and `encode` never need the decoder, and selection needs only the
/// studied features' encoder columns: with `.features`, memory and load time scale with the
/// features studied, not with `d_sae`, and `W_dec` is never read (its pages are not touched).
public struct SAEReadScope {
    enum Mode {
        case all
        case encoder(pick: ((Int) throws -> [Int])?)
        /// The picked features' encoder columns and the whole decoder (hard negatives' neighbours).
        case withDecoder(pick: (Int) throws -> [Int])
    }

    let mode: Mode
    /// Where the plan's info line goes (a TopK SAE read whole); nil for none.
    var logger: Logger?

    /// Every tensor, the decoder included (`sae inspect`, tests, anything that reconstructs).
    public static var all: SAEReadScope { SAEReadScope(mode: .all) }

    /// The encoder side of every feature, no decoder (`encode`). A TopK SAE that rescales by the
    /// decoder norms still reads `W_dec`.
    public static var encoder: SAEReadScope { SAEReadScope(mode: .encoder(pick: nil)) }

    /// The encoder side of the features `pick` returns when given `d_sae` (in that order), and no
    /// decoder.
    ///
    /// ReLU, JumpReLU and gated activations are per feature, so the subset encodes exactly as the
    /// full SAE's columns. A TopK activation needs every pre-activation to find the k-th largest,
    /// so a TopK SAE reads its whole encoder (an info line to `logger` says so).
    public static func features(_ pick: @escaping (_ dSAE: Int) throws -> [Int], logger: Logger? = nil) -> SAEReadScope {
        SAEReadScope(mode: .encoder(pick: pick), logger: logger)
    }

    /// As ``features(_:)``, and the whole decoder too (`W_dec`, `d_sae × d_in` floats): selection
    /// with hard negatives finds each studied feature's nearest features by decoder cosine.
    public static func featuresWithDecoder(_ pick: @escaping (_ dSAE: Int) throws -> [Int], logger: Logger? = nil) -> SAEReadScope {
        SAEReadScope(mode: .withDecoder(pick: pick), logger: logger)
    }

    /// What to read for an SAE of `dSAE` features.
    ///
    /// - Parameter decoderNeeded: the encoder itself needs `W_dec` (TopK rescaled by decoder norms).
    /// - Throws: what `pick` throws, or `AutoInterpError.invalidInput` for a feature out of range.
    func plan(dSAE: Int, architecture: SAEConfig.Architecture, decoderNeeded: Bool, path: String) throws -> SAEReadPlan {
        switch mode {
        case .all:
            return SAEReadPlan(columns: nil, readsDecoder: true)
        case .encoder(nil):
            return SAEReadPlan(columns: nil, readsDecoder: decoderNeeded)
        case .withDecoder(let pick):
            var plan = try SAEReadScope(mode: .encoder(pick: pick), logger: logger).plan(
                dSAE: dSAE, architecture: architecture, decoderNeeded: true, path: path)
            plan.readsDecoder = true
            return plan
        case .encoder(let pick?):
            let features = try pick(dSAE)
            if let bad = features.first(where: { $0 < 0 || $0 >= dSAE }) {
                throw AutoInterpError.invalidInput("feature \(bad) is out of range: \(path) has \(dSAE) features (0-\(dSAE - 1))")
            }
            if architecture == .topk && !features.isEmpty {
                logger?.info(
                    "\(path): topk SAE: reading every feature's encoder column (\(dSAE)), not only the \(features.count) studied, because top-k needs all pre-activations to find the k largest"
                )
                return SAEReadPlan(columns: nil, readsDecoder: decoderNeeded)
            }
            return SAEReadPlan(columns: features, readsDecoder: false)
        }
    }
}

/// The resolved `SAEReadScope` for one SAE.
struct SAEReadPlan {
    /// The features whose columns to read, in order; nil for all.
    var columns: [Int]?
    var readsDecoder: Bool
}
