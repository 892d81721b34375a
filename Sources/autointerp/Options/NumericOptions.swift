import ArgumentParser

// MARK: - Numbers that parse themselves

/// A finite number greater than 0 (`nan`, `inf`, `0` and negatives are refused while parsing).
struct PositiveDouble: ExpressibleByArgument, Sendable {
    var value: Double

    init?(argument: String) {
        guard let value = Double(argument), value.isFinite, value > 0 else { return nil }
        self.value = value
    }

    static var defaultCompletionKind: CompletionKind { .default }
}

/// A finite number of at least 0 (prices).
struct NonNegativeDouble: ExpressibleByArgument, Sendable {
    var value: Double

    init?(argument: String) {
        guard let value = Double(argument), value.isFinite, value >= 0 else { return nil }
        self.value = value
    }
}

/// A whole number from 1 to 2^31 - 1: larger values are refused while parsing, so no size,
/// sum or product of two of them can overflow.
struct PositiveInt: ExpressibleByArgument, ExpressibleByIntegerLiteral, Sendable {
    var value: Int

    init?(argument: String) {
        guard let value = Int(argument), (1...Int(Int32.max)).contains(value) else { return nil }
        self.value = value
    }

    init(integerLiteral value: Int) { self.value = value }

    var defaultValueDescription: String { String(value) }
}

/// A whole number from 0 to 2^31 - 1.
struct NonNegativeInt: ExpressibleByArgument, ExpressibleByIntegerLiteral, Sendable {
    var value: Int

    init?(argument: String) {
        guard let value = Int(argument), (0...Int(Int32.max)).contains(value) else { return nil }
        self.value = value
    }

    init(integerLiteral value: Int) { self.value = value }

    var defaultValueDescription: String { String(value) }
}
