#!/usr/bin/env python3
"""Reference numbers for BertTests: a numpy BertModel (Hugging Face modeling_bert, eval mode)
on the formula weights of AutoInterpTestSupport/TinyBertFixture.swift.

Run once by hand (`python3 Tests/Scripts/tiny_bert_reference.py`); the printed arrays are
pasted into Tests/AutoInterpTests/BertModelTests.swift. Needs numpy only. With `--torch`
it also checks the numpy model against transformers.BertModel (not needed by CI).
"""
import math
import sys

import numpy as np

CONFIG = dict(vocab_size=20, hidden_size=8, num_hidden_layers=2, num_attention_heads=2,
              intermediate_size=16, max_position_embeddings=16, type_vocab_size=2, layer_norm_eps=1e-12)


def tensor_names():
    names = ["embeddings.word_embeddings.weight", "embeddings.position_embeddings.weight",
             "embeddings.token_type_embeddings.weight", "embeddings.LayerNorm.weight", "embeddings.LayerNorm.bias"]
    for l in range(CONFIG["num_hidden_layers"]):
        for s in ["attention.self.query.weight", "attention.self.query.bias",
                  "attention.self.key.weight", "attention.self.key.bias",
                  "attention.self.value.weight", "attention.self.value.bias",
                  "attention.output.dense.weight", "attention.output.dense.bias",
                  "attention.output.LayerNorm.weight", "attention.output.LayerNorm.bias",
                  "intermediate.dense.weight", "intermediate.dense.bias",
                  "output.dense.weight", "output.dense.bias",
                  "output.LayerNorm.weight", "output.LayerNorm.bias"]:
            names.append(f"encoder.layer.{l}.{s}")
    return names


def shape_of(name):
    c = CONFIG
    h = c["hidden_size"]
    if name == "embeddings.word_embeddings.weight":
        return [c["vocab_size"], h]
    if name == "embeddings.position_embeddings.weight":
        return [c["max_position_embeddings"], h]
    if name == "embeddings.token_type_embeddings.weight":
        return [c["type_vocab_size"], h]
    if name.endswith("intermediate.dense.weight"):
        return [c["intermediate_size"], h]
    if name.endswith("intermediate.dense.bias"):
        return [c["intermediate_size"]]
    if name.endswith("output.dense.weight") and "attention" not in name:
        return [h, c["intermediate_size"]]
    if name.endswith(".weight") and not name.endswith("LayerNorm.weight"):
        return [h, h]
    return [h]


def weights():
    out = {}
    for t, name in enumerate(tensor_names()):
        shape = shape_of(name)
        count = int(np.prod(shape))
        if name.endswith("LayerNorm.weight"):
            scale, offset = 0.1, 1.0
        elif name.endswith(".bias"):
            scale, offset = 0.1, 0.0
        else:
            scale, offset = 0.5, 0.0
        vals = [scale * math.sin(0.37 * e + 1.7 * t + 0.5) + offset for e in range(count)]
        out[name] = np.array(vals, dtype=np.float32).reshape(shape)
    return out


def layer_norm(x, w, b, eps):
    mean = x.mean(-1, keepdims=True)
    var = ((x - mean) ** 2).mean(-1, keepdims=True)
    return (x - mean) / np.sqrt(var + eps) * w + b


def gelu(x):
    erf = np.vectorize(math.erf)
    return 0.5 * x * (1.0 + erf(x / math.sqrt(2.0)))


def intermediate(W, ids, mask, layer, dtype=np.float64):
    """ids, mask: [B, T]. Returns layer `layer`'s post-GELU activations [B, T, I], as HF computes them."""
    c = CONFIG
    W = {k: v.astype(dtype) for k, v in W.items()}
    B, T = ids.shape
    h, nh = c["hidden_size"], c["num_attention_heads"]
    d = h // nh
    eps = c["layer_norm_eps"]
    x = W["embeddings.word_embeddings.weight"][ids] + W["embeddings.position_embeddings.weight"][np.arange(T)][None] \
        + W["embeddings.token_type_embeddings.weight"][0][None, None]
    x = layer_norm(x, W["embeddings.LayerNorm.weight"], W["embeddings.LayerNorm.bias"], eps)
    ext = (1.0 - mask[:, None, None, :].astype(dtype)) * np.finfo(np.float32).min
    for l in range(layer + 1):
        p = f"encoder.layer.{l}."
        lin = lambda v, n: v @ W[p + n + ".weight"].T + W[p + n + ".bias"]
        split = lambda v: v.reshape(B, T, nh, d).transpose(0, 2, 1, 3)
        q, k, v = split(lin(x, "attention.self.query")), split(lin(x, "attention.self.key")), split(lin(x, "attention.self.value"))
        s = q @ k.transpose(0, 1, 3, 2) / math.sqrt(d) + ext
        s = s - s.max(-1, keepdims=True)
        pr = np.exp(s)
        pr = pr / pr.sum(-1, keepdims=True)
        ctx = (pr @ v).transpose(0, 2, 1, 3).reshape(B, T, h)
        a = layer_norm(lin(ctx, "attention.output.dense") + x, W[p + "attention.output.LayerNorm.weight"],
                       W[p + "attention.output.LayerNorm.bias"], eps)
        inner = gelu(lin(a, "intermediate.dense"))
        if l == layer:
            return inner
        x = layer_norm(lin(inner, "output.dense") + a, W[p + "output.LayerNorm.weight"], W[p + "output.LayerNorm.bias"], eps)


SEQUENCES = [[2, 5, 6, 7, 8, 5, 9, 15, 3], [2, 18, 19, 17, 3], [2, 3]]


def main():
    W = weights()
    T = max(map(len, SEQUENCES))
    ids = np.zeros((len(SEQUENCES), T), dtype=np.int64)
    mask = np.zeros((len(SEQUENCES), T), dtype=np.int64)
    for i, s in enumerate(SEQUENCES):
        ids[i, :len(s)] = s
        mask[i, :len(s)] = 1
    np.set_printoptions(precision=7, suppress=True)
    for layer in range(CONFIG["num_hidden_layers"]):
        out = intermediate(W, ids, mask, layer)
        rows = np.concatenate([out[i, :len(s)] for i, s in enumerate(SEQUENCES)])
        print(f"// layer {layer}: [{rows.shape[0]} tokens, {rows.shape[1]}]")
        print("[" + ",\n".join(", ".join(f"{v:.7f}" for v in r) for r in rows) + "]")
        if "--torch" in sys.argv:
            import torch
            from transformers import BertConfig, BertModel
            cfg = BertConfig(**CONFIG, hidden_act="gelu", attn_implementation="eager")
            m = BertModel(cfg, add_pooling_layer=False).eval()
            m.load_state_dict({k: torch.tensor(v) for k, v in W.items()}, strict=False)
            got = {}
            m.encoder.layer[layer].intermediate.register_forward_hook(lambda mod, i, o: got.setdefault("x", o))
            with torch.no_grad():
                m(input_ids=torch.tensor(ids), attention_mask=torch.tensor(mask))
            hf = np.concatenate([got["x"][i, :len(s)].numpy() for i, s in enumerate(SEQUENCES)])
            print(f"// torch max abs diff layer {layer}: {np.abs(hf - rows).max():.3g}", file=sys.stderr)


if __name__ == "__main__":
    main()
