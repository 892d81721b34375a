public import Foundation

// MARK: - JSON schema

/// The small subset of JSON Schema that structured outputs need, as OpenAI's strict mode,
/// vLLM, llama.cpp and Ollama accept it: objects, arrays, strings, integers, numbers, booleans.
///
/// It encodes canonically (keys sorted by the request encoder, `required` sorted, every object
/// closed with `"additionalProperties": false`), so equal schemas give equal request hashes.
public indirect enum JSONSchemaValue: Sendable, Equatable, Hashable {
    /// An object with these properties; `required` nil means all of them (strict mode needs all).
    case object(properties: [String: JSONSchemaValue], required: [String]? = nil)
    /// An array of `items`, optionally with a length range.
    case array(items: JSONSchemaValue, minItems: Int? = nil, maxItems: Int? = nil)
    /// A string, optionally one of `enum`, optionally at most `maxLength` characters.
    case string(enum: [String]? = nil, maxLength: Int? = nil)
    /// An integer, optionally within `minimum...maximum`.
    case integer(minimum: Int? = nil, maximum: Int? = nil)
    /// A number, optionally within `minimum...maximum`.
    case number(minimum: Double? = nil, maximum: Double? = nil)
    case boolean

    /// The JSON type name (`object`, `array`, …).
    public var typeName: String {
        switch self {
        case .object: "object"
        case .array: "array"
        case .string: "string"
        case .integer: "integer"
        case .number: "number"
        case .boolean: "boolean"
        }
    }

    // MARK: - Conformance

    /// Why the JSON text `json` does not conform to this schema, or nil when it does.
    public func violation(in json: Data) -> String? {
        let value: JSONValue
        do {
            value = try JSONDecoder().decode(JSONValue.self, from: json)
        } catch {
            return "the answer is not JSON"
        }
        return violation(of: value, at: "$")
    }

    /// Why the JSON text `json` does not conform to this schema, or nil when it does.
    public func violation(in json: String) -> String? { violation(in: Data(json.utf8)) }

    private func violation(of value: JSONValue, at path: String) -> String? {
        switch (self, value) {
        case (.object(let properties, let required), .object(let members)):
            for name in (required ?? Array(properties.keys)).sorted() where members[name] == nil {
                return "\(path) has no \"\(name)\""
            }
            for (name, member) in members.sorted(by: { $0.key < $1.key }) {
                guard let schema = properties[name] else { return "\(path) has an unexpected \"\(name)\"" }
                if let problem = schema.violation(of: member, at: "\(path).\(name)") { return problem }
            }
            return nil
        case (.array(let items, let minItems, let maxItems), .array(let elements)):
            if let minItems, elements.count < minItems { return "\(path) has \(elements.count) items, fewer than \(minItems)" }
            if let maxItems, elements.count > maxItems { return "\(path) has \(elements.count) items, more than \(maxItems)" }
            for (index, element) in elements.enumerated() {
                if let problem = items.violation(of: element, at: "\(path)[\(index)]") { return problem }
            }
            return nil
        case (.string(let allowed, let maxLength), .string(let text)):
            if let allowed, !allowed.contains(text) { return "\(path) is \"\(text.prefix(40))\", not one of \(allowed)" }
            if let maxLength, text.count > maxLength { return "\(path) has \(text.count) characters, more than \(maxLength)" }
            return nil
        case (.integer(let minimum, let maximum), .number) where value.integer != nil:
            let number = value.integer ?? 0
            if let minimum, number < minimum { return "\(path) is \(number), below \(minimum)" }
            if let maximum, number > maximum { return "\(path) is \(number), above \(maximum)" }
            return nil
        case (.number(let minimum, let maximum), .number(let number)):
            if let minimum, number < minimum { return "\(path) is \(number), below \(minimum)" }
            if let maximum, number > maximum { return "\(path) is \(number), above \(maximum)" }
            return nil
        case (.boolean, .bool):
            return nil
        default:
            return "\(path) is \(value.typeName), not \(typeName)"
        }
    }
}

// MARK: - Coding

extension JSONSchemaValue: Codable {
    private enum CodingKeys: String, CodingKey {
        case type, properties, required, additionalProperties, items, minItems, maxItems, minimum, maximum, maxLength
        case allowed = "enum"
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(typeName, forKey: .type)
        switch self {
        case .object(let properties, let required):
            try c.encode(properties, forKey: .properties)
            try c.encode((required ?? Array(properties.keys)).sorted(), forKey: .required)
            try c.encode(false, forKey: .additionalProperties)
        case .array(let items, let minItems, let maxItems):
            try c.encode(items, forKey: .items)
            try c.encodeIfPresent(minItems, forKey: .minItems)
            try c.encodeIfPresent(maxItems, forKey: .maxItems)
        case .string(let allowed, let maxLength):
            try c.encodeIfPresent(allowed, forKey: .allowed)
            try c.encodeIfPresent(maxLength, forKey: .maxLength)
        case .integer(let minimum, let maximum):
            try c.encodeIfPresent(minimum, forKey: .minimum)
            try c.encodeIfPresent(maximum, forKey: .maximum)
        case .number(let minimum, let maximum):
            try c.encodeIfPresent(minimum, forKey: .minimum)
            try c.encodeIfPresent(maximum, forKey: .maximum)
        case .boolean:
            break
        }
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let type = try c.decode(String.self, forKey: .type)
        switch type {
        case "object":
            let properties = try c.decodeIfPresent([String: JSONSchemaValue].self, forKey: .properties) ?? [:]
            let required = try c.decodeIfPresent([String].self, forKey: .required) ?? []
            // All required is spelled nil, as the cases are written.
            self = .object(properties: properties, required: required.sorted() == properties.keys.sorted() ? nil : required)
        case "array":
            self = .array(
                items: try c.decode(JSONSchemaValue.self, forKey: .items),
                minItems: try c.decodeIfPresent(Int.self, forKey: .minItems),
                maxItems: try c.decodeIfPresent(Int.self, forKey: .maxItems))
        case "string":
            self = .string(
                enum: try c.decodeIfPresent([String].self, forKey: .allowed), maxLength: try c.decodeIfPresent(Int.self, forKey: .maxLength))
        case "integer":
            self = .integer(minimum: try c.decodeIfPresent(Int.self, forKey: .minimum), maximum: try c.decodeIfPresent(Int.self, forKey: .maximum))
        case "number":
            self = .number(
                minimum: try c.decodeIfPresent(Double.self, forKey: .minimum), maximum: try c.decodeIfPresent(Double.self, forKey: .maximum))
        case "boolean":
            self = .boolean
        default:
            throw DecodingError.dataCorruptedError(forKey: .type, in: c, debugDescription: "unsupported JSON schema type \(type)")
        }
    }
}
