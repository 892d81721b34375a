package import AutoInterp
package import Foundation

// MARK: - A run database's rows, comparable across databases

/// Every table of a run database as sorted row texts, ids replaced by what they point at (a
/// unit by its kind and index, an example by its unit and content, …) and times left out: two
/// databases with the same rows compare equal whatever order their ids were given in.
package func contents(of url: URL) throws -> [String: [String]] {
    let database = try RunStore(readingAt: url).database
    let names = try database.query("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")
        .compactMap { $0.string("name") }
    var references: [String: [String: String]] = [:]
    for name in names {
        for key in try database.query("PRAGMA foreign_key_list(\"\(name)\")") {
            if let from = key.string("from"), let table = key.string("table") { references[name, default: [:]][from] = table }
        }
    }
    var keys: [String: [Int64: String]] = [:]
    var result: [String: [String]] = [:]
    var left = Set(names)
    while !left.isEmpty {
        let ready = left.filter { name in (references[name] ?? [:]).values.allSatisfy { $0 == name || !left.contains($0) } }.sorted()
        guard !ready.isEmpty else { throw AutoInterpError.database(url.path, "cyclic foreign keys between \(left.sorted())") }
        for name in ready {
            left.remove(name)
            let rows = try database.query("SELECT * FROM \"\(name)\" ORDER BY rowid")
            var own: [Int64: String] = [:]
            var texts: [String] = []
            for row in rows {
                var parts: [String] = []
                for (column, value) in zip(row.columns, row.values) where column != "id" && !column.hasSuffix("_at") {
                    // The two runs have their own names; their status is checked on its own.
                    if name == "runs" && (column == "name" || column == "status") { continue }
                    if case .text(let text) = value, let object = try? JSONSerialization.jsonObject(with: Data(text.utf8)),
                        let canonical = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]) {
                        // JSON columns written from Swift dictionaries have no fixed key order.
                        parts.append("\(column)=" + String(decoding: canonical, as: UTF8.self))
                    } else if case .blob(let data) = value {
                        // Blobs by content (example token ids and activations since schema v13), not by length.
                        parts.append("\(column)=x'" + data.map { String(format: "%02x", $0) }.joined() + "'")
                    } else if let table = references[name]?[column], case .integer(let id) = value {
                        parts.append("\(column)=<\(table == name ? own[id] ?? "self \(id)" : keys[table]?[id] ?? "missing")>")
                    } else {
                        parts.append("\(column)=\(value)")
                    }
                }
                let text = parts.joined(separator: " ")
                if case .integer(let id) = row["id"] { own[id] = text }
                texts.append(text)
            }
            keys[name] = own
            result[name] = texts.sorted()
        }
    }
    return result
}
