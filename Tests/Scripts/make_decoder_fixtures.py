#!/usr/bin/env python3
"""Writes tiny random-initialised decoder LMs and their reference activations for DecoderModelTests.

For each family, a Hugging Face folder under Tests/AutoInterpTests/Fixtures/Decoders/<name>/
(config.json, model.safetensors in F32, tokenizer.json copied from Fixtures/Tokenizers) and
reference.safetensors: `tokens.C` (int64, context C) and, for every layer L and TransformerLens hook
point, `blocks.L.<hook>` = the activations of all contexts' tokens, one context after another,
recorded with forward hooks on `transformers`' own modules (eval mode, F32). For the llama model also
`llama.gguf`: the same weights in a GGUF as llama.cpp's converter lays them out (q/k rows permuted).

Run once by hand: python3 -m pip install torch transformers safetensors gguf && \
    python3 Tests/Scripts/make_decoder_fixtures.py
"""
import json
import shutil
from pathlib import Path

import gguf
import numpy as np
import torch
from safetensors.torch import save_file
from transformers import GPT2Config, GPT2LMHeadModel, LlamaConfig, LlamaForCausalLM, Qwen2Config, Qwen2ForCausalLM

ROOT = Path(__file__).resolve().parent.parent / "AutoInterpTests" / "Fixtures"
OUT = ROOT / "Decoders"
HOOKS = ["hook_resid_pre", "hook_attn_out", "hook_resid_mid", "hook_mlp_out", "hook_resid_post", "mlp.hook_pre", "mlp.hook_post"]
CONTEXTS = [[5, 17, 300, 2, 99, 41, 7, 250, 13], [1, 400, 33, 8, 77], [42]]


def record(model, blocks, attn_name, mlp_name, pre_name, post_name):
    store = {}

    def put(key):
        def save(value):
            store.setdefault(key, []).append(value.detach().reshape(-1, value.shape[-1]).clone())
        return save

    handles = []
    for L, block in enumerate(blocks):
        handles.append(block.register_forward_pre_hook(
            lambda m, args, kwargs=None, L=L: put(f"blocks.{L}.hook_resid_pre")(args[0]) if args else None))
        handles.append(block.register_forward_pre_hook(
            lambda m, args, kwargs, L=L: put(f"blocks.{L}.hook_resid_pre")(args[0] if args else kwargs["hidden_states"]),
            with_kwargs=True) if False else None)
        attn = getattr(block, attn_name)
        mlp = getattr(block, mlp_name)
        handles.append(attn.register_forward_hook(lambda m, i, o, L=L: put(f"blocks.{L}.hook_attn_out")(o[0])))
        handles.append(mlp.register_forward_hook(lambda m, i, o, L=L: put(f"blocks.{L}.hook_mlp_out")(o)))
        handles.append(getattr(mlp, pre_name).register_forward_hook(lambda m, i, o, L=L: put(f"blocks.{L}.mlp.hook_pre")(o)))
        handles.append(getattr(mlp, post_name).register_forward_pre_hook(lambda m, i, L=L: put(f"blocks.{L}.mlp.hook_post")(i[0])))
    return store, [h for h in handles if h is not None]


def resid_pre_hooks(blocks, store):
    handles = []
    for L, block in enumerate(blocks):
        def pre(m, args, kwargs, L=L):
            x = args[0] if args else kwargs["hidden_states"]
            store.setdefault(f"blocks.{L}.hook_resid_pre", []).append(x.detach().reshape(-1, x.shape[-1]).clone())
        handles.append(block.register_forward_pre_hook(pre, with_kwargs=True))
    return handles


def build(name, model, blocks, attn, mlp, pre, post, tokenizer):
    model.eval()
    folder = OUT / name
    folder.mkdir(parents=True, exist_ok=True)
    model.config.to_json_file(folder / "config.json")
    state = {k: v.contiguous() for k, v in model.state_dict().items() if k != "lm_head.weight"}
    save_file(state, folder / "model.safetensors", metadata={"format": "pt"})
    shutil.copy(ROOT / "Tokenizers" / f"{tokenizer}.json", folder / "tokenizer.json")
    store = {}
    handles = resid_pre_hooks(blocks, store)
    extra, more = record(model, blocks, attn, mlp, pre, post)
    handles += more
    with torch.no_grad():
        for ids in CONTEXTS:
            model(torch.tensor([ids]))
    for h in handles:
        h.remove()
    store.update({k: v for k, v in extra.items() if k not in store})
    ref = {}
    for L in range(len(blocks)):
        for hook in HOOKS:
            key = f"blocks.{L}.{hook}"
            if hook == "hook_resid_mid":
                values = torch.cat(store[f"blocks.{L}.hook_resid_pre"]) + torch.cat(store[f"blocks.{L}.hook_attn_out"])
            elif hook == "hook_resid_post":
                values = torch.cat(store[f"blocks.{L}.hook_resid_pre"]) + torch.cat(store[f"blocks.{L}.hook_attn_out"]) \
                    + torch.cat(store[f"blocks.{L}.hook_mlp_out"])
            else:
                values = torch.cat(store[key])
            ref[key] = values.contiguous()
    # resid_post must equal the next block's input (a check on the hooks themselves).
    for L in range(len(blocks) - 1):
        assert torch.allclose(ref[f"blocks.{L}.hook_resid_post"], ref[f"blocks.{L + 1}.hook_resid_pre"], atol=1e-5)
    for c, ids in enumerate(CONTEXTS):
        ref[f"tokens.{c}"] = torch.tensor(ids, dtype=torch.int64)
    save_file(ref, folder / "reference.safetensors")
    return model


def llama_gguf(model, path, qtype=None):
    """The weights as llama.cpp's convert_hf_to_gguf.py writes a llama-arch model (F32, or 2-D weights in `qtype`)."""
    c = model.config
    w = gguf.GGUFWriter(str(path), arch="llama")
    w.add_context_length(c.max_position_embeddings)
    w.add_embedding_length(c.hidden_size)
    w.add_block_count(c.num_hidden_layers)
    w.add_feed_forward_length(c.intermediate_size)
    w.add_head_count(c.num_attention_heads)
    w.add_head_count_kv(c.num_key_value_heads)
    w.add_rope_freq_base(c.rope_parameters["rope_theta"])
    w.add_layer_norm_rms_eps(c.rms_norm_eps)
    w.add_rope_dimension_count(c.hidden_size // c.num_attention_heads)
    w.add_vocab_size(c.vocab_size)
    # The tokenizer as llama.cpp stores it: tokens by id, "a b" merges, token types (1 normal,
    # 3 control, 4 user-defined), the pre-tokenizer by name.
    tj = json.loads((ROOT / "Tokenizers" / "smollm2.json").read_text())
    tokens = [""] * c.vocab_size
    types = [1] * c.vocab_size
    for text, i in tj["model"]["vocab"].items():
        tokens[i] = text
    for a in tj["added_tokens"]:
        tokens[a["id"]] = a["content"]
        types[a["id"]] = 3 if a["special"] else 4
    w.add_tokenizer_model("gpt2")
    w.add_tokenizer_pre("smollm")
    w.add_token_list(tokens)
    w.add_token_types(types)
    w.add_token_merges([f"{a} {b}" for a, b in tj["model"]["merges"]])
    w.add_bos_token_id(0)

    def permute(t, heads):
        return t.reshape(heads, 2, t.shape[0] // heads // 2, *t.shape[1:]).swapaxes(1, 2).reshape(t.shape)

    sd = model.state_dict()
    plain_add = w.add_tensor

    def add(name, array):
        if qtype is not None and array.ndim == 2:
            plain_add(name, gguf.quants.quantize(np.ascontiguousarray(array), qtype), raw_dtype=qtype)
        else:
            plain_add(name, np.ascontiguousarray(array))

    w.add_tensor = add
    w.add_tensor("token_embd.weight", sd["model.embed_tokens.weight"].numpy())
    for L in range(c.num_hidden_layers):
        p = f"model.layers.{L}."
        w.add_tensor(f"blk.{L}.attn_norm.weight", sd[p + "input_layernorm.weight"].numpy())
        w.add_tensor(f"blk.{L}.attn_q.weight", permute(sd[p + "self_attn.q_proj.weight"].numpy(), c.num_attention_heads))
        w.add_tensor(f"blk.{L}.attn_k.weight", permute(sd[p + "self_attn.k_proj.weight"].numpy(), c.num_key_value_heads))
        w.add_tensor(f"blk.{L}.attn_v.weight", sd[p + "self_attn.v_proj.weight"].numpy())
        w.add_tensor(f"blk.{L}.attn_output.weight", sd[p + "self_attn.o_proj.weight"].numpy())
        w.add_tensor(f"blk.{L}.ffn_norm.weight", sd[p + "post_attention_layernorm.weight"].numpy())
        w.add_tensor(f"blk.{L}.ffn_gate.weight", sd[p + "mlp.gate_proj.weight"].numpy())
        w.add_tensor(f"blk.{L}.ffn_up.weight", sd[p + "mlp.up_proj.weight"].numpy())
        w.add_tensor(f"blk.{L}.ffn_down.weight", sd[p + "mlp.down_proj.weight"].numpy())
    w.add_tensor("output_norm.weight", sd["model.norm.weight"].numpy())
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def randomise(model):
    # Norm weights away from 1 and biases away from 0, so a missed scale or bias shows.
    with torch.no_grad():
        for n, p in model.named_parameters():
            if p.dim() == 1:
                p.copy_(torch.randn_like(p) * 0.2 + (1.0 if "norm" in n or "ln_" in n else 0.0))


def main():
    torch.manual_seed(18)
    llama = LlamaForCausalLM(LlamaConfig(
        vocab_size=561, hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
        num_key_value_heads=2, max_position_embeddings=64, rope_theta=100000.0, rms_norm_eps=1e-5,
        tie_word_embeddings=True, bos_token_id=0, eos_token_id=0,
        rope_scaling={"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                      "original_max_position_embeddings": 16}))
    randomise(llama)
    build("llama", llama, llama.model.layers, "self_attn", "mlp", "gate_proj", "down_proj", "smollm2")
    plain = LlamaForCausalLM(LlamaConfig(
        vocab_size=561, hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
        num_key_value_heads=2, max_position_embeddings=64, rope_theta=100000.0, rms_norm_eps=1e-5,
        tie_word_embeddings=True, bos_token_id=0, eos_token_id=0))
    randomise(plain)
    build("llama-gguf", plain, plain.model.layers, "self_attn", "mlp", "gate_proj", "down_proj", "smollm2")
    llama_gguf(plain, OUT / "llama-gguf" / "model.gguf")
    # Quantised GGUFs of the same weights; the reference is transformers on the weights the quantiser
    # keeps (quantise + dequantise is row-local, so it commutes with the q/k row permutation).
    for qtype, name in [(gguf.GGMLQuantizationType.Q8_0, "q8_0"), (gguf.GGMLQuantizationType.Q4_1, "q4_1")]:
        lossy = LlamaForCausalLM(plain.config)
        lossy.load_state_dict(plain.state_dict())
        with torch.no_grad():
            for n, p in lossy.named_parameters():
                if p.dim() == 2:
                    q = gguf.quants.quantize(p.detach().numpy().copy(), qtype)
                    p.copy_(torch.from_numpy(gguf.quants.dequantize(q, qtype).reshape(p.shape)))
        folder = f"llama-gguf-{name}"
        build(folder, lossy, lossy.model.layers, "self_attn", "mlp", "gate_proj", "down_proj", "smollm2")
        llama_gguf(plain, OUT / folder / "model.gguf", qtype)
        for extra in ["model.safetensors", "tokenizer.json", "config.json"]:
            (OUT / folder / extra).unlink()
    qwen = Qwen2ForCausalLM(Qwen2Config(
        vocab_size=561, hidden_size=32, intermediate_size=48, num_hidden_layers=2, num_attention_heads=4,
        num_key_value_heads=1, max_position_embeddings=64, rope_theta=1000000.0, rms_norm_eps=1e-6,
        tie_word_embeddings=False, use_sliding_window=False))
    randomise(qwen)
    build("qwen2", qwen, qwen.model.layers, "self_attn", "mlp", "gate_proj", "down_proj", "qwen2")
    gpt2 = GPT2LMHeadModel(GPT2Config(
        vocab_size=579, n_positions=32, n_embd=32, n_layer=2, n_head=4, activation_function="gelu_new",
        resid_pdrop=0, embd_pdrop=0, attn_pdrop=0))
    randomise(gpt2)
    build("gpt2", gpt2, gpt2.transformer.h, "attn", "mlp", "c_fc", "c_proj", "gpt2")
    for f in sorted(OUT.rglob("*")):
        if f.is_file():
            print(f.relative_to(OUT), f.stat().st_size)


if __name__ == "__main__":
    main()
