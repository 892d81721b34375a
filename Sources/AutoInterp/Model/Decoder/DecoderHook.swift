/// A hook point by its TransformerLens name (`blocks.6.hook_resid_post`, `blocks.6.mlp.hook_post`),
/// as SAELens `cfg.json` writes them in `hook_name` (older `hook_point`).
package struct DecoderHook: Sendable, Hashable, CustomStringConvertible {
    package enum Kind: String, Sendable, CaseIterable {
        case residPre = "hook_resid_pre"
        case attnOut = "hook_attn_out"
        case residMid = "hook_resid_mid"
        case mlpOut = "hook_mlp_out"
        case residPost = "hook_resid_post"
        /// The MLP's input to its non-linearity: `W_gate x` for SwiGLU, `W_in x + b` for GPT-2.
        case mlpPre = "mlp.hook_pre"
        /// The MLP's neurons: `act(gate) · up` for SwiGLU, `gelu(pre)` for GPT-2.
        case mlpPost = "mlp.hook_post"
    }

    package var layer: Int
    package var kind: Kind

    package init(layer: Int, kind: Kind) {
        self.layer = layer
        self.kind = kind
    }

    /// Parses `blocks.L.<kind>`.
    ///
    /// - Throws: `AutoInterpError.invalidInput` naming the accepted forms.
    package init(name: String) throws {
        let parts = name.split(separator: ".", maxSplits: 2).map(String.init)
        guard parts.count == 3, parts[0] == "blocks", let layer = Int(parts[1]), layer >= 0, let kind = Kind(rawValue: parts[2]) else {
            throw AutoInterpError.invalidInput(
                "hook '\(name)' is not a TransformerLens hook name; use blocks.L.\(Kind.allCases.map(\.rawValue).joined(separator: "|"))")
        }
        self.init(layer: layer, kind: kind)
    }

    package var description: String { "blocks.\(layer).\(kind.rawValue)" }

    /// Whether the hook is on the MLP's hidden side (`intermediate_size` wide).
    package var isNeuronSide: Bool { kind == .mlpPre || kind == .mlpPost }
}
