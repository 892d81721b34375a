package import Foundation

extension SAETrainingReport {
    /// The report's file name inside the SAE folder, beside `cfg.json` and `sae_weights.safetensors`.
    package static let fileName = "training.json"

    /// Writes `training.json` into `folder` (pretty, sorted keys; non-finite numbers as "inf"/"-inf"/"nan").
    ///
    /// - Throws: `AutoInterpError.io` naming the file that could not be written.
    package func write(into folder: URL) throws {
        let url = folder.appendingPathComponent(Self.fileName)
        do {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
            try encoder.encode(self).write(to: url, options: .atomic)
        } catch {
            throw AutoInterpError.io(url.path, "cannot write: \(error.localizedDescription)")
        }
    }

    /// Reads the `training.json` of `folder`, nil when there is none or it does not decode.
    package static func read(from folder: URL) -> SAETrainingReport? {
        let decoder = JSONDecoder()
        decoder.nonConformingFloatDecodingStrategy = .convertFromString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        return (try? Data(contentsOf: folder.appendingPathComponent(fileName))).flatMap { try? decoder.decode(SAETrainingReport.self, from: $0) }
    }
}
