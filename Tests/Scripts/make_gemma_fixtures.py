#!/usr/bin/env python3
"""Writes tiny random-initialised Gemma 2 and Gemma 3 models and their reference activations for DecoderModelTests.

Like make_decoder_fixtures.py (same contexts, same hook names, same reference.safetensors layout), for
Tests/AutoInterpTests/Fixtures/Decoders/gemma2/ and gemma3/: config.json, model.safetensors (F32) and
reference.safetensors. The configs exercise what Gemma adds to the Llama layout: (1 + w) RMSNorms before and
after attention and the MLP, the sqrt(d_model) embedding scale, GeGLU (gelu tanh), query_pre_attn_scalar
different from head_dim, attention logit soft-capping (Gemma 2, a small cap so it bites), sliding-window
layers with a window shorter than the longest context (Gemma 2 alternating; Gemma 3 local/global with their
own RoPE bases and linear scaling on the global ones) and Gemma 3's q/k norms. TransformerLens hook semantics:
hook_attn_out and hook_mlp_out are what is added to the residual stream, i.e. after the post-norms.

Gemma 3 also gets model.gguf: the same weights as llama.cpp's convert_hf_to_gguf.py lays out a gemma3 model
(norm weights + 1, no q/k permutation), F32.

Run once by hand: python3 -m pip install torch transformers safetensors gguf && \
    python3 Tests/Scripts/make_gemma_fixtures.py
"""
import shutil
import sys
from pathlib import Path

import gguf
import numpy as np
import torch
from safetensors.torch import save_file
from transformers import Gemma2Config, Gemma2ForCausalLM, Gemma3ForCausalLM, Gemma3TextConfig

sys.path.insert(0, str(Path(__file__).resolve().parent))
ROOT = Path(__file__).resolve().parent.parent / "AutoInterpTests" / "Fixtures"
OUT = ROOT / "Decoders"
HOOKS = ["hook_resid_pre", "hook_attn_out", "hook_resid_mid", "hook_mlp_out", "hook_resid_post", "mlp.hook_pre", "mlp.hook_post"]
CONTEXTS = [[5, 17, 250, 2, 99, 41, 7, 200, 13], [1, 280, 33, 8, 77], [42]]


def build(name, model, tokenizer=None):
    model.eval()
    folder = OUT / name
    folder.mkdir(parents=True, exist_ok=True)
    model.config.to_json_file(folder / "config.json")
    state = {k: v.contiguous() for k, v in model.state_dict().items() if k != "lm_head.weight"}
    save_file(state, folder / "model.safetensors", metadata={"format": "pt"})
    if tokenizer:
        shutil.copy(ROOT / "Tokenizers" / f"{tokenizer}.json", folder / "tokenizer.json")
    store = {}

    def put(key, value):
        store.setdefault(key, []).append(value.detach().reshape(-1, value.shape[-1]).clone())

    handles = []
    for L, block in enumerate(model.model.layers):
        handles.append(block.register_forward_pre_hook(
            lambda m, args, kwargs, L=L: put(f"blocks.{L}.hook_resid_pre", args[0] if args else kwargs["hidden_states"]),
            with_kwargs=True))
        handles.append(block.post_attention_layernorm.register_forward_hook(
            lambda m, i, o, L=L: put(f"blocks.{L}.hook_attn_out", o)))
        handles.append(block.post_feedforward_layernorm.register_forward_hook(
            lambda m, i, o, L=L: put(f"blocks.{L}.hook_mlp_out", o)))
        handles.append(block.mlp.gate_proj.register_forward_hook(lambda m, i, o, L=L: put(f"blocks.{L}.mlp.hook_pre", o)))
        handles.append(block.mlp.down_proj.register_forward_pre_hook(lambda m, i, L=L: put(f"blocks.{L}.mlp.hook_post", i[0])))
    with torch.no_grad():
        for ids in CONTEXTS:
            model(torch.tensor([ids]))
    for h in handles:
        h.remove()
    ref = {}
    for L in range(len(model.model.layers)):
        pre = torch.cat(store[f"blocks.{L}.hook_resid_pre"])
        attn = torch.cat(store[f"blocks.{L}.hook_attn_out"])
        mlp = torch.cat(store[f"blocks.{L}.hook_mlp_out"])
        ref[f"blocks.{L}.hook_resid_mid"] = pre + attn
        ref[f"blocks.{L}.hook_resid_post"] = pre + attn + mlp
        for hook in ["hook_resid_pre", "hook_attn_out", "hook_mlp_out", "mlp.hook_pre", "mlp.hook_post"]:
            ref[f"blocks.{L}.{hook}"] = torch.cat(store[f"blocks.{L}.{hook}"])
    for L in range(len(model.model.layers) - 1):
        assert torch.allclose(ref[f"blocks.{L}.hook_resid_post"], ref[f"blocks.{L + 1}.hook_resid_pre"], atol=1e-5)
    ref = {k: v.contiguous() for k, v in ref.items()}
    for c, ids in enumerate(CONTEXTS):
        ref[f"tokens.{c}"] = torch.tensor(ids, dtype=torch.int64)
    save_file(ref, folder / "reference.safetensors")


def gemma3_gguf(model, path, tokenizer_gguf=None):
    """The weights as convert_hf_to_gguf.py writes a gemma3 text model: norm weights + 1, F32."""
    c = model.config
    w = gguf.GGUFWriter(str(path), arch="gemma3")
    w.add_context_length(c.max_position_embeddings)
    w.add_embedding_length(c.hidden_size)
    w.add_block_count(c.num_hidden_layers)
    w.add_feed_forward_length(c.intermediate_size)
    w.add_head_count(c.num_attention_heads)
    w.add_head_count_kv(c.num_key_value_heads)
    w.add_key_length(c.head_dim)
    w.add_value_length(c.head_dim)
    w.add_rope_freq_base(c.rope_parameters["full_attention"]["rope_theta"])
    w.add_layer_norm_rms_eps(c.rms_norm_eps)
    w.add_sliding_window(c.sliding_window)
    w.add_bos_token_id(2)
    if tokenizer_gguf:
        tokenizer_gguf(w)
    sd = model.state_dict()
    names = {
        "input_layernorm": "attn_norm", "self_attn.q_proj": "attn_q", "self_attn.k_proj": "attn_k",
        "self_attn.v_proj": "attn_v", "self_attn.o_proj": "attn_output", "self_attn.q_norm": "attn_q_norm",
        "self_attn.k_norm": "attn_k_norm", "post_attention_layernorm": "post_attention_norm",
        "pre_feedforward_layernorm": "ffn_norm", "post_feedforward_layernorm": "post_ffw_norm",
        "mlp.gate_proj": "ffn_gate", "mlp.up_proj": "ffn_up", "mlp.down_proj": "ffn_down",
    }

    def add(name, tensor, norm=False):
        array = tensor.numpy().astype(np.float32)
        w.add_tensor(name, np.ascontiguousarray(array + 1 if norm else array))

    add("token_embd.weight", sd["model.embed_tokens.weight"])
    for L in range(c.num_hidden_layers):
        for hf, gg in names.items():
            add(f"blk.{L}.{gg}.weight", sd[f"model.layers.{L}.{hf}.weight"], norm=hf.endswith("norm") or "layernorm" in hf)
    add("output_norm.weight", sd["model.norm.weight"], norm=True)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def sensitivity(model, name, **changes):
    """Asserts that the fixture would catch a runner that ignored `changes` (10× the tests' 1e-4 tolerance)."""
    cls = type(model)
    other = cls(type(model.config)(**{**model.config.to_dict(), **changes})).eval()
    other.load_state_dict(model.state_dict())
    with torch.no_grad():
        ids = torch.tensor([CONTEXTS[0]])
        a = model(ids, output_hidden_states=True).hidden_states[-1]
        b = other(ids, output_hidden_states=True).hidden_states[-1]
    gap = (a - b).abs().max().item()
    assert gap > 1e-3, f"{name}: {changes} changes the last hidden state by only {gap}"
    print(f"{name}: {changes} moves the last hidden state by {gap:.3g}")


def randomise(model):
    # Norm offsets and q/k weights large enough that a missed (1 + w), scale, soft-cap or window shows.
    with torch.no_grad():
        for n, p in model.named_parameters():
            if p.dim() == 1:
                p.copy_(torch.randn_like(p) * 0.3)
            elif "q_proj" in n or "k_proj" in n:
                p.mul_(6.0)


def main():
    torch.manual_seed(182)
    gemma2 = Gemma2ForCausalLM(Gemma2Config(
        vocab_size=576, hidden_size=32, intermediate_size=48, num_hidden_layers=3, num_attention_heads=4,
        num_key_value_heads=2, head_dim=16, query_pre_attn_scalar=24, max_position_embeddings=64, rms_norm_eps=1e-6,
        sliding_window=4, attn_logit_softcapping=5.0, final_logit_softcapping=30.0, rope_theta=10000.0,
        hidden_activation="gelu_pytorch_tanh", bos_token_id=2, eos_token_id=1, pad_token_id=0,
        attn_implementation="eager"))
    randomise(gemma2)
    build("gemma2", gemma2, "gemma")
    sensitivity(gemma2, "gemma2", attn_logit_softcapping=None)
    sensitivity(gemma2, "gemma2", sliding_window=64)
    sensitivity(gemma2, "gemma2", query_pre_attn_scalar=16)
    gemma3 = Gemma3ForCausalLM(Gemma3TextConfig(
        vocab_size=576, hidden_size=32, intermediate_size=40, num_hidden_layers=4, num_attention_heads=2,
        num_key_value_heads=1, head_dim=16, query_pre_attn_scalar=20, max_position_embeddings=64, rms_norm_eps=1e-6,
        sliding_window=3, layer_types=["sliding_attention", "sliding_attention", "full_attention", "sliding_attention"],
        rope_parameters={"sliding_attention": {"rope_type": "default", "rope_theta": 10000.0},
                         "full_attention": {"rope_type": "linear", "rope_theta": 1000000.0, "factor": 4.0}},
        bos_token_id=2, eos_token_id=1, pad_token_id=0, attn_implementation="eager"))
    randomise(gemma3)
    build("gemma3", gemma3, "gemma")
    sensitivity(gemma3, "gemma3", sliding_window=64)
    sensitivity(gemma3, "gemma3", rope_parameters={"sliding_attention": {"rope_type": "default", "rope_theta": 1000000.0},
                                                   "full_attention": {"rope_type": "linear", "rope_theta": 1000000.0, "factor": 4.0}})
    sensitivity(gemma3, "gemma3", rope_parameters={"sliding_attention": {"rope_type": "default", "rope_theta": 10000.0},
                                                   "full_attention": {"rope_type": "default", "rope_theta": 1000000.0}})
    # The GGUF: llama.cpp (and transformers reading a GGUF) take Gemma 3's layer pattern as 5 sliding : 1 global and
    # plain RoPE with the global base from gemma3.rope.freq_base and the local base 10000; six layers show both kinds.
    plain = Gemma3ForCausalLM(Gemma3TextConfig(
        vocab_size=576, hidden_size=32, intermediate_size=40, num_hidden_layers=6, num_attention_heads=2,
        num_key_value_heads=1, head_dim=16, query_pre_attn_scalar=16, max_position_embeddings=64, rms_norm_eps=1e-6,
        sliding_window=3, bos_token_id=2, eos_token_id=1, pad_token_id=0, attn_implementation="eager"))
    assert plain.config.layer_types == ["sliding_attention"] * 5 + ["full_attention"], plain.config.layer_types
    randomise(plain)
    build("gemma3-gguf", plain)
    from make_spm_fixtures import gguf_tokenizer  # the tiny Gemma-style tokenizer, as tokenizer.ggml.* metadata
    gemma3_gguf(plain, OUT / "gemma3-gguf" / "model.gguf", gguf_tokenizer)
    for extra in ["model.safetensors", "config.json", "tokenizer.json"]:
        (OUT / "gemma3-gguf" / extra).unlink(missing_ok=True)
    for f in sorted(OUT.glob("gemma*/*")):
        print(f.relative_to(OUT), f.stat().st_size)


if __name__ == "__main__":
    main()
