#!/usr/bin/env python3
"""Writes a small delphi-layout latent cache and the dense inputs it was made from.

Run from anywhere: python3 make_delphi_cache.py  (writes next to this file). Needs numpy and
safetensors only (pip install numpy safetensors).

What it writes:
- dataset.safetensors: `tokens` I64 [N_CONTEXTS, CONTEXT_LEN] and `activations` F32
  [N_CONTEXTS, CONTEXT_LEN, D], no mask and no special tokens (a delphi cache has neither),
  with vocab.json beside it;
- sae/: a SAELens "standard" SAE whose encoder is the identity (W_enc = I, b_enc = 0,
  b_dec = 0), so its features are exactly ReLU(activations);
- delphi/layers.0/: the latent cache of those features as delphi's `LatentCache.save_splits`
  lays it out: one `{start}_{end}.safetensors` per latent range (end inclusive, ranges from
  linspace(0, width, n_splits + 1)), each with `locations` [n, 3] = (context, position,
  latent - start) as uint16 (uint32 when a context or latent index reaches 2**16), `activations`
  F16 [n] (the non-zeros, |x| > 1e-5, in torch.nonzero order: context, position, latent) and
  `tokens` (the whole token array, in every split); vocab.json beside the splits.

The activations are multiples of 1/64 in [-1, 1], exact in F16, so the F16 cache holds the same
values the identity SAE computes in F32: selecting from the cache must give exactly what
selecting through the SAE gives.
"""
import json
from pathlib import Path

import numpy as np
from safetensors.numpy import save_file

HERE = Path(__file__).resolve().parent
N_CONTEXTS, CONTEXT_LEN, D, N_SPLITS, VOCAB = 24, 8, 12, 3, 20


def main():
    rng = np.random.default_rng(19)
    tokens = rng.integers(0, VOCAB, size=(N_CONTEXTS, CONTEXT_LEN)).astype(np.int64)
    # Mostly negative (ReLU silences them) so every feature is sparse; a few contexts carry no
    # positive value at all for some features.
    acts = (rng.integers(-64, 40, size=(N_CONTEXTS, CONTEXT_LEN, D)) / 64.0).astype(np.float32)
    vocab = [f"tok{i}" for i in range(VOCAB)]

    save_file({"tokens": tokens, "activations": acts}, str(HERE / "dataset.safetensors"))
    (HERE / "vocab.json").write_text(json.dumps(vocab))

    sae = HERE / "sae"
    sae.mkdir(exist_ok=True)
    eye = np.eye(D, dtype=np.float32)
    zeros = np.zeros(D, dtype=np.float32)
    save_file({"W_enc": eye, "b_enc": zeros, "W_dec": eye, "b_dec": zeros}, str(sae / "sae_weights.safetensors"))
    cfg = {"d_in": D, "d_sae": D, "dtype": "float32", "device": "cpu", "apply_b_dec_to_input": True,
           "normalize_activations": "none", "architecture": "standard"}
    (sae / "cfg.json").write_text(json.dumps(cfg))

    latents = np.maximum(acts, 0)
    # delphi's Cache.get_nonzeros: torch.nonzero(latents.abs() > 1e-5) -> (context, position, latent)
    # in row-major order, and the values at those places.
    locations = np.argwhere(np.abs(latents) > 1e-5).astype(np.int64)
    values = latents[np.abs(latents) > 1e-5]
    save_splits(locations, values, tokens, HERE / "delphi" / "layers.0")
    (HERE / "delphi" / "layers.0" / "vocab.json").write_text(json.dumps(vocab))


def save_splits(locations, activations, tokens, module_dir):
    """delphi's LatentCache.save_splits for one module, in numpy."""
    boundaries = np.linspace(0, D, N_SPLITS + 1).astype(np.int64)
    module_dir.mkdir(parents=True, exist_ok=True)
    for start, end in zip(boundaries[:-1], boundaries[1:] - 1):
        mask = (locations[:, 2] >= start) & (locations[:, 2] <= end)
        masked_activations = activations[mask].astype(np.float16)
        masked_locations = locations[mask].copy()
        masked_locations[:, 2] -= start
        if masked_locations[:, 2].max() < 2**16 and masked_locations[:, 0].max() < 2**16:
            masked_locations = masked_locations.astype(np.uint16)
        else:
            masked_locations = masked_locations.astype(np.uint32)
        split = {"locations": masked_locations, "activations": masked_activations, "tokens": tokens}
        save_file(split, str(module_dir / f"{start}_{end}.safetensors"))


if __name__ == "__main__":
    main()
