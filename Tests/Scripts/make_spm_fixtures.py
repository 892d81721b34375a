#!/usr/bin/env python3
"""Writes a small Gemma-style (SentencePiece BPE) tokenizer and its reference encodings for BPETokenizerTests.

No Gemma tokenizer is available offline at fixture size (the real one has 262,144 pieces), so this trains a
tiny one with `tokenizers` in Gemma's layout: BPE with byte_fallback and fuse_unk, normalizer Replace(" ", "▁"),
pre-tokenizer Split(" ", merged_with_previous), the 256 <0xXX> byte pieces in the vocabulary, <pad> <eos> <bos>
<unk> <mask> <start_of_turn> <end_of_turn> as special added tokens and "\n" as a plain added token (as Gemma's
user-defined ones). Writes Fixtures/Tokenizers/gemma.json and gemma-cases.json: for each hostile text the ids
Hugging Face `tokenizers` gives with add_special_tokens=False, from the tokenizer.json ("json") and from the
same vocabulary written into a GGUF as llama.cpp stores Gemma's (tokenizer.ggml.model llama, no merges, runs
of spaces spelled as spaces, token types) and read back by transformers ("gguf"). The GGUF tokenizer goes into
Fixtures/Decoders/gemma3-gguf/model.gguf (make_gemma_fixtures.py calls `gguf_tokenizer`).

Run by hand (after make_bpe_fixtures.py exists): python3 -m pip install tokenizers transformers gguf && \
    python3 Tests/Scripts/make_spm_fixtures.py
"""
import json
import sys
from pathlib import Path

from tokenizers import AddedToken, Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers

sys.path.insert(0, str(Path(__file__).resolve().parent))
from make_bpe_fixtures import CORPUS, HOSTILE  # noqa: E402

OUT = Path(__file__).resolve().parent.parent / "AutoInterpTests" / "Fixtures" / "Tokenizers"
SPECIALS = ["<pad>", "<eos>", "<bos>", "<unk>", "<mask>", "<start_of_turn>", "<end_of_turn>"]
EXTRA = [
    "<start_of_turn>user\nHi there<end_of_turn>\n<start_of_turn>model\n",
    "double  space and    four",
    "ß∑ unknown → bytes ☃ and 𝔘𝔫𝔦",
    "\n\n\nnewlines\n",
    "▁ a literal marker",
]
SIZE = 560


def train():
    tok = Tokenizer(models.BPE(unk_token="<unk>", byte_fallback=True, fuse_unk=True))
    tok.normalizer = normalizers.Replace(" ", "▁")
    tok.pre_tokenizer = pre_tokenizers.Split(" ", behavior="merged_with_previous")
    trainer = trainers.BpeTrainer(vocab_size=SIZE - 256, special_tokens=SPECIALS, show_progress=False, limit_alphabet=120)
    # Train on words (the whole text would be one word), as SentencePiece's pieces start at ▁.
    tok_words = Tokenizer(models.BPE(unk_token="<unk>"))
    tok_words.normalizer = normalizers.Replace(" ", "▁")
    tok_words.pre_tokenizer = pre_tokenizers.Split("▁", behavior="merged_with_next")
    tok_words.train_from_iterator(CORPUS, trainer)
    trained = json.loads(tok_words.to_str())["model"]
    # Gemma's order: specials, then the byte pieces, then the learned pieces.
    vocab = {t: i for i, t in enumerate(SPECIALS)}
    for b in range(256):
        vocab[f"<0x{b:02X}>"] = len(vocab)
    for t, _ in sorted(trained["vocab"].items(), key=lambda kv: kv[1]):
        if t not in vocab:
            vocab[t] = len(vocab)
    vocab["\n"] = len(vocab)
    merges = [tuple(m) if isinstance(m, list) else tuple(m.split(" ")) for m in trained["merges"]]
    tok = Tokenizer(models.BPE(vocab=vocab, merges=merges, unk_token="<unk>", byte_fallback=True, fuse_unk=True))
    tok.normalizer = normalizers.Replace(" ", "▁")
    tok.pre_tokenizer = pre_tokenizers.Split(" ", behavior="merged_with_previous")
    tok.decoder = decoders.Sequence([decoders.Replace("▁", " "), decoders.ByteFallback(), decoders.Fuse()])
    tok.add_special_tokens([AddedToken(t, normalized=False, special=True) for t in SPECIALS])
    tok.add_tokens([AddedToken("\n", normalized=False, special=False)])
    return tok


def gguf_tokenizer(writer):
    """Writes gemma.json's vocabulary as a Gemma GGUF's tokenizer.ggml.* metadata."""
    tj = json.loads((OUT / "gemma.json").read_text())
    vocab = dict(tj["model"]["vocab"])
    vocab.update({a["content"]: a["id"] for a in tj["added_tokens"]})
    tokens = ["<unused>"] * (max(vocab.values()) + 1)
    for t, i in vocab.items():
        tokens[i] = t.replace("▁", " ") if set(t) == {"▁"} and len(t) > 1 else t   # llama.cpp spells space runs as spaces
    types = [1] * len(tokens)
    for i, t in enumerate(tokens):
        if t in SPECIALS:
            types[i] = 3
        elif t.startswith("<0x") and len(t) == 6:
            types[i] = 6
        elif t == "\n" or (len(t) > 1 and set(t) == {" "}):
            types[i] = 4
    writer.add_tokenizer_model("llama")
    writer.add_tokenizer_pre("default")
    writer.add_token_list(tokens)
    writer.add_token_scores([-float(i) for i in range(len(tokens))])
    writer.add_token_types(types)
    writer.add_unk_token_id(3)
    writer.add_add_space_prefix(False)
    return len(tokens)


def main():
    tok = train()
    tok.save(str(OUT / "gemma.json"))
    texts = HOSTILE + EXTRA
    cases = {"json": [{"text": t, "ids": tok.encode(t, add_special_tokens=False).ids} for t in texts]}
    gguf_path = OUT.parent / "Decoders" / "gemma3-gguf" / "model.gguf"
    if gguf_path.exists():
        from transformers import AutoTokenizer
        g = AutoTokenizer.from_pretrained(str(gguf_path.parent), gguf_file=gguf_path.name)
        cases["gguf"] = [{"text": t, "ids": g(t, add_special_tokens=False)["input_ids"]} for t in texts]
    (OUT / "gemma-cases.json").write_text(json.dumps(cases, ensure_ascii=False, indent=0) + "\n")
    print(len(tok.get_vocab()), "pieces;", sum(len(c["ids"]) for c in cases["json"]), "ids")


if __name__ == "__main__":
    main()
