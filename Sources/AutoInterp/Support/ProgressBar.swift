package import AutoInterpLLM
import Foundation

/// A progress bar on stderr: redrawn in place on a terminal, a line every few seconds otherwise.
///
/// Thread-safe; `update` is cheap enough to call per batch or per unit.
package final class ProgressBar: @unchecked Sendable {
    private let label: String
    private var total: Int
    private let unit: String
    private let start = Date()
    private let lock = NSLock()
    private let interactive: Bool
    private let enabled: Bool
    private var lastDraw = Date.distantPast
    private var done = 0
    private var detail = ""
    private var drawnDone = -1
    /// Set by ``finish()``: a finished bar is never drawn again (late updates are dropped).
    private var finished = false

    /// - Parameters:
    ///   - label: what is being done ("encode").
    ///   - total: steps to completion.
    ///   - unit: what a step is ("tokens"), shown with the rate.
    ///   - enabled: false silences it (tests, `--quiet`).
    package init(_ label: String, total: Int, unit: String = "", enabled: Bool = true) {
        self.label = label
        self.total = max(total, 1)
        self.unit = unit
        self.enabled = enabled
        interactive = isatty(STDERR_FILENO) != 0
    }

    /// Sets the steps done (and, when it becomes known, the total) and an optional detail text
    /// ("calls 120, tokens 45k"), redrawing if due; does nothing once the bar is finished.
    package func update(_ done: Int, total: Int? = nil, detail: String? = nil) {
        lock.lock()
        defer { lock.unlock() }
        guard !finished else { return }
        self.done = done
        if let total { self.total = max(total, 1) }
        if let detail { self.detail = detail }
        let now = Date()
        let interval = interactive ? 0.1 : 5.0
        guard enabled, now.timeIntervalSince(lastDraw) >= interval || done >= self.total else { return }
        lastDraw = now
        draw(final: false)
    }

    /// Adds `steps` to the steps done.
    package func advance(by steps: Int = 1, detail: String? = nil) {
        lock.lock()
        let next = done + steps
        lock.unlock()
        update(next, detail: detail)
    }

    /// Draws the final state and ends the line.
    package func finish() {
        lock.lock()
        defer { lock.unlock() }
        guard enabled, !finished else { return }
        finished = true
        if interactive || drawnDone != done { draw(final: true) }
    }

    private func draw(final: Bool) {
        drawnDone = done
        let elapsed = Date().timeIntervalSince(start)
        let fraction = min(1, Double(done) / Double(total))
        let width = 24
        let filled = Int(fraction * Double(width))
        let bar = String(repeating: "█", count: filled) + String(repeating: "░", count: width - filled)
        let rate = elapsed > 0 ? Double(done) / elapsed : 0
        let eta = rate > 0 && done < total ? " ETA \(Self.duration(Double(total - done) / rate))" : ""
        let rateText = unit.isEmpty ? "" : " \(Self.compact(rate)) \(unit)/s"
        let extra = detail.isEmpty ? "" : "  \(detail)"
        let line = "\(label) \(bar) \(Int(fraction * 100))% \(done)/\(total)\(rateText) \(Self.duration(elapsed))\(eta)\(extra)"
        let text = interactive ? "\r\u{1B}[K" + line + (final ? "\n" : "") : line + "\n"
        FileHandle.standardError.write(Data(text.utf8))
    }

    /// `1234567` → `1.2M`.
    package static func compact(_ value: Double) -> String {
        switch abs(value) {
        case 1e9...: String(format: "%.1fG", value / 1e9)
        case 1e6...: String(format: "%.1fM", value / 1e6)
        case 1e3...: String(format: "%.1fk", value / 1e3)
        default: String(format: "%.0f", value)
        }
    }

    /// Seconds as `m:ss` or `h:mm:ss`.
    package static func duration(_ seconds: Double) -> String {
        let s = Int(seconds.rounded())
        return s >= 3600 ? String(format: "%d:%02d:%02d", s / 3600, s / 60 % 60, s % 60) : String(format: "%d:%02d", s / 60, s % 60)
    }
}

/// Peak resident memory of this process so far, in bytes.
package func peakResidentBytes() -> Int {
    var usage = rusage()
    getrusage(Int32(RUSAGE_SELF.rawValue), &usage)
    return Int(usage.ru_maxrss) * 1024
}

/// Renders a run's events as progress bars on stderr: one for selection, one per pass over the
/// units with the calls, tokens and cost so far.
package final class ProgressBarObserver: RunObserver, @unchecked Sendable {
    private let lock = NSLock()
    private let enabled: Bool
    private var select: ProgressBar?
    private var pass: ProgressBar?
    private var usage: LLMUsage?

    package init(enabled: Bool = true) { self.enabled = enabled }

    package func selecting(done: Int, total: Int) {
        lock.withLock {
            if select == nil { select = ProgressBar("select", total: total, unit: "tok", enabled: enabled) }
            return select
        }?.update(done, total: total)
    }

    package func passStarted(_ name: String, units: Int) {
        let bar = lock.withLock {
            select?.finish()
            select = nil
            pass = units > 0 ? ProgressBar(name, total: units, unit: "units", enabled: enabled) : nil
            return pass
        }
        bar?.update(0, detail: detail())
    }

    package func unitFinished(_ name: String, done: Int, outcome: UnitOutcome) {
        lock.withLock { pass }?.update(done, detail: detail())
    }

    package func callFinished(_ usage: LLMUsage) {
        let bar = lock.withLock {
            self.usage = usage
            return pass
        }
        bar?.advance(by: 0, detail: detail())
    }

    package func passFinished(_ name: String) {
        lock.withLock {
            defer { pass = nil }
            return pass
        }?.finish()
    }

    /// Finishes a selection bar left open (a run with nothing to select after it).
    package func finish() {
        lock.withLock {
            defer { select = nil }
            return select
        }?.finish()
    }

    private func detail() -> String {
        guard let u = lock.withLock({ usage }), u.calls > 0 else { return "" }
        var text = "calls \(u.calls), tokens \(ProgressBar.compact(Double(u.promptTokens + u.completionTokens)))"
        text += u.cost.map { String(format: ", cost $%.4f", $0) } ?? ""
        return text
    }
}
