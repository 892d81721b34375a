import AutoInterp
import AutoInterpTestSupport
import Foundation
import Logging
import Testing

/// What the batch suites (``BatchFileTests``, ``BatchServerTests``, ``BatchSpoolTests``) share
/// besides their ``ScriptedRunFixture``: a quiet logger and the comparison of a batched run's rows with
/// the real-time run's.
protocol BatchTesting {}

extension BatchTesting {
    static func quietLogger() -> Logger {
        var logger = Logger(label: "test.batch")
        logger.logLevel = .critical
        return logger
    }

    /// Tables whose rows depend on the transport (the call log, the cache's raw bodies, the
    /// batch bookkeeping); every other table must be the same.
    static var transportTables: Set<String> { ["llm_calls", "llm_cache", "llm_pending", "llm_batches"] }

    /// The same rows in both runs' databases, the transport's tables left out; the tables
    /// `nonEmpty` of the first run have rows (so the comparison compares something).
    static func sameRows(_ a: RunResult, _ b: RunResult, nonEmpty: [String] = ["explanations"]) throws {
        var expected = try contents(of: URL(fileURLWithPath: a.store.path))
        var got = try contents(of: URL(fileURLWithPath: b.store.path))
        for table in transportTables {
            expected[table] = nil
            got[table] = nil
        }
        for table in nonEmpty {
            #expect(!(expected[table] ?? []).isEmpty, "table \(table) is empty")
        }
        for table in Set(expected.keys).union(got.keys).sorted() {
            #expect(got[table] == expected[table], "table \(table)")
        }
    }
}
