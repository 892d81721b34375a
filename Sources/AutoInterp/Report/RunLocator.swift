import AutoInterpLLM
public import Foundation

/// Finds a run by name: the database `<results>/<name>/autointerp.sqlite` and its `runs` row `name`.
public enum RunLocator {
    /// The database file of run `name` under `results`.
    public static func databaseURL(results: URL, name: String) -> URL {
        results.appendingPathComponent(name).appendingPathComponent("autointerp.sqlite")
    }

    /// Opens the database of run `name` and returns it with the run's row.
    ///
    /// Never creates a database, takes no run lock and opens it read-only
    /// (``RunStore/init(readingAt:)``): it works while a run writes and on read-only media.
    ///
    /// - Throws: ``AutoInterpError`` naming the file and the fix when the file is missing or
    ///   holds no run of that name (listing the runs it does hold).
    public static func open(results: URL, name: String) throws -> (store: RunStore, run: RunInfo) {
        let url = databaseURL(results: results, name: name)
        guard FileManager.default.fileExists(atPath: url.path) else {
            let folder = results.path
            var known: [String] = []
            if let entries = try? FileManager.default.contentsOfDirectory(atPath: folder) {
                known = entries.filter {
                    FileManager.default.fileExists(atPath: databaseURL(results: results, name: $0).path)
                }.sorted()
            }
            throw AutoInterpError.invalidInput(
                "no run database at \(url.path) (runs in \(folder): \(known.isEmpty ? "none" : known.joined(separator: ", "));"
                    + " pass \(Setting.results) DIR or create the run with `autointerp select \(Setting.name) \(name)`)")
        }
        let store = try RunStore(readingAt: url)
        guard let run = try store.run(named: name) else {
            let names = try store.runs().map(\.name)
            throw AutoInterpError.invalidInput(
                "no run named \(name) in \(url.path) (runs there: \(names.isEmpty ? "none" : names.joined(separator: ", ")))")
        }
        return (store, run)
    }
}
