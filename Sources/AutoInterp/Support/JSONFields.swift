import Foundation

/// Field-by-field comparison of two encoded values, for "what changed" messages that need no
/// hand-kept field list.
enum JSONFields {
    /// `value` encoded as a JSON object.
    static func object(_ value: some Encodable) throws -> [String: Any] {
        let data = try JSONEncoder().encode(value)
        return (try JSONSerialization.jsonObject(with: data)) as? [String: Any] ?? [:]
    }

    /// The keys whose values differ between `a` and `b` (a key missing on one side differs),
    /// nested objects as `outer.inner`, in key order.
    static func differences(_ a: [String: Any], _ b: [String: Any], prefix: String = "") -> [String] {
        var names: [String] = []
        for key in Set(a.keys).union(b.keys).sorted() {
            let path = prefix.isEmpty ? key : "\(prefix).\(key)"
            switch (a[key], b[key]) {
            case let (x as [String: Any], y as [String: Any]):
                names += differences(x, y, prefix: path)
            case let (x?, y?) where same(x, y):
                continue
            default:
                names.append(path)
            }
        }
        return names
    }

    /// Whether two JSON values are equal (compared as their sorted-key encodings).
    private static func same(_ x: Any, _ y: Any) -> Bool {
        let encode = { (value: Any) in try? JSONSerialization.data(withJSONObject: [value], options: [.sortedKeys]) }
        return encode(x) != nil && encode(x) == encode(y)
    }

    /// A camelCase key in words: `simulatorModel` → `simulator model`.
    static func words(_ key: String) -> String {
        var text = ""
        for character in key {
            if character.isUppercase, !text.isEmpty { text.append(" ") }
            text.append(Character(character.lowercased()))
        }
        return text
    }
}
