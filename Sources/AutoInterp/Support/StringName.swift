import Foundation

/// A name that is a plain string on disk and in JSON (stage names, score metrics and subsets):
/// encodes as the bare string, not as an object.
public protocol StringName: RawRepresentable, Hashable, Sendable, Codable, ExpressibleByStringLiteral, CodingKeyRepresentable
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

    /// As a dictionary key, a name encodes as the JSON object key it spells (not as an array of pairs).
    public var codingKey: any CodingKey { NameKey(stringValue: rawValue) }

    public init?<T: CodingKey>(codingKey: T) { self.init(rawValue: codingKey.stringValue) }
}

/// The coding key of a ``StringName`` used as a dictionary key.
private struct NameKey: CodingKey {
    var stringValue: String
    var intValue: Int? { nil }
    init(stringValue: String) { self.stringValue = stringValue }
    init?(intValue: Int) { nil }
}
