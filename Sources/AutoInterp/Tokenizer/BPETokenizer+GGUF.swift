import Foundation

extension BPETokenizer {
    /// The byte-level BPE tokenizer stored in a GGUF's `tokenizer.ggml.*` metadata (model `gpt2`).
    ///
    /// The pre-tokenizer comes from `tokenizer.ggml.pre` as llama.cpp names them: `gpt2`/`default`,
    /// `llama-bpe`/`llama3`, `smollm` (single digits, then GPT-2's pattern), `qwen2`. Control and
    /// user-defined tokens (types 3 and 4) are added tokens.
    ///
    /// - Throws: `AutoInterpError.unsupported` for another tokenizer model or pre-tokenizer.
    package static func load(gguf file: GGUFFile) throws -> BPETokenizer {
        let path = file.url.path
        let model = try file.string("tokenizer.ggml.model") ?? "?"
        guard model == "gpt2" else {
            throw AutoInterpError.unsupported(
                "\(path): tokenizer.ggml.model '\(model)' is not read by this version (gpt2 byte-level BPE is)")
        }
        guard let tokens = try file.strings("tokenizer.ggml.tokens") else {
            throw AutoInterpError.invalidFile(path, "no tokenizer.ggml.tokens")
        }
        let merges = try (file.strings("tokenizer.ggml.merges") ?? []).enumerated().map { index, text in
            guard let space = text.firstIndex(of: " ") else {
                throw AutoInterpError.invalidFile(path, "tokenizer.ggml.merges[\(index)] has no space")
            }
            return (String(text[..<space]), String(text[text.index(after: space)...]))
        }
        let types = file.metadata["tokenizer.ggml.token_type"]?.array?.map { $0.int ?? 1 } ?? []
        var added: [BPEAddedToken] = []
        for (id, type) in types.enumerated() where type == 3 || type == 4 {
            added.append(BPEAddedToken(id: Int32(id), content: tokens[id], special: type == 3))
        }
        let pre = try file.string("tokenizer.ggml.pre") ?? "default"
        let steps: [BPEPreTokenizer.Step]
        switch pre {
        case "gpt2", "default": steps = [.split(try RegexBox(BPEPreTokenizer.gpt2Pattern))]
        case "llama-bpe", "llama3", "llama-v3": steps = [.split(try RegexBox(BPEPreTokenizer.llama3Pattern))]
        case "smollm": steps = [.digits(individual: true), .split(try RegexBox(BPEPreTokenizer.gpt2Pattern))]
        case "qwen2": steps = [.split(try RegexBox(BPEPreTokenizer.qwen2Pattern))]
        default:
            throw AutoInterpError.unsupported(
                "\(path): tokenizer.ggml.pre '\(pre)' is not read by this version (gpt2, llama-bpe, smollm, qwen2)")
        }
        return try BPETokenizer(
            vocabulary: tokens, merges: merges, addedTokens: added, preTokenizer: BPEPreTokenizer(steps: steps, addPrefixSpace: false),
            nfc: pre == "qwen2", ignoreMerges: pre.hasPrefix("llama"), source: path)
    }
}
