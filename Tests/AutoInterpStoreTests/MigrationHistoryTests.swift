import AutoInterpLLM
import AutoInterpTestSupport
import Foundation
import Testing

@testable import AutoInterp

/// The schema steps are history: a database at any older version must migrate to the same schema
/// as before, so what every released step leaves (its tables', indexes' and views' text) never changes.
struct MigrationHistoryTests {
    /// SHA-256 of ``dump(_:)`` after the steps up to each version, as the released steps leave it.
    /// A new step adds a line; a released line never changes (a difference is an edited step).
    static let released: [Int: String] = [
        1: "577b0dfb0801bcb9c2a99bba02a2c156caa7ab62448103407f43f7254ddd76b7",
        2: "be7755991ea880f37b68d9ca61d8eb8a75e0c8bb13fe33968700d929b04e4a13",
        3: "dc37c214488c5d93bd7e663cd0601ca3c16cced59686889a7b06467d5efb4f84",
        4: "441b6729799f3d0da339dd93946e341d14b6c15a508dd08ab39c9fb15fe5d874",
        5: "a130f4a81a9f7636872875e895fc2a52436df05981328ac7efd6ca4857f2ffa2",
        6: "c1016709534f656a2f7b2dc2c94b2a6957677af50841dba0d504da8752e380c9",
        7: "68b944a3f69c37b9cb50abc3af012cf8937c919b3509d19ab2a2c97507c08e11",
        8: "68295f3a68ca9ee0982a77179d1006f010cb560ca493c07f0ec292079db053a0",
        9: "4c03532ca7a70b5623fba90e98d9c497aafe5a153aea304dae44fab54ffd86f6",
        10: "c29a001eca4cb99c35fb61579657af3f4f202913fbcc92923c1b42880d122adb",
        11: "47bcad4294cd2e1a60cf6e1f82ce949f0083853b4ba8e2d2797df6fb537dea8c",
        12: "424be8aad6f66adc888263b5270e04cf08df9c02952f6179b1162395ac089fa8",
        13: "25798a105dfb05c0c48a3e3efc77171fad343014b3138646369bdf418071f430",
        14: "76d38b133297052649e6d00958cc7183fa4f9ad7a957ab0d21b45e5bf5036783",
        15: "a3351687f974f32edb55650659e15bd28fbc61bc356950cc714da1c097ff7b2d",
        16: "2caa5f058f929bed8e7bbcc00aee014590b40e62de553a6e4bb503b84c2af94b",
    ]

    /// Every object SQLite keeps for the schema (type, name, table, SQL text), one line each, sorted.
    /// The text is the steps' own, but for the names a rebuild's `RENAME TO` rewrites (quoted, as
    /// SQLite has done since 3.25).
    static func dump(_ db: SQLiteDatabase) throws -> String {
        try db.query("SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY type, name").map { row in
            [row.string("type"), row.string("name"), row.string("tbl_name"), row.string("sql")].map { $0 ?? "NULL" }
                .joined(separator: "\t")
        }.joined(separator: "\n")
    }

    /// One file taken through the released steps one at a time, as files at every older version are.
    @Test func everyReleasedStepLeavesTheSchemaItAlwaysLeft() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let db = try SQLiteDatabase(path: dir.path("history.sqlite").path)
        for version in Self.released.keys.sorted() {
            try #require(try db.migrate(Array(RunStore.migrations.prefix(version))) == 1, "v\(version)")
            #expect(SHA256.hex(try Self.dump(db)) == Self.released[version], "the schema after step \(version) changed: a released step was edited")
        }
    }
}
