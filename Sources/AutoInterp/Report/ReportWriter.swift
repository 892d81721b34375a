public import Foundation

/// Writes `report.html` and `report.md` for a run; what `autointerp report`, `run` and `demo` call.
public enum ReportWriter {
    /// The files written.
    public struct Output: Sendable {
        public var html: URL
        public var markdown: URL
        /// Bytes of the HTML file.
        public var htmlBytes: Int
        public var units: Int
    }

    /// Loads `run` from `store` and writes `report.html` and `report.md` into `folder`
    /// (default: the folder holding the database, i.e. `results/<run>/`).
    ///
    /// - Throws: ``AutoInterpError`` when the database cannot be read or a file cannot be written.
    @discardableResult
    public static func write(
        store: RunStore, run: RunInfo, folder: URL? = nil, options: ReportOptions = ReportOptions()
    ) throws -> Output {
        try write(RunReport.load(from: store, run: run, options: options), folder: folder ?? URL(fileURLWithPath: store.path).deletingLastPathComponent())
    }

    /// Writes `report.html` and `report.md` of a loaded report into `folder`.
    ///
    /// - Throws: ``AutoInterpError`` when a file cannot be written.
    @discardableResult
    public static func write(_ report: RunReport, folder: URL) throws -> Output {
        let html = folder.appendingPathComponent("report.html")
        let markdown = folder.appendingPathComponent("report.md")
        let htmlData = Data(HTMLReport(report).render().utf8)
        do {
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            try htmlData.write(to: html, options: .atomic)
            try Data(MarkdownReport(report).render().utf8).write(to: markdown, options: .atomic)
        } catch {
            throw AutoInterpError.io(folder.path, "cannot write the report (\(error.localizedDescription); check permissions and free space)")
        }
        return Output(html: html, markdown: markdown, htmlBytes: htmlData.count, units: report.units.count)
    }
}
