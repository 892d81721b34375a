package import Foundation

// MARK: - Values

/// One SQLite value: what a statement binds and what a column holds.
package enum SQLiteValue: Sendable, Hashable {
    case null
    case integer(Int64)
    case real(Double)
    case text(String)
    case blob(Data)

    /// True for `.null`.
    package var isNull: Bool { self == .null }
}

// No ExpressibleByNilLiteral: with `SQLiteValue?` results a bare `nil` would silently become `.null`.
extension SQLiteValue: ExpressibleByIntegerLiteral, ExpressibleByFloatLiteral,
    ExpressibleByStringLiteral, ExpressibleByBooleanLiteral
{
    package init(integerLiteral value: Int64) { self = .integer(value) }
    package init(floatLiteral value: Double) { self = .real(value) }
    package init(stringLiteral value: String) { self = .text(value) }
    package init(booleanLiteral value: Bool) { self = .integer(value ? 1 : 0) }
}

// MARK: - Conversions

/// A Swift type that binds to and reads from a SQLite value.
///
/// `Int`, `Int64`, `Int32`, `Double`, `Float`, `String`, `Data`, `Bool`, `SQLiteValue` and
/// `Optional` of any of them conform; `nil` binds NULL.
package protocol SQLiteValueConvertible {
    /// The value to bind.
    var sqliteValue: SQLiteValue { get }
    /// Reads a column value; nil when it is NULL or cannot represent `Self`.
    init?(sqliteValue: SQLiteValue)
}

extension SQLiteValue: SQLiteValueConvertible {
    package var sqliteValue: SQLiteValue { self }
    package init?(sqliteValue: SQLiteValue) { self = sqliteValue }
}

extension Int64: SQLiteValueConvertible {
    package var sqliteValue: SQLiteValue { .integer(self) }
    package init?(sqliteValue: SQLiteValue) {
        switch sqliteValue {
        case .integer(let v): self = v
        case .real(let v) where v.rounded() == v && abs(v) < 9.2e18: self = Int64(v)
        default: return nil
        }
    }
}

extension Int: SQLiteValueConvertible {
    package var sqliteValue: SQLiteValue { .integer(Int64(self)) }
    package init?(sqliteValue: SQLiteValue) {
        guard let v = Int64(sqliteValue: sqliteValue) else { return nil }
        self = Int(v)
    }
}

extension Int32: SQLiteValueConvertible {
    package var sqliteValue: SQLiteValue { .integer(Int64(self)) }
    package init?(sqliteValue: SQLiteValue) {
        guard let v = Int64(sqliteValue: sqliteValue), let narrow = Int32(exactly: v) else { return nil }
        self = narrow
    }
}

extension Bool: SQLiteValueConvertible {
    package var sqliteValue: SQLiteValue { .integer(self ? 1 : 0) }
    package init?(sqliteValue: SQLiteValue) {
        guard let v = Int64(sqliteValue: sqliteValue) else { return nil }
        self = v != 0
    }
}

extension Double: SQLiteValueConvertible {
    /// NaN binds NULL (SQLite has no NaN).
    package var sqliteValue: SQLiteValue { isNaN ? .null : .real(self) }
    package init?(sqliteValue: SQLiteValue) {
        switch sqliteValue {
        case .real(let v): self = v
        case .integer(let v): self = Double(v)
        default: return nil
        }
    }
}

extension Float: SQLiteValueConvertible {
    package var sqliteValue: SQLiteValue { Double(self).sqliteValue }
    package init?(sqliteValue: SQLiteValue) {
        guard let v = Double(sqliteValue: sqliteValue) else { return nil }
        self = Float(v)
    }
}

extension String: SQLiteValueConvertible {
    package var sqliteValue: SQLiteValue { .text(self) }
    package init?(sqliteValue: SQLiteValue) {
        switch sqliteValue {
        case .text(let v): self = v
        case .blob(let v): self = String(decoding: v, as: UTF8.self)
        case .integer(let v): self = String(v)
        case .real(let v): self = String(v)
        case .null: return nil
        }
    }
}

extension Data: SQLiteValueConvertible {
    package var sqliteValue: SQLiteValue { .blob(self) }
    package init?(sqliteValue: SQLiteValue) {
        switch sqliteValue {
        case .blob(let v): self = v
        case .text(let v): self = Data(v.utf8)
        default: return nil
        }
    }
}

extension Optional: SQLiteValueConvertible where Wrapped: SQLiteValueConvertible {
    package var sqliteValue: SQLiteValue { self?.sqliteValue ?? .null }
    /// NULL reads as a successful `nil`; a value `Wrapped` cannot represent fails.
    package init?(sqliteValue: SQLiteValue) {
        if sqliteValue.isNull {
            self = .none
        } else if let v = Wrapped(sqliteValue: sqliteValue) {
            self = .some(v)
        } else {
            return nil
        }
    }
}

// MARK: - Rows

/// One result row: column names and values, readable by name or position.
package struct SQLiteRow: Sendable, Hashable {
    /// Column names in select order.
    package let columns: [String]
    /// Values in select order.
    package let values: [SQLiteValue]

    package init(columns: [String], values: [SQLiteValue]) {
        self.columns = columns
        self.values = values
    }

    /// The value at `index` (0-based).
    package subscript(index: Int) -> SQLiteValue { values[index] }

    /// The value of the first column named `name`; `.null` when there is no such column.
    package subscript(name: String) -> SQLiteValue {
        guard let i = columns.firstIndex(of: name) else { return .null }
        return values[i]
    }

    /// The named column as `T`; nil when NULL, missing or not convertible.
    package func get<T: SQLiteValueConvertible>(_ name: String, as type: T.Type = T.self) -> T? {
        T(sqliteValue: self[name])
    }

    package func int(_ name: String) -> Int? { get(name) }
    package func int64(_ name: String) -> Int64? { get(name) }
    package func double(_ name: String) -> Double? { get(name) }
    package func string(_ name: String) -> String? { get(name) }
    package func data(_ name: String) -> Data? { get(name) }
    package func bool(_ name: String) -> Bool? { get(name) }
}
