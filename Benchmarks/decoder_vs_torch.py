#!/usr/bin/env python3
"""Decoder harvest throughput: `autointerp harvest --hook` against PyTorch CPU (`transformers`), side by side.

For each model shape (SmolLM2-135M: Llama layout, 30 layers, d 576; GPT-2 small: 12 layers, d 768),
random F32 weights are saved as a Hugging Face folder (with a fixture tokenizer.json), then both
harvest the same contexts at a middle layer's hook_resid_post, whole process (load + tokenize +
forward + write for Swift; load + forward to the hook for PyTorch on the token ids Swift wrote), with
the same thread count. Prints tokens/s, the ratio, and each process's peak RSS.

    python3 -m pip install torch transformers safetensors
    swift build -c release --product autointerp
    python3 Benchmarks/decoder_vs_torch.py [--contexts 64] [--context-len 64] [--threads 2]
"""
import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TOKENIZER = ROOT / "Tests/AutoInterpTests/Fixtures/Tokenizers/gpt2.json"

TORCH_CHILD = r"""
import sys, time, json, torch
from safetensors.numpy import load_file
t0 = time.time()
torch.set_num_threads(int(sys.argv[3]))
from transformers import AutoModelForCausalLM
folder, data, _, layer = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
d = load_file(data)
model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32).eval()
body = model.base_model
layers = body.layers if hasattr(body, "layers") else body.h
del layers[layer + 1:]
out = []
layers[layer].register_forward_hook(lambda m, i, o: out.append((o[0] if isinstance(o, tuple) else o)[0].clone()))
with torch.inference_mode():
    for c in range(d["tokens"].shape[0]):
        n = int(d["mask"][c].sum())
        body(torch.tensor(d["tokens"][c][:n].astype("int64"))[None])
print(json.dumps({"seconds": time.time() - t0, "tokens": int(d["mask"].sum())}))
"""


def make_model(kind, folder):
    import torch
    from transformers import GPT2Config, GPT2LMHeadModel, LlamaConfig, LlamaForCausalLM
    torch.manual_seed(0)
    if kind == "smollm2-135m":
        cfg = LlamaConfig(vocab_size=49152, hidden_size=576, intermediate_size=1536, num_hidden_layers=30,
                          num_attention_heads=9, num_key_value_heads=3, max_position_embeddings=2048,
                          rope_theta=100000.0, rms_norm_eps=1e-5, tie_word_embeddings=True, bos_token_id=0)
        model, layer = LlamaForCausalLM(cfg), 15
    else:
        cfg = GPT2Config(vocab_size=50257, n_positions=1024, n_embd=768, n_layer=12, n_head=12, bos_token_id=0)
        model, layer = GPT2LMHeadModel(cfg), 6
    model.save_pretrained(folder, safe_serialization=True)
    shutil.copy(TOKENIZER, Path(folder) / "tokenizer.json")
    return layer


def run(cmd):
    """Wall seconds, stdout and the process's own peak RSS in MB (from wait4)."""
    start = time.time()
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, text=True)
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.time() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        if proc.returncode != 0:
            sys.exit(f"failed: {' '.join(cmd)}\n{err.read()}")
        return seconds, out.read(), usage.ru_maxrss / 1024


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--contexts", type=int, default=64)
    ap.add_argument("--context-len", type=int, default=64)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--autointerp", default=str(ROOT / ".build/release/autointerp"))
    ap.add_argument("--make", nargs=2, metavar=("KIND", "FOLDER"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.make:
        # In a child process: the parent stays small, and Linux carries a parent's peak RSS
        # through fork+exec into the children's ru_maxrss.
        print(make_model(*args.make))
        return
    random.seed(0)
    words = json.loads(TOKENIZER.read_text())["model"]["vocab"]
    words = [w.replace("Ġ", "") for w in words if w.isalpha()]
    with tempfile.TemporaryDirectory() as tmp:
        texts = Path(tmp) / "texts.jsonl"
        texts.write_text("".join(json.dumps({"text": " ".join(random.choices(words, k=200))}) + "\n" for _ in range(args.contexts)))
        for kind in ["smollm2-135m", "gpt2-small"]:
            folder = Path(tmp) / kind
            layer = int(subprocess.run([sys.executable, __file__, "--make", kind, str(folder)], check=True,
                                       capture_output=True, text=True).stdout.strip().splitlines()[-1])
            hook = f"blocks.{layer}.hook_resid_post"
            out = Path(tmp) / f"{kind}.safetensors"
            env_threads = {"OPENBLAS_NUM_THREADS": str(args.threads)}
            os.environ.update(env_threads)
            swift_s, _, swift_mb = run([args.autointerp, "harvest", "--model", str(folder), "--texts", str(texts), "--output", str(out),
                              "--hook", hook, "--context-len", str(args.context_len), "--dtype", "f32", "--quiet"])
            torch_s, stdout, torch_mb = run([sys.executable, "-c", TORCH_CHILD, str(folder), str(out), str(args.threads), str(layer)])
            tokens = json.loads(stdout.strip().splitlines()[-1])["tokens"]
            print(f"{kind} {hook}: {tokens} tokens, {args.threads} threads | autointerp {tokens / swift_s:.0f} tokens/s "
                  f"({swift_s:.2f} s) | pytorch {tokens / torch_s:.0f} tokens/s ({torch_s:.2f} s) | "
                  f"ratio {torch_s / swift_s:.2f}x | peak RSS autointerp {swift_mb:.0f} MB, pytorch {torch_mb:.0f} MB")
            shutil.rmtree(folder)


if __name__ == "__main__":
    main()
