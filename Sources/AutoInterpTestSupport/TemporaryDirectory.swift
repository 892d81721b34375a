package import Foundation

/// A fresh directory under the system temp folder, removed by `remove()`.
package struct TemporaryDirectory: Sendable {
    package let url: URL

    package init(_ prefix: String = "autointerp-test") throws {
        let base = FileManager.default.temporaryDirectory
        url = base.appendingPathComponent("\(prefix)-\(UUID().uuidString)", isDirectory: true)
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    /// A path inside the directory.
    package func path(_ name: String) -> URL { url.appendingPathComponent(name) }

    package func remove() { try? FileManager.default.removeItem(at: url) }
}
