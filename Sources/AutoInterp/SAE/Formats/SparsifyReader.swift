import AutoInterpLLM
import Foundation

/// Reads EleutherAI sparsify sparse coders: a folder per hookpoint with `cfg.json` and
/// `sae.safetensors` (`encoder.weight [num_latents, d_in]`, `encoder.bias`, `W_dec
/// [num_latents, d_in]`, `b_dec`).
///
/// Encodes as `SparseCoder.encode` does: `x - b_dec` (not for a transcoder, `transcode: true`),
/// then `relu(x·Wᵀ + b)` and the top `k`. A top folder holding several hookpoints asks for one.
enum SparsifyReader {
    /// Subfolders of `url` that hold a sparsify coder, by name (sorted).
    static func hookpoints(in url: URL) -> [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: url.path)) ?? []
        return names.filter { name in
            let folder = url.appendingPathComponent(name)
            return FileManager.default.fileExists(atPath: folder.appendingPathComponent("cfg.json").path)
                && FileManager.default.fileExists(atPath: folder.appendingPathComponent("sae.safetensors").path)
        }.sorted()
    }

    /// Reads `url`: a hookpoint folder, its `sae.safetensors`, or a top folder plus `hookpoint`.
    static func read(_ url: URL, hookpoint: String?, scope: SAEReadScope = .all) throws -> SparseAutoencoder {
        var folder = isFolder(url) ? url : url.deletingLastPathComponent()
        var chosen: String?
        if !FileManager.default.fileExists(atPath: folder.appendingPathComponent("sae.safetensors").path) {
            let found = hookpoints(in: folder)
            if let hookpoint {
                guard found.contains(hookpoint) else {
                    throw AutoInterpError.invalidInput(
                        "\(folder.path) has no hookpoint '\(hookpoint)' (has: \(found.isEmpty ? "none" : found.joined(separator: ", ")))")
                }
                chosen = hookpoint
            } else if found.count == 1 {
                chosen = found[0]
            } else if found.isEmpty {
                throw AutoInterpError.io(folder.path, "no sparsify coder here (a hookpoint folder holds cfg.json and sae.safetensors)")
            } else {
                throw AutoInterpError.invalidInput(
                    "\(folder.path) holds \(found.count) hookpoints; pick one with \(Setting.hookpoint) (\(found.joined(separator: ", ")))")
            }
            folder = folder.appendingPathComponent(chosen!)
        } else if let hookpoint, hookpoint != folder.lastPathComponent {
            throw AutoInterpError.invalidInput("\(folder.path) is the single hookpoint '\(folder.lastPathComponent)', not '\(hookpoint)'")
        }
        let cfgURL = folder.appendingPathComponent("cfg.json")
        let weightsURL = folder.appendingPathComponent("sae.safetensors")
        let cfgPath = cfgURL.path
        guard let data = FileManager.default.contents(atPath: cfgPath) else {
            throw AutoInterpError.io(cfgPath, "cannot read the sparsify config (a hookpoint folder holds cfg.json and sae.safetensors)")
        }
        guard let cfg = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw AutoInterpError.invalidFile(cfgPath, "not a JSON object")
        }
        func int(_ key: String) throws -> Int? {
            guard let raw = cfg[key], !(raw is NSNull) else { return nil }
            guard let number = raw as? NSNumber, let value = Int(exactly: number.doubleValue), value >= 0 else {
                throw AutoInterpError.invalidFile(cfgPath, "'\(key)' must be a non-negative integer, found \(raw)")
            }
            return value
        }
        guard let dIn = try int("d_in"), dIn > 0 else { throw AutoInterpError.invalidFile(cfgPath, "missing 'd_in'") }
        let activation = cfg["activation"] as? String ?? "topk"
        guard activation == "topk" else {
            throw AutoInterpError.unsupported("\(cfgPath): sparsify activation '\(activation)' is not supported (topk only)")
        }
        guard let k = try int("k"), k > 0 else { throw AutoInterpError.invalidFile(cfgPath, "missing or zero 'k'") }
        let latents = try int("num_latents") ?? 0
        let expansion = try int("expansion_factor") ?? 0
        let (product, overflow) = dIn.multipliedReportingOverflow(by: expansion)
        let dSAE = latents > 0 ? latents : (overflow ? 0 : product)
        guard dSAE > 0 else { throw AutoInterpError.invalidFile(cfgPath, "neither 'num_latents' nor 'expansion_factor' gives the number of latents") }
        let transcode = (cfg["transcode"] as? NSNumber)?.boolValue ?? false
        let skip = (cfg["skip_connection"] as? NSNumber)?.boolValue ?? false

        let file = SafeTensorsSource(file: try SafeTensorsFile(url: weightsURL))
        var assembler = SAEAssembler(
            source: file, names: .init(encoder: "encoder.weight", decoder: "W_dec", encoderBias: "encoder.bias", decoderBias: "b_dec", threshold: nil),
            encoder: .featureMajor, decoder: .featureMajor)
        let (foundIn, foundSAE) = try assembler.dimensions()
        guard foundIn == dIn, foundSAE == dSAE else {
            throw AutoInterpError.invalidFile(
                weightsURL.path, "'b_dec' / 'encoder.bias' give d_in \(foundIn), num_latents \(foundSAE); cfg.json says d_in \(dIn), num_latents \(dSAE)")
        }
        var sae = try assembler.assemble(architecture: .topk, applyBDecToInput: !transcode, k: k, scope: scope)
        var notes: [String] = []
        if transcode { notes.append("transcoder (transcode: true): b_dec is the output bias and is not subtracted from the input") }
        if skip { notes.append("skip connection W_skip: matters for reconstruction, not for feature activations; not used") }
        let hook = chosen ?? folder.lastPathComponent
        sae.config.hookName = hook
        sae.source = SAESource.describing(
            sae, format: .sparsify, files: [cfgPath, weightsURL.path], dtype: assembler.reader.dtypeSummary, hook: hook, hookpoint: hook, notes: notes)
        return sae
    }
}
