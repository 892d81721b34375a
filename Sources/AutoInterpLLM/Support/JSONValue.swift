import Foundation

/// A parsed JSON value that keeps numbers, booleans and strings apart: what the answer parsers
/// (simulator, judge, classifiers) and the JSON-schema check read an LLM's JSON into.
package enum JSONValue: Decodable, Equatable, Sendable {
    case null
    case bool(Bool)
    case number(Double)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    package init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() {
            self = .null
        } else if let value = try? container.decode(Bool.self) {
            self = .bool(value)
        } else if let value = try? container.decode(Double.self) {
            self = .number(value)
        } else if let value = try? container.decode(String.self) {
            self = .string(value)
        } else if let value = try? container.decode([JSONValue].self) {
            self = .array(value)
        } else {
            self = .object(try container.decode([String: JSONValue].self))
        }
    }

    /// The value as an integer, when it is a number with no fractional part (JSON Schema's
    /// `integer`: `3` and `3.0` alike) within `Int`'s range.
    package var integer: Int? {
        guard case .number(let x) = self, x.rounded() == x, abs(x) < 9.0e15 else { return nil }
        return Int(x)
    }

    /// `an integer`, `a number`, `a string`, … (for messages).
    package var typeName: String {
        switch self {
        case .null: "null"
        case .bool: "a boolean"
        case .number: integer != nil ? "an integer" : "a number"
        case .string: "a string"
        case .array: "an array"
        case .object: "an object"
        }
    }
}
