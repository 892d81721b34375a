import Foundation

/// Builds a `SparseAutoencoder` from the tensors of one file, given which tensor is which.
///
/// `d_in` is the length of the decoder bias and `d_sae` that of the encoder bias (or the
/// threshold); each weight is then oriented by its shape against them.
struct SAEAssembler {
    /// The tensor names a publisher uses.
    struct Names {
        var encoder: String
        var decoder: String
        var encoderBias: String?
        var decoderBias: String
        var threshold: String?
    }

    var reader: WeightReader
    var names: Names
    /// How the publisher stores the encoder and decoder weights.
    var encoderLayout: WeightReader.Layout
    var decoderLayout: WeightReader.Layout

    init(source: any TensorSource, names: Names, encoder: WeightReader.Layout, decoder: WeightReader.Layout) {
        reader = WeightReader(source)
        self.names = names
        encoderLayout = encoder
        decoderLayout = decoder
    }

    /// `d_in` (from the decoder bias) and `d_sae` (from the encoder bias, else the threshold, else the encoder).
    func dimensions() throws -> (dIn: Int, dSAE: Int) {
        let dIn = try reader.length(names.decoderBias)
        let dSAE: Int
        if let bias = names.encoderBias, reader.source.contains(bias) {
            dSAE = try reader.length(bias)
        } else if let threshold = names.threshold, reader.source.contains(threshold) {
            dSAE = try reader.length(threshold)
        } else {
            let shape = try reader.shape(names.encoder)
            guard shape.count == 2, let other = shape.first(where: { $0 != dIn }) ?? shape.first else {
                throw AutoInterpError.invalidFile(reader.path, "'\(names.encoder)' has shape \(shape), expected a matrix")
            }
            dSAE = other
        }
        guard dIn > 0, dSAE > 0 else {
            throw AutoInterpError.invalidFile(reader.path, "empty SAE: d_in \(dIn), d_sae \(dSAE)")
        }
        return (dIn, dSAE)
    }

    /// Reads and checks every tensor and returns the SAE.
    ///
    /// - Parameters:
    ///   - architecture: the publisher's activation.
    ///   - applyBDecToInput: whether the publisher's encode subtracts `b_dec` first.
    ///   - k: active latents per token for `topk`.
    ///   - scope: which parts to read (the decoder's shape is checked even when it is not read).
    mutating func assemble(
        architecture: SAEConfig.Architecture, applyBDecToInput: Bool, k: Int? = nil, hookName: String? = nil, scope: SAEReadScope = .all
    ) throws -> SparseAutoencoder {
        let (dIn, dSAE) = try dimensions()
        if architecture == .topk {
            guard let k, k > 0, k <= dSAE else {
                throw AutoInterpError.invalidFile(reader.path, "topk SAE needs k between 1 and d_sae (\(dSAE)), found \(k.map(String.init) ?? "none")")
            }
        }
        let plan = try scope.plan(dSAE: dSAE, architecture: architecture, decoderNeeded: false, path: reader.path)
        let columns = plan.columns
        let encoder = try reader.encoder(names.encoder, dIn: dIn, dSAE: dSAE, layout: encoderLayout, columns: columns)
        var decoder: [Float] = []
        if plan.readsDecoder {
            decoder = try reader.decoder(names.decoder, dIn: dIn, dSAE: dSAE, layout: decoderLayout)
        } else {
            try reader.checkDecoder(names.decoder, dIn: dIn, dSAE: dSAE, layout: decoderLayout)
        }
        let encoderBias: [Float]
        if let name = names.encoderBias, reader.source.contains(name) {
            encoderBias = try reader.vector(name, dSAE, what: "d_sae", columns: columns)
        } else {
            encoderBias = [Float](repeating: 0, count: columns?.count ?? dSAE)
        }
        let decoderBias = try reader.vector(names.decoderBias, dIn, what: "d_in")
        var threshold: [Float]?
        var thresholdRange: ClosedRange<Float>?
        if architecture == .jumprelu {
            if let name = names.threshold {
                threshold = try reader.vector(name, dSAE, what: "d_sae", columns: columns)
                if columns != nil { thresholdRange = try reader.finiteRange(name) }
            } else {
                throw AutoInterpError.invalidFile(reader.path, "jumprelu SAE has no threshold tensor")
            }
        }
        let dtype: String
        switch reader.dtypes[names.encoder] {
        case "F16": dtype = "float16"
        case "BF16": dtype = "bfloat16"
        case "F64": dtype = "float64"
        default: dtype = "float32"
        }
        let config = SAEConfig(
            architecture: architecture, dIn: dIn, dSAE: dSAE, applyBDecToInput: applyBDecToInput, k: architecture == .topk ? k : nil,
            dtype: dtype, hookName: hookName)
        var sae = SparseAutoencoder(
            config: config, encoderWeights: encoder, encoderBias: encoderBias, decoderWeights: decoder, decoderBias: decoderBias,
            threshold: threshold)
        sae.featureIndices = columns
        sae.allThresholdsRange = thresholdRange
        return sae
    }
}
