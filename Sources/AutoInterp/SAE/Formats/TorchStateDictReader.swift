import AutoInterpLLM
import Foundation

/// Reads torch `.pt` / `.pth` state dicts (via `TorchArchive`, never Python's unpickler) and
/// maps the key sets publishers use onto one SAE:
///
/// | key set | who | encode |
/// |---|---|---|
/// | `encoder_linear.weight/bias`, `decoder_linear.weight/bias` | Goodfire | `relu(x·Wᵀ + b)` |
/// | `W_enc [d_sae, d_in]`, `W_dec [d_in, d_sae]`, `b_enc`, `b_dec` | Qwen Scope | top-k of `relu(x·W_encᵀ + b_enc)`, k from `L0_<k>` in the path or `--k` |
/// | `encoder.weight/bias`, `decoder.weight`, `bias` | dictionary_learning `AutoEncoder` | `relu((x - bias)·Wᵀ + b)` |
/// | `encoder.weight/bias`, `decoder.weight`, `b_dec`, `k` | dictionary_learning `AutoEncoderTopK` / `BatchTopKSAE` | top-k of `relu((x - b_dec)·Wᵀ + b)` |
/// | `W_enc [d_in, d_sae]`, `W_dec`, `b_enc`, `b_dec`, `threshold` | dictionary_learning `JumpReluAutoEncoder` | `relu(z)·[z > threshold]`, no shift |
enum TorchStateDictReader {
    /// Reads `url` (a `.pt` / `.pth` file, or a folder holding exactly one).
    static func read(_ url: URL, k: Int?, scope: SAEReadScope = .all) throws -> SparseAutoencoder {
        let file = try weightsFile(url)
        let source = try TorchArchive(url: file)
        let names = Set(source.tensorNames)
        var sae: SparseAutoencoder
        let variant: String
        var reader: WeightReader
        var notes: [String] = []
        if names.isSuperset(of: ["encoder_linear.weight", "decoder_linear.weight", "decoder_linear.bias"]) {
            variant = "goodfire"
            var assembler = SAEAssembler(
                source: source,
                names: .init(
                    encoder: "encoder_linear.weight", decoder: "decoder_linear.weight", encoderBias: "encoder_linear.bias",
                    decoderBias: "decoder_linear.bias", threshold: nil),
                encoder: .featureMajor, decoder: .inputMajor)
            sae = try assembler.assemble(architecture: .standard, applyBDecToInput: false, scope: scope)
            reader = assembler.reader
            try refuse(k, variant)
        } else if names.isSuperset(of: ["encoder.weight", "decoder.weight"]) {
            let bias = names.contains("b_dec") ? "b_dec" : "bias"
            var assembler = SAEAssembler(
                source: source,
                names: .init(encoder: "encoder.weight", decoder: "decoder.weight", encoderBias: "encoder.bias", decoderBias: bias, threshold: nil),
                encoder: .featureMajor, decoder: .inputMajor)
            if names.contains("k") {
                variant = "dictionary_learning-topk"
                let stored = try assembler.reader.scalar("k")
                guard stored >= 1, stored == stored.rounded(), stored < 1e9 else {
                    throw AutoInterpError.invalidFile(file.path, "'k' holds \(stored), expected a positive integer")
                }
                try refuse(k, variant)
                sae = try assembler.assemble(architecture: .topk, applyBDecToInput: true, k: Int(stored), scope: scope)
                if names.contains("threshold") {
                    let threshold = try assembler.reader.scalar("threshold")
                    notes.append("threshold buffer \(threshold) read but not used: AutoEncoderTopK.encode keeps the top k per token")
                }
            } else {
                variant = "dictionary_learning"
                try refuse(k, variant)
                sae = try assembler.assemble(architecture: .standard, applyBDecToInput: true, scope: scope)
            }
            reader = assembler.reader
        } else if names.isSuperset(of: ["W_enc", "W_dec", "b_dec"]) {
            let hasThreshold = names.contains("threshold")
            var assembler = SAEAssembler(
                source: source, names: .init(encoder: "W_enc", decoder: "W_dec", encoderBias: "b_enc", decoderBias: "b_dec", threshold: "threshold"),
                encoder: hasThreshold ? .inputMajor : .featureMajor, decoder: hasThreshold ? .featureMajor : .inputMajor)
            if hasThreshold {
                variant = "dictionary_learning-jumprelu"
                try refuse(k, variant)
                sae = try assembler.assemble(architecture: .jumprelu, applyBDecToInput: false, scope: scope)
            } else {
                variant = "qwen-scope"
                guard let chosen = k ?? kFromPath(file) else {
                    throw AutoInterpError.invalidInput(
                        "\(file.path): a Qwen Scope TopK SAE needs k; pass \(Setting.k), or keep the repo name (…-L0_<k>) in the path")
                }
                sae = try assembler.assemble(architecture: .topk, applyBDecToInput: false, k: chosen, scope: scope)
            }
            reader = assembler.reader
        } else {
            throw AutoInterpError.invalidFile(
                file.path,
                "unknown state-dict keys (\(source.tensorNames.prefix(8).joined(separator: ", "))); known: Goodfire (encoder_linear.*, decoder_linear.*), Qwen Scope (W_enc, W_dec, b_enc, b_dec), dictionary_learning (encoder.*, decoder.weight, bias or b_dec)"
            )
        }
        sae.source = SAESource.describing(
            sae, format: .torch, variant: variant, files: [file.path], dtype: reader.dtypeSummary, layer: layerFromPath(file), notes: notes)
        return sae
    }

    private static func refuse(_ k: Int?, _ variant: String) throws {
        if let k { throw AutoInterpError.invalidInput("\(Setting.k) \(k) does not apply to a \(variant) state dict (its files decide the activation)") }
    }

    /// The one `.pt` / `.pth` file `url` names or holds.
    static func weightsFile(_ url: URL) throws -> URL {
        guard isFolder(url) else { return url }
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: url.path)) ?? []).filter { $0.hasSuffix(".pt") || $0.hasSuffix(".pth") }.sorted()
        guard names.count == 1 else {
            throw AutoInterpError.invalidInput(
                "\(url.path) holds \(names.count) torch files (\(names.prefix(6).joined(separator: ", "))); pass the one to read as \(Setting.sae) FILE")
        }
        return url.appendingPathComponent(names[0])
    }

    /// `k` from a Qwen Scope repo name in the path (`SAE-Res-Qwen3-1.7B-Base-W32K-L0_50`).
    static func kFromPath(_ url: URL) -> Int? {
        for component in url.pathComponents.reversed() {
            guard let range = component.range(of: "L0_", options: .backwards) else { continue }
            let digits = component[range.upperBound...].prefix { $0.isASCII && $0.isNumber }
            if let k = Int(digits), k > 0 { return k }
        }
        return nil
    }

    /// The layer number in `layer12.sae.pt` / `layer_12`, if any.
    static func layerFromPath(_ url: URL) -> Int? {
        let name = url.lastPathComponent
        guard name.hasPrefix("layer") else { return nil }
        return Int(name.dropFirst(5).drop { $0 == "_" }.prefix { $0.isASCII && $0.isNumber })
    }
}
