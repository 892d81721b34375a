import Foundation

/// A user setting a library message points at (`sae`, `max in flight`), by its name in words.
///
/// A message mentions a setting by interpolating it (`"pass \(Setting.sae) DIR"`); the text
/// then carries a marked mention that ``render(_:as:)`` turns into a front end's own name for the
/// setting (the CLI: `--sae`). The errors' `description` shows a mention as `` `sae` ``. So the
/// library states the fact and names the setting, and only the CLI speaks of flags.
public struct Setting: RawRepresentable, Hashable, Sendable, ExpressibleByStringLiteral, CustomStringConvertible {
    public var rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }
    public init(stringLiteral value: String) { self.init(rawValue: value) }

    /// The marked mention (private-use delimiters around the name), what interpolation inserts.
    public var description: String { "\(Self.open)\(rawValue)\(Self.close)" }

    private static let open: Unicode.Scalar = "\u{E000}"
    private static let close: Unicode.Scalar = "\u{E001}"

    /// `text` with each mention replaced by `name(setting)`; an unpaired delimiter is dropped.
    public static func render(_ text: String, as name: (Setting) -> String) -> String {
        guard text.unicodeScalars.contains(where: { $0 == open || $0 == close }) else { return text }
        var out = ""
        var mention: String.UnicodeScalarView?
        for scalar in text.unicodeScalars {
            switch scalar {
            case open:
                if let pending = mention { out.unicodeScalars.append(contentsOf: pending) }
                mention = String.UnicodeScalarView()
            case close:
                if let pending = mention { out += name(Setting(rawValue: String(pending))) }
                mention = nil
            default:
                if mention != nil { mention!.append(scalar) } else { out.unicodeScalars.append(scalar) }
            }
        }
        if let pending = mention { out.unicodeScalars.append(contentsOf: pending) }
        return out
    }

    /// `text` with each mention as `` `name` `` (how a library caller reads a message).
    public static func plain(_ text: String) -> String { render(text) { "`\($0.rawValue)`" } }

    /// The settings mentioned in `text`, in order.
    public static func mentions(in text: String) -> [Setting] {
        var found: [Setting] = []
        _ = render(text) { found.append($0); return "" }
        return found
    }
}

extension Setting {
    public static let endpoint: Setting = "endpoint"
    public static let endpoints: Setting = "endpoints"
    public static let model: Setting = "model"
    public static let apiKeyEnv: Setting = "api key env"
    public static let timeout: Setting = "timeout"
    public static let maxInFlight: Setting = "max in flight"
    public static let rpm: Setting = "rpm"
    public static let tpm: Setting = "tpm"
    public static let priceInput: Setting = "price input"
    public static let priceOutput: Setting = "price output"
    public static let maxResponseBytes: Setting = "max response bytes"
    public static let simulatorMode: Setting = "simulator mode"
    public static let batch: Setting = "batch"
    public static let batchRetry: Setting = "batch retry"
}
