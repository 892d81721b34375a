import AutoInterpTestSupport
import Foundation
import Testing

@testable import AutoInterp

/// JSON the store writes from Swift values has one text per value: its keys sorted, so two runs
/// (two processes, whose dictionaries hash differently) store byte-identical rows.
struct StoredJSONTests {
    @Test func aUnitsHistogramIsStoredWithSortedKeys() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let store = try RunStore(url: dir.path("run/autointerp.sqlite"))
        let run = try store.createRun(name: "r", configJSON: "{}")
        let statistics = UnitStatistics(
            unit: UnitRef(.neuron, 3), maxActivation: 4.5, density: 0.0125, tokenCount: 8192,
            histogram: ActivationHistogram(max: 4.5, counts: [10, 4, 1], zeroCount: 8177))
        let id = try store.saveUnit(runID: run.id, statistics: statistics, examples: [])
        let stored = try store.database.query("SELECT histogram_json FROM units WHERE id = ?", [id]).first?.string("histogram_json")
        #expect(stored == #"{"counts":[10,4,1],"max":4.5,"zeroCount":8177}"#)
        // And it reads back as the histogram written.
        #expect(try store.units(runID: run.id).first?.statistics.histogram == statistics.histogram)
    }

    @Test func anyEncodedValueHasItsKeysSorted() throws {
        struct Keys: Encodable {
            var zeta = 1, alpha = [2], mid = ["b": 1, "a": 2, "c": 3]
        }
        #expect(try StoreFormat.json(Keys()) == #"{"alpha":[2],"mid":{"a":2,"b":1,"c":3},"zeta":1}"#)
    }
}
