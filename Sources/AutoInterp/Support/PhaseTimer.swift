import Foundation

/// Seconds spent per named phase, summed over calls: what `encode` logs at info level to show
/// where a whole process's time goes.
public struct PhaseTimes: Sendable, Equatable {
    /// Phase names in first-seen order with their summed seconds.
    public private(set) var phases: [(name: String, seconds: Double)] = []

    public init() {}

    public static func == (a: PhaseTimes, b: PhaseTimes) -> Bool {
        a.phases.map(\.name) == b.phases.map(\.name) && a.phases.map(\.seconds) == b.phases.map(\.seconds)
    }

    /// Adds `seconds` to `name`.
    public mutating func add(_ name: String, _ seconds: Double) {
        if let i = phases.firstIndex(where: { $0.name == name }) {
            phases[i].seconds += seconds
        } else {
            phases.append((name, seconds))
        }
    }

    /// Runs `body`, adding its wall time to `name`.
    @discardableResult
    public mutating func measure<T>(_ name: String, _ body: () throws -> T) rethrows -> T {
        let start = DispatchTime.now().uptimeNanoseconds
        defer { add(name, Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9) }
        return try body()
    }

    /// Adds every phase of `other`.
    public mutating func add(_ other: PhaseTimes) {
        for phase in other.phases { add(phase.name, phase.seconds) }
    }

    /// The seconds of `name` (0 when it never ran).
    public subscript(name: String) -> Double { phases.first { $0.name == name }?.seconds ?? 0 }

    /// `read 0.12 s, sgemm 2.01 s, …`.
    public var summary: String {
        phases.map { String(format: "%@ %.3f s", $0.name, $0.seconds) }.joined(separator: ", ")
    }
}
