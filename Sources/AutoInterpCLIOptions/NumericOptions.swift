package import ArgumentParser

// MARK: - Numbers that parse themselves (shared by `autointerp` and `autointerp-dev`)

/// A finite number greater than 0 (`nan`, `inf`, `0` and negatives are refused while parsing).
package struct PositiveDouble: ExpressibleByArgument, Sendable {
    package var value: Double

    package init?(argument: String) {
        guard let value = Double(argument), value.isFinite, value > 0 else { return nil }
        self.value = value
    }

    package static var defaultCompletionKind: CompletionKind { .default }
}

/// A finite number of at least 0 (prices).
package struct NonNegativeDouble: ExpressibleByArgument, Sendable {
    package var value: Double

    package init?(argument: String) {
        guard let value = Double(argument), value.isFinite, value >= 0 else { return nil }
        self.value = value
    }
}

/// A whole number from 1 to 2^31 - 1: larger values are refused while parsing, so no size,
/// sum or product of two of them can overflow.
package struct PositiveInt: ExpressibleByArgument, ExpressibleByIntegerLiteral, Sendable {
    package var value: Int

    package init?(argument: String) {
        guard let value = Int(argument), (1...Int(Int32.max)).contains(value) else { return nil }
        self.value = value
    }

    package init(integerLiteral value: Int) { self.value = value }

    package var defaultValueDescription: String { String(value) }
}

/// A whole number from 0 to 2^31 - 1.
package struct NonNegativeInt: ExpressibleByArgument, ExpressibleByIntegerLiteral, Sendable {
    package var value: Int

    package init?(argument: String) {
        guard let value = Int(argument), (0...Int(Int32.max)).contains(value) else { return nil }
        self.value = value
    }

    package init(integerLiteral value: Int) { self.value = value }

    package var defaultValueDescription: String { String(value) }
}
