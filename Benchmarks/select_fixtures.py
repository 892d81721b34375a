"""Writes the inputs of Benchmarks/select_all.sh into a folder.

shards/: an F16 dataset of TOKENS Gaussian tokens (d_in wide, contexts of CONTEXT_LEN) in SHARDS
         shards (part-0 ... part-N-1), with vocab.json, read by --activations shards/;
sae/:    a standard SAE (d_in x d_sae, about ACTIVE active features per token, b_dec not applied).

Usage: python3 select_fixtures.py OUT [--tokens 1000000] [--d-in 2304] [--d-sae 16384]
       [--shards 8] [--context-len 256] [--active 64]
"""

import argparse
import json
import os
from statistics import NormalDist

import numpy as np

import safetensors_np


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("out")
    parser.add_argument("--tokens", type=int, default=1_000_000)
    parser.add_argument("--d-in", type=int, default=2304)
    parser.add_argument("--d-sae", type=int, default=16384)
    parser.add_argument("--shards", type=int, default=8)
    parser.add_argument("--context-len", type=int, default=256)
    parser.add_argument("--active", type=int, default=64)
    args = parser.parse_args()
    rng = np.random.default_rng(19)

    sae = os.path.join(args.out, "sae")
    os.makedirs(sae, exist_ok=True)
    scale = 1 / np.sqrt(args.d_in)
    cut = NormalDist().inv_cdf(1 - args.active / args.d_sae)
    safetensors_np.write(os.path.join(sae, "sae_weights.safetensors"), {
        "W_enc": (rng.standard_normal((args.d_in, args.d_sae), dtype=np.float32) * scale).astype(np.float32),
        "b_enc": np.full(args.d_sae, -cut, dtype=np.float32),
        "W_dec": (rng.standard_normal((args.d_sae, args.d_in), dtype=np.float32) * scale).astype(np.float32),
        "b_dec": np.zeros(args.d_in, dtype=np.float32),
    })
    with open(os.path.join(sae, "cfg.json"), "w") as f:
        json.dump({"architecture": "standard", "d_in": args.d_in, "d_sae": args.d_sae, "dtype": "float32",
                   "apply_b_dec_to_input": False, "normalize_activations": "none", "metadata": {"hook_name": "bench"}}, f)

    shards = os.path.join(args.out, "shards")
    os.makedirs(shards, exist_ok=True)
    vocab = 1000
    with open(os.path.join(shards, "vocab.json"), "w") as f:
        json.dump([f"t{i}" for i in range(vocab)], f)
    contexts = args.tokens // args.context_len
    edges = np.linspace(0, contexts, args.shards + 1).astype(int)
    for i, (start, end) in enumerate(zip(edges[:-1], edges[1:])):
        n = int(end - start)
        tokens = rng.integers(0, vocab, size=(n, args.context_len), dtype=np.int32)
        acts = np.empty((n, args.context_len, args.d_in), dtype=np.float16)
        for c in range(0, n, 64):  # in slices, so the generator never holds a whole shard in F32
            acts[c:c + 64] = rng.standard_normal((min(64, n - c), args.context_len, args.d_in), dtype=np.float32)
        safetensors_np.write(os.path.join(shards, f"part-{i}.safetensors"), {"tokens": tokens, "activations": acts})
    print(f"{contexts} contexts x {args.context_len} = {contexts * args.context_len} tokens in {args.shards} shards, "
          f"d_in {args.d_in}, d_sae {args.d_sae}")


if __name__ == "__main__":
    main()
