import AutoInterpLLM
import Foundation

// MARK: - Run identity and state

extension RunStore {
    /// The run's identity, decoded: the one typed reader of `runs.config_json` (reports, export
    /// and the coordinator all read it here).
    ///
    /// - Throws: ``AutoInterpError`` when the run is missing or its config does not decode.
    public func config(runID: Int64) throws -> RunConfig {
        guard let run = try run(id: runID) else { throw AutoInterpError.invalidInput("no run with id \(runID) in \(path)") }
        do {
            return try RunConfig.decode(run.configJSON)
        } catch {
            throw AutoInterpError.invalidFile(path, "the config of run '\(run.name)' does not decode (\(error)); rerun with \(Setting.forceNew)")
        }
    }

    /// What the endpoint was found to serve when the run first probed it; nil before.
    public func capabilities(runID: Int64) throws -> PinnedCapabilities? {
        try state(runID: runID, column: "capabilities_json")
    }

    /// Pins the endpoint's capabilities for the run's life (run state: the identity hash stays).
    public func pin(runID: Int64, _ capabilities: PinnedCapabilities) throws {
        try setState(runID: runID, column: "capabilities_json", capabilities)
    }

    /// The run's prices per million tokens; nil when none were given.
    public func prices(runID: Int64) throws -> StoredPrices? {
        try state(runID: runID, column: "prices_json")
    }

    /// Sets (or clears) the run's prices: a free setting, never part of the identity.
    public func setPrices(runID: Int64, _ prices: StoredPrices?) throws {
        try setState(runID: runID, column: "prices_json", prices)
    }

    private func state<T: Decodable>(runID: Int64, column: String) throws -> T? {
        guard case .text(let text)? = try database.scalar("SELECT \(column) FROM run_state WHERE run_id = ?", [runID]) else {
            return nil
        }
        do {
            return try JSONDecoder().decode(T.self, from: Data(text.utf8))
        } catch {
            throw AutoInterpError.invalidFile(path, "run_state.\(column) of run \(runID) does not decode: \(error)")
        }
    }

    private func setState<T: Encodable>(runID: Int64, column: String, _ value: T?) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let text: String? = try value.map { String(decoding: try encoder.encode($0), as: UTF8.self) }
        try database.transaction { db in
            _ = try db.run("INSERT OR IGNORE INTO run_state (run_id) VALUES (?)", [runID])
            _ = try db.run("UPDATE run_state SET \(column) = ? WHERE run_id = ?", [text, runID])
        }
    }
}
