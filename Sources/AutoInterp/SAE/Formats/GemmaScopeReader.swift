import Foundation

/// Reads Gemma Scope (`params.npz`) and Gemma Scope 2 (`params.safetensors`) JumpReLU SAEs.
///
/// Both encode as the Gemma Scope tutorial does: `z = x·W_enc + b_enc`, `relu(z)` where
/// `z > threshold`, without subtracting `b_dec` first. `W_enc` is `[d_in, d_sae]` and `W_dec`
/// `[d_sae, d_in]` (Gemma Scope 2 spells them `w_enc`, `w_dec`). A Gemma Scope 2
/// skip-transcoder (an `_affine` id, an `affine_skip_connection` tensor) has a skip term that
/// only matters for reconstruction; it is noted, not used.
enum GemmaScopeReader {
    /// Reads `url`: a `params.npz` / `params.safetensors` file or the folder holding it.
    static func read(_ url: URL, format: SAEFormat, scope: SAEReadScope = .all) throws -> SparseAutoencoder {
        let fileName = format == .gemmaScope ? "params.npz" : "params.safetensors"
        let file = isFolder(url) ? url.appendingPathComponent(fileName) : url
        guard FileManager.default.fileExists(atPath: file.path) else {
            throw AutoInterpError.io(file.path, "missing (a \(format.rawValue) folder holds \(fileName))")
        }
        let source: any TensorSource =
            format == .gemmaScope ? try NpzArchive(url: file) : SafeTensorsSource(file: try SafeTensorsFile(url: file))
        let lower = format == .gemmaScope2 || (source.contains("w_enc") && !source.contains("W_enc"))
        let names = SAEAssembler.Names(
            encoder: lower ? "w_enc" : "W_enc", decoder: lower ? "w_dec" : "W_dec", encoderBias: "b_enc", decoderBias: "b_dec",
            threshold: "threshold")
        var assembler = SAEAssembler(source: source, names: names, encoder: .inputMajor, decoder: .featureMajor)
        var sae = try assembler.assemble(architecture: .jumprelu, applyBDecToInput: false, scope: scope)
        var notes: [String] = []
        let id = file.deletingLastPathComponent().path
        if source.contains("affine_skip_connection") || id.hasSuffix("_affine") {
            notes.append("skip-transcoder: the affine skip connection matters for reconstruction, not for feature activations, and is not used")
        }
        sae.source = SAESource.describing(
            sae, format: format, files: [file.path], dtype: assembler.reader.dtypeSummary, layer: layerNumber(in: file), notes: notes)
        return sae
    }

    /// The `layer_N` component of a Gemma Scope path (`layer_20/width_16k/average_l0_71`), if any.
    static func layerNumber(in url: URL) -> Int? {
        for component in url.pathComponents.reversed() where component.hasPrefix("layer_") {
            if let n = Int(component.dropFirst(6)) { return n }
        }
        return nil
    }
}
