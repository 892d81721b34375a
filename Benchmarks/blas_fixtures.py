"""Writes the inputs of Benchmarks/blas_vs_torch.sh into a folder.

encode/: a standard SAE (d_in 1536, d_sae 12288, about 64 active features per Gaussian token,
         b_dec not applied) and an F32 dataset of 128 contexts x 128 tokens (16,384 tokens).
train/:  an F16 dataset of activation-like tokens (d 1536: sparse sums of 8192 random directions
         plus noise), the width of the demo's MiniLM MLP layer, for train-sae with d_sae 6144.
"""

import argparse
import json
import os
from statistics import NormalDist

import numpy as np

import safetensors_np


def write_vocab(folder, size=1000):
    with open(os.path.join(folder, "vocab.json"), "w") as f:
        json.dump([f"t{i}" for i in range(size)], f)


def encode_fixtures(folder, d_in=1536, d_sae=12288, active=64, contexts=128, length=128, seed=1):
    rng = np.random.default_rng(seed)
    sae = os.path.join(folder, "sae")
    os.makedirs(sae, exist_ok=True)
    scale = 1 / np.sqrt(d_in)
    cut = NormalDist().inv_cdf(1 - active / d_sae)
    tensors = {
        "W_enc": (rng.standard_normal((d_in, d_sae), dtype=np.float32) * scale).astype(np.float32),
        "b_enc": np.full(d_sae, -cut, dtype=np.float32),
        "W_dec": (rng.standard_normal((d_sae, d_in), dtype=np.float32) * scale).astype(np.float32),
        "b_dec": np.zeros(d_in, dtype=np.float32),
    }
    safetensors_np.write(os.path.join(sae, "sae_weights.safetensors"), tensors)
    config = {
        "architecture": "standard", "d_in": d_in, "d_sae": d_sae, "dtype": "float32",
        "apply_b_dec_to_input": False, "normalize_activations": "none", "metadata": {"hook_name": "bench"},
    }
    with open(os.path.join(sae, "cfg.json"), "w") as f:
        json.dump(config, f)
    tokens = rng.integers(0, 1000, size=(contexts, length), dtype=np.int32)
    activations = rng.standard_normal((contexts, length, d_in), dtype=np.float32)
    safetensors_np.write(os.path.join(folder, "acts.safetensors"), {"tokens": tokens, "activations": activations})
    write_vocab(folder)


def train_fixtures(folder, d=1536, directions=8192, active=24, contexts=400, length=128, seed=2):
    rng = np.random.default_rng(seed)
    basis = rng.standard_normal((directions, d), dtype=np.float32)
    basis /= np.linalg.norm(basis, axis=1, keepdims=True)
    n = contexts * length
    out = np.empty((n, d), dtype=np.float16)
    chunk = 8192
    for start in range(0, n, chunk):
        rows = min(chunk, n - start)
        picks = rng.integers(0, directions, size=(rows, active))
        weights = rng.exponential(1.0, size=(rows, active)).astype(np.float32)
        x = np.einsum("ra,rad->rd", weights, basis[picks]) + 0.05 * rng.standard_normal((rows, d), dtype=np.float32)
        out[start : start + rows] = x.astype(np.float16)
    tokens = rng.integers(0, 1000, size=(contexts, length), dtype=np.int32)
    safetensors_np.write(
        os.path.join(folder, "acts.safetensors"), {"tokens": tokens, "activations": out.reshape(contexts, length, d)})
    write_vocab(folder)


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("folder")
    args = parser.parse_args()
    for name, build in [("encode", encode_fixtures), ("train", train_fixtures)]:
        folder = os.path.join(args.folder, name)
        os.makedirs(folder, exist_ok=True)
        if not os.path.exists(os.path.join(folder, "acts.safetensors")):
            build(folder)
    print(f"fixtures in {args.folder}")


if __name__ == "__main__":
    main()
