import AutoInterpLLM
public import Foundation

/// The on-disk SAE layouts `--sae` reads, recognised by their files.
public enum SAEFormat: String, Sendable, Codable, CaseIterable {
    /// SAELens: `cfg.json` + `sae_weights.safetensors`.
    case saelens
    /// Gemma Scope: `params.npz` (`W_enc`, `W_dec`, `b_enc`, `b_dec`, `threshold`).
    case gemmaScope = "gemma-scope"
    /// Gemma Scope 2: `params.safetensors` with lower-case `w_enc`, `w_dec`, …
    case gemmaScope2 = "gemma-scope-2"
    /// EleutherAI sparsify: `cfg.json` + `sae.safetensors`, one folder per hookpoint.
    case sparsify
    /// circuit-tracer transcoder sets: `config.yaml` + `layer_{i}.safetensors`.
    case circuitTracer = "circuit-tracer"
    /// A torch `.pt` / `.pth` state dict (Goodfire, Qwen Scope, dictionary_learning).
    case torch

    /// The files that mark the layout, for messages and `--help`.
    public var files: String {
        switch self {
        case .saelens: "cfg.json + sae_weights.safetensors"
        case .gemmaScope: "params.npz"
        case .gemmaScope2: "params.safetensors"
        case .sparsify: "cfg.json + sae.safetensors (a folder per hookpoint)"
        case .circuitTracer: "config.yaml + layer_{i}.safetensors"
        case .torch: "a .pt or .pth state dict"
        }
    }

    /// Recognises the layout at `url` (a folder, or one of the files that mark a layout).
    ///
    /// - Throws: `AutoInterpError.invalidInput` listing what was found when nothing matches.
    public static func detect(at url: URL) throws -> SAEFormat {
        let fm = FileManager.default
        var isFolder: ObjCBool = false
        guard fm.fileExists(atPath: url.path, isDirectory: &isFolder) else {
            throw AutoInterpError.io(url.path, "no such file or folder (\(Setting.sae) takes an SAE folder or file)")
        }
        if !isFolder.boolValue {
            let name = url.lastPathComponent
            switch name {
            case _ where name.hasSuffix(".npz"): return .gemmaScope
            case _ where name.hasSuffix(".pt") || name.hasSuffix(".pth"): return .torch
            case "params.safetensors": return .gemmaScope2
            case "sae.safetensors": return .sparsify
            case "sae_weights.safetensors": return .saelens
            case "config.yaml": return .circuitTracer
            case _ where name.hasPrefix("layer_") && name.hasSuffix(".safetensors"): return .circuitTracer
            case "cfg.json": return try detect(at: url.deletingLastPathComponent())
            default:
                throw AutoInterpError.invalidInput(
                    "\(url.path): cannot tell the SAE format from the file name; pass the folder, or \(Setting.saeFormat) (\(allCases.map(\.rawValue).joined(separator: ", ")))")
            }
        }
        let names = Set((try? fm.contentsOfDirectory(atPath: url.path)) ?? [])
        if names.contains("sae_weights.safetensors") { return .saelens }
        if names.contains("sae.safetensors") { return .sparsify }
        if names.contains("params.npz") { return .gemmaScope }
        if names.contains("params.safetensors") { return .gemmaScope2 }
        if names.contains("config.yaml") || names.contains(where: { $0.hasPrefix("layer_") && $0.hasSuffix(".safetensors") }) {
            return .circuitTracer
        }
        if names.contains(where: { $0.hasSuffix(".pt") || $0.hasSuffix(".pth") }) { return .torch }
        if !SparsifyReader.hookpoints(in: url).isEmpty { return .sparsify }
        let shown = names.sorted().prefix(8).joined(separator: ", ")
        throw AutoInterpError.invalidInput(
            "\(url.path): no known SAE layout (found: \(shown.isEmpty ? "nothing" : shown)); expected one of: "
                + allCases.map { "\($0.rawValue) (\($0.files))" }.joined(separator: "; "))
    }
}

/// True when `url` names an existing folder.
func isFolder(_ url: URL) -> Bool {
    var folder: ObjCBool = false
    return FileManager.default.fileExists(atPath: url.path, isDirectory: &folder) && folder.boolValue
}
