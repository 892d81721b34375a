import Foundation

/// A small SVG writer: elements appended in order, every attribute value escaped.
///
/// Output is XML (self-closed empty elements, `xmlns` on the root) so the document embeds in
/// XHTML and HTML alike.
public struct SVG: Sendable {
    public var width: Double
    public var height: Double
    private var body: [String] = []
    private var depth = 0

    public init(width: Double, height: Double) {
        self.width = width
        self.height = height
    }

    /// A number for an attribute: at most two decimals, no trailing zeros.
    public static func number(_ value: Double) -> String {
        guard value.isFinite else { return "0" }
        let rounded = (value * 100).rounded() / 100
        if rounded == rounded.rounded() { return String(Int(rounded)) }
        var text = String(format: "%.2f", rounded)
        while text.hasSuffix("0") { text.removeLast() }
        return text
    }

    private static func attributes(_ pairs: KeyValuePairs<String, String>) -> String {
        pairs.map { " \($0.key)=\"\(ReportText.html($0.value))\"" }.joined()
    }

    /// An empty element, e.g. `rect` or `line`.
    public mutating func element(_ name: String, _ attributes: KeyValuePairs<String, String>, title: String? = nil) {
        if let title {
            body.append("<\(name)\(Self.attributes(attributes))><title>\(ReportText.html(title))</title></\(name)>")
        } else {
            body.append("<\(name)\(Self.attributes(attributes))/>")
        }
    }

    /// A rectangle with `data-value` (what its size encodes) and an optional tooltip.
    public mutating func rect(
        x: Double, y: Double, width: Double, height: Double, fill: String, cssClass: String = "bar",
        value: Double? = nil, extra: KeyValuePairs<String, String> = [:], title: String? = nil
    ) {
        var text = "<rect class=\"\(cssClass)\" x=\"\(Self.number(x))\" y=\"\(Self.number(y))\""
        text += " width=\"\(Self.number(width))\" height=\"\(Self.number(height))\" fill=\"\(fill)\""
        if let value { text += " data-value=\"\(ReportText.json(value))\"" }
        text += Self.attributes(extra)
        if let title {
            text += "><title>\(ReportText.html(title))</title></rect>"
        } else {
            text += "/>"
        }
        body.append(text)
    }

    /// A line.
    public mutating func line(
        x1: Double, y1: Double, x2: Double, y2: Double, cssClass: String, extra: KeyValuePairs<String, String> = [:]
    ) {
        body.append(
            "<line class=\"\(cssClass)\" x1=\"\(Self.number(x1))\" y1=\"\(Self.number(y1))\" x2=\"\(Self.number(x2))\""
                + " y2=\"\(Self.number(y2))\"\(Self.attributes(extra))/>")
    }

    /// A text label (escaped).
    public mutating func text(
        _ content: String, x: Double, y: Double, anchor: String = "start", cssClass: String = "label",
        extra: KeyValuePairs<String, String> = [:]
    ) {
        body.append(
            "<text class=\"\(cssClass)\" x=\"\(Self.number(x))\" y=\"\(Self.number(y))\" text-anchor=\"\(anchor)\""
                + "\(Self.attributes(extra))>\(ReportText.html(content))</text>")
    }

    /// Opens a group; close it with ``close()``.
    public mutating func open(_ attributes: KeyValuePairs<String, String>) {
        body.append("<g\(Self.attributes(attributes))>")
        depth += 1
    }

    /// Closes the innermost open group.
    public mutating func close() {
        precondition(depth > 0, "SVG.close() without open()")
        body.append("</g>")
        depth -= 1
    }

    /// The `<svg>` element.
    public func render(label: String, cssClass: String = "chart") -> String {
        precondition(depth == 0, "SVG has unclosed groups")
        let w = Self.number(width), h = Self.number(height)
        return "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"\(cssClass)\" width=\"\(w)\" height=\"\(h)\""
            + " viewBox=\"0 0 \(w) \(h)\" role=\"img\" aria-label=\"\(ReportText.html(label))\">"
            + "<title>\(ReportText.html(label))</title>" + body.joined(separator: "\n") + "</svg>"
    }
}

/// A linear map from a data domain to pixels, with round tick values.
public struct LinearScale: Sendable, Equatable {
    public var domain: ClosedRange<Double>
    public var range: ClosedRange<Double>
    /// When true, the domain's lower end maps to the range's upper end (y axes grow upwards).
    public var flipped: Bool

    public init(domain: ClosedRange<Double>, range: ClosedRange<Double>, flipped: Bool = false) {
        self.domain = domain
        self.range = range
        self.flipped = flipped
    }

    /// The pixel position of `value`.
    public func callAsFunction(_ value: Double) -> Double {
        let span = domain.upperBound - domain.lowerBound
        let t = span == 0 ? 0 : (value - domain.lowerBound) / span
        let pixels = range.upperBound - range.lowerBound
        return flipped ? range.upperBound - t * pixels : range.lowerBound + t * pixels
    }

    /// Pixels per data unit.
    public var pixelsPerUnit: Double {
        let span = domain.upperBound - domain.lowerBound
        return span == 0 ? 0 : (range.upperBound - range.lowerBound) / span
    }

    /// Round tick values (steps of 1, 2 or 5 × 10^k) covering the domain, about `count` of them.
    public func ticks(count: Int = 5) -> [Double] {
        let step = Self.niceStep(domain.upperBound - domain.lowerBound, count: count)
        guard step > 0 else { return [domain.lowerBound] }
        var ticks: [Double] = []
        var k = (domain.lowerBound / step).rounded(.up)
        while k * step <= domain.upperBound + step * 1e-9 {
            ticks.append((k * step * 1e9).rounded() / 1e9)
            k += 1
        }
        return ticks
    }

    /// A step of 1, 2 or 5 × 10^k giving about `count` intervals over `span`.
    public static func niceStep(_ span: Double, count: Int) -> Double {
        guard span > 0, span.isFinite, count > 0 else { return 0 }
        let raw = span / Double(count)
        let magnitude = pow(10, (log10(raw)).rounded(.down))
        let fraction = raw / magnitude
        let nice: Double = fraction <= 1 ? 1 : fraction <= 2 ? 2 : fraction <= 5 ? 5 : 10
        return nice * magnitude
    }

    /// The smallest "nice" upper bound ≥ `value` (a multiple of the step for `count` ticks).
    public static func niceMax(_ value: Double, count: Int = 5) -> Double {
        guard value > 0, value.isFinite else { return 1 }
        let step = niceStep(value, count: count)
        return (value / step).rounded(.up) * step
    }
}
