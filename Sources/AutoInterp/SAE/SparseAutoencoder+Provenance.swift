import AutoInterpLLM
import Foundation

extension SparseAutoencoder {
    /// One line for each thing the SAE's files say about its inputs that the dataset's metadata
    /// contradicts: the hook (`hook_name` / `hook_point`), the model (`model_name`) and BOS
    /// (`prepend_bos`). `select` and `run` print them as warnings and go on; a wrong `d_in` is an
    /// error (`checkCompatible`).
    ///
    /// Only what both sides state is compared (`unknown`, as `train-sae` writes it, states nothing).
    /// Model names are compared loosely: `HuggingFaceTB/SmolLM2-135M` agrees with a dataset harvested
    /// from `SmolLM2-135M-Instruct.Q4_1.gguf` (case, punctuation and an owner prefix are ignored,
    /// and one name may extend the other).
    package func provenanceWarnings(with dataset: ActivationDataset, saePath: String? = nil) -> [String] {
        let name = saePath.map { "the SAE \($0)" } ?? "the SAE"
        func stated(_ value: String?) -> String? {
            guard let value, !value.isEmpty, value.lowercased() != "unknown" else { return nil }
            return value
        }
        let metadata = dataset.metadata
        var lines: [String] = []
        if let saeHook = stated(source?.hook ?? config.hookName), let hook = stated(metadata["hook"]), saeHook != hook,
            source?.outputHook == nil || hook != source?.outputHook
        {
            lines.append(
                "\(name) was trained on hook '\(saeHook)' but \(dataset.url.path) holds '\(hook)': harvest at the SAE's hook (\(Setting.hook) \(saeHook))")
        }
        if let saeModel = stated(config.modelName), let model = stated(metadata["model"]), !Self.sameModel(saeModel, model) {
            lines.append(
                "\(name) was trained on model '\(saeModel)' but \(dataset.url.path) comes from '\(model)': its features may not apply")
        }
        if let saeBOS = config.prependBOS, let bos = metadata["prepend_bos"].flatMap({ ["true": true, "false": false][$0] }), saeBOS != bos {
            lines.append(
                "\(name) was trained \(saeBOS ? "with" : "without") BOS first (prepend_bos) but \(dataset.url.path) was harvested "
                    + "\(bos ? "with" : "without"): harvest again with \(saeBOS ? Setting.prependBos : Setting.noPrependBos)")
        }
        return lines
    }

    /// Loose model-name agreement: the last path component, lowercased, letters and digits only; one contains the other.
    static func sameModel(_ a: String, _ b: String) -> Bool {
        func key(_ name: String) -> String {
            var last = name.split(separator: "/").last.map(String.init) ?? name
            if last.lowercased().hasSuffix(".gguf") { last.removeLast(5) }
            return String(last.lowercased().unicodeScalars.filter { CharacterSet.alphanumerics.contains($0) }.map(Character.init))
        }
        let (x, y) = (key(a), key(b))
        guard !x.isEmpty, !y.isEmpty else { return true }
        return x.contains(y) || y.contains(x)
    }
}
