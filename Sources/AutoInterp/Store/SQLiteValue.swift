import Foundation

// MARK: - Values

/// One SQLite value: what a statement binds and what a column holds.
public enum SQLiteValue: Sendable, Hashable {
    case null
    case integer(Int64)
    case real(Double)
    case text(String)
    case blob(Data)

    /// True for `.null`.
    public var isNull: Bool { self == .null }
}

// No ExpressibleByNilLiteral: with `SQLiteValue?` results a bare `nil` would silently become `.null`.
extension SQLiteValue: ExpressibleByIntegerLiteral, ExpressibleByFloatLiteral,
    ExpressibleByStringLiteral, ExpressibleByBooleanLiteral
{
    public init(integerLiteral value: Int64) { self = .integer(value) }
    public init(floatLiteral value: Double) { self = .real(value) }
    public init(stringLiteral value: String) { self = .text(value) }
    public init(booleanLiteral value: Bool) { self = .integer(value ? 1 : 0) }
}

// MARK: - Conversions

/// A Swift type that binds to and reads from a SQLite value.
///
/// `Int`, `Int64`, `Int32`, `Double`, `Float`, `String`, `Data`, `Bool`, `SQLiteValue` and
/// `Optional` of any of them conform; `nil` binds NULL.
public protocol SQLiteValueConvertible {
    /// The value to bind.
    var sqliteValue: SQLiteValue { get }
    /// Reads a column value; nil when it is NULL or cannot represent `Self`.
    init?(sqliteValue: SQLiteValue)
}

extension SQLiteValue: SQLiteValueConvertible {
    public var sqliteValue: SQLiteValue { self }
    public init?(sqliteValue: SQLiteValue) { self = sqliteValue }
}

extension Int64: SQLiteValueConvertible {
    public var sqliteValue: SQLiteValue { .integer(self) }
    public init?(sqliteValue: SQLiteValue) {
        switch sqliteValue {
        case .integer(let v): self = v
        case .real(let v) where v.rounded() == v && abs(v) < 9.2e18: self = Int64(v)
        default: return nil
        }
    }
}

extension Int: SQLiteValueConvertible {
    public var sqliteValue: SQLiteValue { .integer(Int64(self)) }
    public init?(sqliteValue: SQLiteValue) {
        guard let v = Int64(sqliteValue: sqliteValue) else { return nil }
        self = Int(v)
    }
}

extension Int32: SQLiteValueConvertible {
    public var sqliteValue: SQLiteValue { .integer(Int64(self)) }
    public init?(sqliteValue: SQLiteValue) {
        guard let v = Int64(sqliteValue: sqliteValue), let narrow = Int32(exactly: v) else { return nil }
        self = narrow
    }
}

extension Bool: SQLiteValueConvertible {
    public var sqliteValue: SQLiteValue { .integer(self ? 1 : 0) }
    public init?(sqliteValue: SQLiteValue) {
        guard let v = Int64(sqliteValue: sqliteValue) else { return nil }
        self = v != 0
    }
}

extension Double: SQLiteValueConvertible {
    /// NaN binds NULL (SQLite has no NaN).
    public var sqliteValue: SQLiteValue { isNaN ? .null : .real(self) }
    public init?(sqliteValue: SQLiteValue) {
        switch sqliteValue {
        case .real(let v): self = v
        case .integer(let v): self = Double(v)
        default: return nil
        }
    }
}

extension Float: SQLiteValueConvertible {
    public var sqliteValue: SQLiteValue { Double(self).sqliteValue }
    public init?(sqliteValue: SQLiteValue) {
        guard let v = Double(sqliteValue: sqliteValue) else { return nil }
        self = Float(v)
    }
}

extension String: SQLiteValueConvertible {
    public var sqliteValue: SQLiteValue { .text(self) }
    public init?(sqliteValue: SQLiteValue) {
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
    public var sqliteValue: SQLiteValue { .blob(self) }
    public init?(sqliteValue: SQLiteValue) {
        switch sqliteValue {
        case .blob(let v): self = v
        case .text(let v): self = Data(v.utf8)
        default: return nil
        }
    }
}

extension Optional: SQLiteValueConvertible where Wrapped: SQLiteValueConvertible {
    public var sqliteValue: SQLiteValue { self?.sqliteValue ?? .null }
    /// NULL reads as a successful `nil`; a value `Wrapped` cannot represent fails.
    public init?(sqliteValue: SQLiteValue) {
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
public struct SQLiteRow: Sendable, Hashable {
    /// Column names in select order.
    public let columns: [String]
    /// Values in select order.
    public let values: [SQLiteValue]

    public init(columns: [String], values: [SQLiteValue]) {
        self.columns = columns
        self.values = values
    }

    /// The value at `index` (0-based).
    public subscript(index: Int) -> SQLiteValue { values[index] }

    /// The value of the first column named `name`; `.null` when there is no such column.
    public subscript(name: String) -> SQLiteValue {
        guard let i = columns.firstIndex(of: name) else { return .null }
        return values[i]
    }

    /// The named column as `T`; nil when NULL, missing or not convertible.
    public func get<T: SQLiteValueConvertible>(_ name: String, as type: T.Type = T.self) -> T? {
        T(sqliteValue: self[name])
    }

    public func int(_ name: String) -> Int? { get(name) }
    public func int64(_ name: String) -> Int64? { get(name) }
    public func double(_ name: String) -> Double? { get(name) }
    public func string(_ name: String) -> String? { get(name) }
    public func data(_ name: String) -> Data? { get(name) }
    public func bool(_ name: String) -> Bool? { get(name) }
}
