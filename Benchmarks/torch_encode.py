"""PyTorch CPU doing `autointerp encode`'s job: load the SAE, encode every token, build CSR, save.

Same output contract (indptr I64, indices I32, values F32, metadata d_sae / n_tokens), same batch
size (4096 tokens), standard (ReLU) SAEs as written by blas_fixtures.py. Prints its own time
without the `import torch`; the driver times the whole process.
"""

import argparse
import json
import os
import sys
import time

start_process = time.perf_counter()
import numpy as np  # noqa: E402
import torch  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import safetensors_np  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sae", required=True)
    parser.add_argument("--activations", required=True)
    parser.add_argument("--output", required=True)
    parser.add_argument("--batch", type=int, default=4096)
    args = parser.parse_args()
    started = time.perf_counter()
    torch.set_grad_enabled(False)

    with open(os.path.join(args.sae, "cfg.json")) as f:
        config = json.load(f)
    if config.get("architecture", "standard") != "standard":
        sys.exit("torch_encode.py: only standard SAEs")
    weights, _ = safetensors_np.read(os.path.join(args.sae, "sae_weights.safetensors"))
    w_enc = torch.from_numpy(np.array(weights["W_enc"], dtype=np.float32))
    b_enc = torch.from_numpy(np.array(weights["b_enc"], dtype=np.float32))
    b_dec = torch.from_numpy(np.array(weights["b_dec"], dtype=np.float32))
    apply_b_dec = bool(config.get("apply_b_dec_to_input", False))

    data, _ = safetensors_np.read(args.activations)
    acts = data["activations"]
    d_in = acts.shape[-1]
    flat = acts.reshape(-1, d_in)
    n_tokens = flat.shape[0]
    d_sae = w_enc.shape[1]

    indptr = [torch.zeros(1, dtype=torch.int64)]
    indices, values = [], []
    total = 0
    for lo in range(0, n_tokens, args.batch):
        x = torch.from_numpy(np.array(flat[lo : lo + args.batch], dtype=np.float32))
        if apply_b_dec:
            x = x - b_dec
        f = torch.relu(torch.addmm(b_enc, x, w_enc))
        # Row-major non-zeros: (row, column) pairs in order, their values, per-row counts.
        mask = f > 0
        nz = mask.nonzero()
        indptr.append(torch.cumsum(mask.sum(dim=1), dim=0) + total)
        indices.append(nz[:, 1].to(torch.int32))
        values.append(f[mask])
        total += nz.shape[0]

    safetensors_np.write(
        args.output,
        {
            "indptr": torch.cat(indptr).numpy(),
            "indices": torch.cat(indices).numpy(),
            "values": torch.cat(values).numpy(),
        },
        {"d_sae": str(d_sae), "n_tokens": str(n_tokens)},
    )
    now = time.perf_counter()
    print(
        f"torch {torch.__version__} ({torch.get_num_threads()} threads): {n_tokens} tokens, nnz {total}, "
        f"{now - started:.2f} s after import, {now - start_process:.2f} s with import"
    )


if __name__ == "__main__":
    main()
