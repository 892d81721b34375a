"""PyTorch CPU doing one `train-sae` step, the same model, shapes and batch as SAETrainer.

x scaled to mean norm sqrt(d_in), S = c x - b_dec, f = ReLU(S E^T + b_enc), x_hat = f D + b_dec,
loss = mean_t |x_hat - c x|^2 + lambda * mean_t sum_i f_i |D_i|; autograd, global gradient-norm
clipping at 1, Adam (lr 2e-3, betas 0.9/0.999, eps 1e-8). Batches are drawn from the dataset in a
shuffled order, as the trainer does. Prints the mean step time over the steps after the first.
"""

import argparse
import os
import sys
import time

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import safetensors_np  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--activations", required=True)
    parser.add_argument("--expansion", type=int, default=4)
    parser.add_argument("--batch-size", type=int, default=1024)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--l1", type=float, default=4.0)
    parser.add_argument("--lr", type=float, default=2e-3)
    args = parser.parse_args()
    torch.manual_seed(0)

    data, _ = safetensors_np.read(args.activations)
    acts = data["activations"]
    d_in = acts.shape[-1]
    x_all = torch.from_numpy(np.array(acts.reshape(-1, d_in), dtype=np.float32))
    n = x_all.shape[0]
    d_sae = args.expansion * d_in
    batch = args.batch_size

    scale = float(np.sqrt(d_in) / x_all[:16384].norm(dim=1).mean())
    decoder = torch.randn(d_sae, d_in)
    decoder = (0.5 * decoder / decoder.norm(dim=1, keepdim=True)).requires_grad_()
    encoder = decoder.detach().clone().requires_grad_()
    b_enc = torch.zeros(d_sae, requires_grad=True)
    b_dec = (x_all[:4096] * scale).mean(dim=0).requires_grad_()
    params = [encoder, b_enc, decoder, b_dec]
    optimiser = torch.optim.Adam(params, lr=args.lr, betas=(0.9, 0.999), eps=1e-8)
    order = torch.randperm(n)

    times = []
    for step in range(args.steps):
        started = time.perf_counter()
        rows = order[(step * batch) % (n - batch) :][:batch]
        x = x_all.index_select(0, rows) * scale
        s = x - b_dec
        f = torch.relu(s @ encoder.T + b_enc)
        x_hat = f @ decoder + b_dec
        mse = (x_hat - x).pow(2).sum(dim=1).mean()
        l1 = (f * decoder.norm(dim=1)).sum(dim=1).mean()
        loss = mse + args.l1 * l1
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        optimiser.step()
        times.append(time.perf_counter() - started)
    steady = times[1:] or times
    print(
        f"torch {torch.__version__} ({torch.get_num_threads()} threads): d_in {d_in} -> d_sae {d_sae}, batch {batch}, "
        f"{args.steps} steps, {1000 * sum(steady) / len(steady):.1f} ms/step (first step {1000 * times[0]:.1f} ms), "
        f"final loss {loss.item():.4g}"
    )


if __name__ == "__main__":
    main()
