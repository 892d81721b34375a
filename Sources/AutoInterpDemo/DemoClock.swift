import Foundation

/// The demo's clock: the seconds of the whole demo and of each step, for its step lines.
final class DemoClock {
    private let started = Date()
    private var stepStarted = Date()

    /// Seconds since the previous step ended (or the demo started), as text; the next step starts now.
    func lap() -> String {
        defer { stepStarted = Date() }
        return String(format: "%.1f s", Date().timeIntervalSince(stepStarted))
    }

    /// Seconds since the demo started.
    var seconds: Double { Date().timeIntervalSince(started) }
}
