import AutoInterpLLM
public import Foundation

/// How to read an SAE path: the format (detected when nil) and the choices a folder holding
/// several SAEs needs.
public struct SAELoadOptions: Sendable, Equatable {
    /// Force a layout instead of recognising it by its files.
    public var format: SAEFormat?
    /// sparsify: the hookpoint folder to read in a top folder holding several.
    public var hookpoint: String?
    /// circuit-tracer: the layer whose `layer_{i}.safetensors` to read.
    public var layer: Int?
    /// TopK state dicts that do not store k (Qwen Scope).
    public var k: Int?

    public init(format: SAEFormat? = nil, hookpoint: String? = nil, layer: Int? = nil, k: Int? = nil) {
        self.format = format
        self.hookpoint = hookpoint
        self.layer = layer
        self.k = k
    }
}

extension SparseAutoencoder {
    /// Reads an SAE in any supported layout: the one entry point `--sae` uses.
    ///
    /// - Parameters:
    ///   - path: a folder or file (see `SAEFormat`).
    ///   - format: force a layout; detected from the files when nil.
    ///   - hookpoint: sparsify top folders; `layer`: circuit-tracer sets; `k`: Qwen Scope.
    /// - Throws: `AutoInterpError` with one line naming the file and tensor at fault, or the
    ///   option a folder needs.
    public static func load(path: URL, format: SAEFormat? = nil, hookpoint: String? = nil, layer: Int? = nil, k: Int? = nil) throws
        -> SparseAutoencoder
    {
        try load(path: path, options: SAELoadOptions(format: format, hookpoint: hookpoint, layer: layer, k: k))
    }

    /// Reads an SAE as `options` say; see `load(path:format:hookpoint:layer:k:)`.
    ///
    /// - Parameter scope: the parts to read: everything by default; `.encoder` for `encode`,
    ///   `.features` for selection (see `SAEReadScope`).
    public static func load(path: URL, options: SAELoadOptions, scope: SAEReadScope = .all) throws -> SparseAutoencoder {
        let url = path.standardizedFileURL
        let format = try options.format ?? SAEFormat.detect(at: url)
        func only(_ allowed: Set<String>) throws {
            let given: [(String, Bool)] = [("\(Setting.hookpoint)", options.hookpoint != nil), ("\(Setting.layer)", options.layer != nil), ("\(Setting.k)", options.k != nil)]
            if let extra = given.first(where: { $0.1 && !allowed.contains($0.0) }) {
                throw AutoInterpError.invalidInput("\(extra.0) does not apply to a \(format.rawValue) SAE (\(url.path))")
            }
        }
        switch format {
        case .saelens:
            try only([])
            let folder = isFolder(url) ? url : url.deletingLastPathComponent()
            return try SAELensReader.read(folder: folder, scope: scope)
        case .gemmaScope, .gemmaScope2:
            try only([])
            return try GemmaScopeReader.read(url, format: format, scope: scope)
        case .sparsify:
            try only(["\(Setting.hookpoint)"])
            return try SparsifyReader.read(url, hookpoint: options.hookpoint, scope: scope)
        case .circuitTracer:
            try only(["\(Setting.layer)"])
            return try TranscoderReader.read(url, layer: options.layer, scope: scope)
        case .torch:
            try only(["\(Setting.k)"])
            return try TorchStateDictReader.read(url, k: options.k, scope: scope)
        }
    }

    /// Checks that this SAE can encode `dataset`: its `d_in` is the dataset's width, and a
    /// transcoder's features are read at its input hook, not its output hook.
    ///
    /// The one place that compares an SAE with a dataset.
    /// - Throws: `AutoInterpError.shapeMismatch` saying which layer or hook to use instead.
    public func checkCompatible(with dataset: ActivationDataset, saePath: String? = nil) throws {
        let name = saePath.map { "the SAE \($0)" } ?? "the SAE"
        guard dIn == dataset.width else {
            throw AutoInterpError.shapeMismatch(
                "\(name) expects d_in = \(dIn) but \(dataset.url.path) has activations of width \(dataset.width) (is it the SAE for this layer?)")
        }
        if let output = source?.outputHook, let hook = dataset.metadata["hook"], hook == output || hook.hasSuffix("." + output),
            hook != source?.hook
        {
            throw AutoInterpError.shapeMismatch(
                "\(dataset.url.path) holds activations at '\(hook)', the transcoder's output hook; its features are read from its input hook '\(source?.hook ?? "?")': harvest activations there"
            )
        }
    }
}
