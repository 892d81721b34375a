import Foundation

/// A name that is a plain string on disk and in JSON (stage names, score metrics and subsets):
/// encodes as the bare string, not as an object.
public protocol StringName: RawRepresentable, Hashable, Sendable, Codable, ExpressibleByStringLiteral
where RawValue == String {
    init(rawValue: String)
}

extension StringName {
    public init(stringLiteral value: String) { self.init(rawValue: value) }

    public init(from decoder: any Decoder) throws {
        self.init(rawValue: try decoder.singleValueContainer().decode(String.self))
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(rawValue)
    }
}
