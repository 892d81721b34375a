#!/usr/bin/env python3
"""Writes small byte-level BPE tokenizers and their reference encodings for BPETokenizerTests.

Four tokenizer.json files in the layouts of GPT-2, Llama 3, SmolLM2 and Qwen2 (the same pre-tokenizers,
normalizers and added-token settings; vocabularies of ~700 trained here on a mixed text) under
Tests/AutoInterpTests/Fixtures/Tokenizers/, and `cases.json`: for each tokenizer and each hostile
text, the ids Hugging Face `tokenizers` gives with `add_special_tokens=False`.

Run once by hand: python3 -m pip install tokenizers && python3 Tests/Scripts/make_bpe_fixtures.py
"""
import json
from pathlib import Path

from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers

OUT = Path(__file__).resolve().parent.parent / "AutoInterpTests" / "Fixtures" / "Tokenizers"

LLAMA3 = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|"
          r"\s+(?!\S)|\s+")
QWEN2 = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|"
         r"\s+(?!\S)|\s+")

CORPUS = [
    "The quick brown fox jumps over the lazy dog. It's 2024, and we'll see what they've done.",
    "def main():\n    for i in range(10):\n        print(f\"value {i}: {i * 2}\")\n    return None\n",
    "Café, naïve, résumé, Ångström, São Paulo — déjà vu.",
    "東京は日本の首都です。中文测试。한국어 텍스트.",
    "Emoji 🙂👍🏽 and 🇫🇷 flags, ✓ marks.",
    "Numbers 1234567 and 3.14159, prices $19.99, 100% sure!!!",
    "    indented     text\t\twith\ttabs\n\n\nand newlines\r\n",
    "<html><body class=\"x\">Hello &amp; goodbye</body></html>",
    "I'M SHOUTING, YOU'RE NOT, THEY'LL SEE. don't won't can't",
] * 20

HOSTILE = [
    "Hello world",
    "hello   world    with     runs of spaces   ",
    "   leading spaces",
    "trailing\n\n\n",
    "12345678901234567890 and 3.14159 and 1,000,000",
    "Café naïve résumé e\u0301 (decomposed) Å",
    "東京は日本の首都です。中文测试。한국어",
    "🙂👍🏽🇫🇷 emoji 👨‍👩‍👧 family",
    "def f(x):\n\treturn x**2  # comment\n",
    "I'M HERE, YOU'RE THERE, we'll've",
    "tab\tand\r\nwindows\rnewlines\u00a0nbsp\u2003em space",
    "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n",
    "text<|endoftext|>more text <|endoftext|> end",
    "<|begin_of_text|>Hello<|eot_id|>",
    "a <tool> b<tool>c  <tool>  d",
    "",
    " ",
    "\n",
    "ﬁ ligature Ⅻ ½ ² ＡＢＣ fullwidth",
    "zero\u200bwidth and \u0000 nul and \u007f del",
    "x" * 50 + "y" * 3,
    "'s 't 're 've 'm 'll 'd 'S 'T",
]


def train(pre, normalizer, specials, added, ignore_merges=False, vocab=700):
    tok = Tokenizer(models.BPE(ignore_merges=ignore_merges))
    tok.normalizer = normalizer
    tok.pre_tokenizer = pre
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab, special_tokens=specials,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tok.train_from_iterator(CORPUS, trainer)
    if added:
        tok.add_tokens(added)
    return tok


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    tokenizers = {
        "gpt2": train(pre_tokenizers.ByteLevel(add_prefix_space=False), None, ["<|endoftext|>"], []),
        "llama3": train(pre_tokenizers.Sequence([
            pre_tokenizers.Split(Regex(LLAMA3), behavior="isolated", invert=False),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)]), None,
            ["<|begin_of_text|>", "<|eot_id|>"], [], ignore_merges=True),
        "smollm2": train(pre_tokenizers.Sequence([
            pre_tokenizers.Digits(individual_digits=True),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)]), None,
            ["<|endoftext|>", "<|im_start|>", "<|im_end|>"],
            [AddedToken("<tool>", lstrip=True, rstrip=True, normalized=False)]),
        "qwen2": train(pre_tokenizers.Sequence([
            pre_tokenizers.Split(Regex(QWEN2), behavior="isolated", invert=False),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)]), normalizers.NFC(),
            ["<|endoftext|>", "<|im_start|>", "<|im_end|>"], []),
    }
    cases = {}
    for name, tok in tokenizers.items():
        tok.save(str(OUT / f"{name}.json"))
        cases[name] = [{"text": t, "ids": tok.encode(t, add_special_tokens=False).ids} for t in HOSTILE]
    (OUT / "cases.json").write_text(json.dumps(cases, ensure_ascii=False, indent=0) + "\n")
    for f in sorted(OUT.iterdir()):
        print(f.name, f.stat().st_size)


if __name__ == "__main__":
    main()
