// Public: the conformance below is of a public library type.
public import ArgumentParser
import AutoInterp
import Foundation

extension ExplanationExport.Format: ExpressibleByArgument {}

struct ExportCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Export one row per explanation (unit, kind, explainer, model, text, scores, rubric histogram) as JSONL or CSV."
    )

    @OptionGroup var runOptions: RunNameOptions

    @Option(help: "jsonl or csv.")
    var format: ExplanationExport.Format = .jsonl

    @Option(help: "Output file, or - for stdout (default: <results>/<run>/explanations.<format>).")
    var output: String?

    func run() async throws {
        try await reportingErrors {
            let (store, run) = try runOptions.open()
            let rows = try ExplanationExport.rows(store: store, run: run)
            let text = ExplanationExport.render(rows, format: format)
            if output == "-" {
                FileHandle.standardOutput.write(Data(text.utf8))
                return
            }
            let url = output.map { URL(fileURLWithPath: $0) }
                ?? URL(fileURLWithPath: store.path).deletingLastPathComponent().appendingPathComponent("explanations.\(format.rawValue)")
            try OutputFile.write(Data(text.utf8), to: url)
            print("wrote \(rows.count) explanations to \(url.path)")
        }
    }
}
