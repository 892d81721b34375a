"""Writes a large-d_sae SAELens folder quickly, for measuring `select --features` memory.

The SAE (JumpReLU, d_in 64, d_sae 16,777,216 by default: 4.3 GB each of W_enc and W_dec in F32)
is a sparse file: its tensors are holes (zeros) except the first --dense columns of W_enc,
b_enc and threshold, which are random, so the studied features fire. Beside it: a small F32
dataset of width d_in and vocab.json.

    python3 Benchmarks/subset_fixtures.py DIR [--d-sae N] [--dense 32]
    /usr/bin/time -v autointerp select --activations DIR/acts.safetensors --sae DIR/sae \\
        --features 0-19 --name big --results DIR/results
"""

import argparse
import json
import os
import struct

import numpy as np

import safetensors_np


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folder")
    parser.add_argument("--d-in", type=int, default=64)
    parser.add_argument("--d-sae", type=int, default=1 << 24)
    parser.add_argument("--dense", type=int, default=32)
    parser.add_argument("--contexts", type=int, default=256)
    parser.add_argument("--length", type=int, default=64)
    args = parser.parse_args()
    d_in, d_sae, dense = args.d_in, args.d_sae, args.dense
    rng = np.random.default_rng(1)
    sae = os.path.join(args.folder, "sae")
    os.makedirs(sae, exist_ok=True)
    # Tensors in the order the safetensors library writes them (by name).
    shapes = [("W_dec", [d_sae, d_in]), ("W_enc", [d_in, d_sae]), ("b_dec", [d_in]), ("b_enc", [d_sae]), ("threshold", [d_sae])]
    header, offset = {}, 0
    for name, shape in shapes:
        size = 4 * int(np.prod(shape))
        header[name] = {"dtype": "F32", "shape": shape, "data_offsets": [offset, offset + size]}
        offset += size
    blob = json.dumps(header, separators=(",", ":")).encode()
    blob += b" " * ((8 - len(blob) % 8) % 8)
    start = 8 + len(blob)
    path = os.path.join(sae, "sae_weights.safetensors")
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(blob)))
        f.write(blob)
        f.truncate(start + offset)
        w = header["W_enc"]["data_offsets"][0]
        for row in range(d_in):
            f.seek(start + w + 4 * row * d_sae)
            f.write((rng.standard_normal(dense) / np.sqrt(d_in)).astype(np.float32).tobytes())
        f.seek(start + header["b_enc"]["data_offsets"][0])
        f.write(np.full(dense, -0.5, dtype=np.float32).tobytes())
        f.seek(start + header["threshold"]["data_offsets"][0])
        f.write(np.full(dense, 0.1, dtype=np.float32).tobytes())
    config = {"architecture": "jumprelu", "d_in": d_in, "d_sae": d_sae, "dtype": "float32", "apply_b_dec_to_input": False,
              "normalize_activations": "none", "metadata": {"hook_name": "bench"}}
    with open(os.path.join(sae, "cfg.json"), "w") as f:
        json.dump(config, f)
    tokens = rng.integers(0, 1000, size=(args.contexts, args.length), dtype=np.int32)
    activations = rng.standard_normal((args.contexts, args.length, d_in), dtype=np.float32)
    safetensors_np.write(os.path.join(args.folder, "acts.safetensors"), {"tokens": tokens, "activations": activations})
    with open(os.path.join(args.folder, "vocab.json"), "w") as f:
        json.dump([f"t{i}" for i in range(1000)], f)


if __name__ == "__main__":
    main()
