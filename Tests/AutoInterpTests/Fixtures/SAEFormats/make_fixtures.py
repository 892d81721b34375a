#!/usr/bin/env python3
"""Writes the SAE-format fixtures and the encodings the publishers' own code gives for them.

Run from anywhere: python3 make_fixtures.py  (writes next to this file).

Needs numpy, torch, safetensors, and the publishers' packages installed without their heavy
dependencies: pip install --no-deps sae-lens eai-sparsify circuit-tracer dictionary-learning, plus
simple_parsing einops huggingface_hub ml_dtypes. Modules only used for training or model loading
(transformers, nnsight, datasets, ...) are replaced by empty stand-ins: encoding never uses them.

Each case in expected.json names a fixture path, the load options, the inputs and the dense
feature activations computed by the publisher's encode in float32 on the weights as stored
(so an F16/BF16 file is compared after the same rounding). Gemma Scope and Qwen Scope publish
no package with an encoder; their encode is transcribed below from the Gemma Scope tutorial
and SAELens's Qwen Scope loader + TopK activation.
"""

import importlib.abc
import importlib.machinery
import io
import json
import os
import pickle
import shutil
import sys
import types
import zipfile
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
STUBBED = {
    "transformers", "nnsight", "natsort", "datasets", "wandb", "transformer_lens", "bitsandbytes", "accelerate", "schedulefree", "babe",
    "plotly", "plotly_express", "typer", "mamba_lens", "nltk", "automated_interpretability", "tenacity", "zstandard", "dotenv", "zmq",
    "matplotlib", "pandas",
}


class _Stub(types.ModuleType):
    """An empty module whose every attribute is a harmless placeholder class."""

    __path__ = []  # a package, so submodules import too

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        return type(name, (), {"__init__": lambda self, *a, **k: None})


class _StubFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    def find_spec(self, fullname, path, target=None):
        if fullname.split(".")[0] in STUBBED:
            return importlib.machinery.ModuleSpec(fullname, self, is_package=True)
        return None

    def create_module(self, spec):
        return _Stub(spec.name)

    def exec_module(self, module):
        pass


sys.meta_path.insert(0, _StubFinder())

import torch  # noqa: E402


def _hook_points_module():
    """transformer_lens.hook_points as SAELens uses it: hook points are identities until a hook is added."""
    module = _Stub("transformer_lens.hook_points")

    class HookedRootModule(torch.nn.Module):
        def setup(self):
            pass

    class HookPoint(torch.nn.Module):
        def forward(self, x):
            return x

    module.HookedRootModule, module.HookPoint = HookedRootModule, HookPoint
    return module


sys.modules["transformer_lens.hook_points"] = _hook_points_module()
sys.modules["transformer_lens.HookedTransformer"] = _Stub("transformer_lens.HookedTransformer")
sys.modules["transformer_lens.HookedTransformer"].HookedRootModule = sys.modules["transformer_lens.hook_points"].HookedRootModule
from safetensors.numpy import save_file as save_numpy  # noqa: E402
from safetensors.torch import save_file as save_torch  # noqa: E402

torch.manual_seed(0)
RNG = np.random.default_rng(0)
CASES = []


def inputs(n, d_in, scale=1.0):
    return (RNG.standard_normal((n, d_in)) * scale).astype(np.float32)


def add_case(name, path, x, features, **extra):
    CASES.append({"name": name, "path": path, "inputs": x.tolist(), "features": np.asarray(features, dtype=np.float32).tolist(), **extra})


def fresh(path):
    folder = HERE / path
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    return folder


# MARK: - SAELens


def saelens():
    import sae_lens

    d_in, d_sae = 8, 16
    x = inputs(6, d_in)
    for name, cfg in [
        ("standard", sae_lens.StandardSAEConfig(d_in=d_in, d_sae=d_sae)),
        ("jumprelu", sae_lens.JumpReLUSAEConfig(d_in=d_in, d_sae=d_sae, apply_b_dec_to_input=False)),
        ("topk", sae_lens.TopKSAEConfig(d_in=d_in, d_sae=d_sae, k=3, rescale_acts_by_decoder_norm=True)),
    ]:
        sae = sae_lens.SAE.from_dict(cfg.to_dict())
        with torch.no_grad():
            for pname, p in sae.named_parameters():
                p.copy_(torch.rand_like(p) * 0.3 + 0.05 if pname == "threshold" else torch.randn_like(p) * 0.4)
        folder = fresh(f"saelens/{name}")
        sae.save_model(folder)
        loaded = sae_lens.SAE.load_from_disk(folder, device="cpu")
        with torch.no_grad():
            feats = loaded.encode(torch.tensor(x)).numpy()
        add_case(f"saelens {name}", f"saelens/{name}", x, feats, format="saelens", architecture=name, d_in=d_in, d_sae=d_sae,
                 **({"k": 3} if name == "topk" else {}))


# MARK: - Gemma Scope (params.npz) and Gemma Scope 2 (params.safetensors)


def gemma_encode(x, w_enc, b_enc, threshold):
    """JumpReLUSAE.encode from the Gemma Scope tutorial, in torch float32."""
    x, w_enc, b_enc, threshold = (torch.tensor(np.asarray(a, dtype=np.float32)) for a in (x, w_enc, b_enc, threshold))
    pre_acts = x @ w_enc + b_enc
    mask = pre_acts > threshold
    return (mask * torch.nn.functional.relu(pre_acts)).numpy()


def gemma_scope():
    d_in, d_sae = 12, 24
    folder = fresh("gemma-scope/layer_5/width_24/average_l0_3")
    params = {
        "W_enc": RNG.standard_normal((d_in, d_sae)).astype(np.float32) * 0.5,
        "W_dec": RNG.standard_normal((d_sae, d_in)).astype(np.float32) * 0.3,
        "b_enc": RNG.standard_normal(d_sae).astype(np.float32) * 0.1,
        "b_dec": RNG.standard_normal(d_in).astype(np.float32) * 0.1,
        "threshold": np.abs(RNG.standard_normal(d_sae)).astype(np.float32) * 0.5,
    }
    np.savez(folder / "params.npz", **params)  # as Gemma Scope's params.npz: a zip of .npy
    x = inputs(6, d_in)
    add_case("gemma-scope", "gemma-scope/layer_5/width_24/average_l0_3", x, gemma_encode(x, params["W_enc"], params["b_enc"], params["threshold"]),
             format="gemma-scope", architecture="jumprelu", d_in=d_in, d_sae=d_sae)

    # A compressed npz with a float16 and a Fortran-order array, read the same way.
    folder = fresh("gemma-scope-f16")
    half = dict(params)
    half["W_enc"] = np.asfortranarray(params["W_enc"].astype(np.float16))
    half["W_dec"] = params["W_dec"].astype(np.float16)
    np.savez_compressed(folder / "params.npz", **half)
    add_case("gemma-scope-f16", "gemma-scope-f16", x, gemma_encode(x, half["W_enc"], params["b_enc"], params["threshold"]),
             format="gemma-scope", architecture="jumprelu", d_in=d_in, d_sae=d_sae)

    # bfloat16 as ml_dtypes saves it (descr '<V2'), compared on the same rounded weights.
    import ml_dtypes

    folder = fresh("gemma-scope-bf16")
    brain = {k: v.astype(ml_dtypes.bfloat16) for k, v in params.items()}
    np.savez(folder / "params.npz", **brain)
    rounded = {k: v.astype(np.float32) for k, v in brain.items()}
    add_case("gemma-scope-bf16", "gemma-scope-bf16", x, gemma_encode(x, rounded["W_enc"], rounded["b_enc"], rounded["threshold"]),
             format="gemma-scope", architecture="jumprelu", d_in=d_in, d_sae=d_sae)


def gemma_scope_2():
    from circuit_tracer.transcoder.single_layer_transcoder import load_gemma_scope_2_transcoder

    d_in, d_sae = 8, 16
    folder = fresh("gemma-scope-2/transcoder_all/layer_3_width_16_l0_small_affine")
    tensors = {
        "w_enc": (torch.randn(d_in, d_sae) * 0.5).to(torch.bfloat16),
        "w_dec": (torch.randn(d_sae, d_in) * 0.3).to(torch.bfloat16),
        "b_enc": (torch.randn(d_sae) * 0.1).to(torch.bfloat16),
        "b_dec": (torch.randn(d_in) * 0.1).to(torch.bfloat16),
        "threshold": torch.rand(d_sae) * 0.4 + 0.05,  # F32 beside BF16, as some files have
        "affine_skip_connection": (torch.randn(d_in, d_in) * 0.1).to(torch.bfloat16),
    }
    save_torch(tensors, str(folder / "params.safetensors"))
    tc = load_gemma_scope_2_transcoder(str(folder / "params.safetensors"), layer=3, device=torch.device("cpu"), dtype=torch.float32)
    x = inputs(6, d_in)
    with torch.no_grad():
        feats = tc.encode(torch.tensor(x)).numpy()
    add_case("gemma-scope-2", "gemma-scope-2/transcoder_all/layer_3_width_16_l0_small_affine", x, feats,
             format="gemma-scope-2", architecture="jumprelu", d_in=d_in, d_sae=d_sae)


# MARK: - sparsify


def sparsify():
    from sparsify import SparseCoder, SparseCoderConfig

    top = fresh("sparsify/run")
    d_in = 8
    x = inputs(6, d_in)
    for hook, cfg, dtype in [
        ("layers.0", SparseCoderConfig(num_latents=24, k=4), torch.float16),
        ("layers.1.mlp", SparseCoderConfig(expansion_factor=2, k=3, transcode=True), torch.float32),
    ]:
        sae = SparseCoder(d_in, cfg, dtype=torch.float32)
        with torch.no_grad():
            for p in sae.parameters():
                p.copy_(torch.randn_like(p) * 0.4)
        sae.to(dtype).save_to_disk(top / hook)
        loaded = SparseCoder.load_from_disk(top / hook).to(torch.float32)
        with torch.no_grad():
            out = loaded.encode(torch.tensor(x))
        dense = torch.zeros(len(x), loaded.num_latents).scatter_(-1, out.top_indices, out.top_acts).numpy()
        add_case(f"sparsify {hook}", "sparsify/run", x, dense, options={"hookpoint": hook}, format="sparsify", architecture="topk",
                 d_in=d_in, d_sae=loaded.num_latents, k=cfg.k)


# MARK: - circuit-tracer


def circuit_tracer():
    from circuit_tracer.transcoder.activation_functions import JumpReLU
    from circuit_tracer.transcoder.single_layer_transcoder import SingleLayerTranscoder, load_relu_transcoder

    folder = fresh("circuit-tracer")
    d_model, d_tc = 8, 16
    (folder / "config.yaml").write_text(
        "# circuit-tracer transcoder set (written by make_fixtures.py)\n"
        "model_name: \"tiny-model\"\n"
        "model_kind: transcoder_set\n"
        "feature_input_hook: \"hook_resid_mid\"\n"
        "feature_output_hook: \"hook_mlp_out\"\n"
        "transcoders:\n"
        "  - \"layer_0.safetensors\"\n"
        "  - \"layer_1.safetensors\"\n"
    )
    x = inputs(6, d_model)
    for layer, activation in [(0, JumpReLU(torch.rand(d_tc) * 0.3 + 0.05, 0.1)), (1, torch.nn.functional.relu)]:
        tc = SingleLayerTranscoder(d_model, d_tc, activation, layer, skip_connection=layer == 0)
        with torch.no_grad():
            for name, p in tc.named_parameters():
                if "threshold" not in name:
                    p.copy_(torch.randn_like(p) * 0.4)
        tc.to_safetensors(str(folder / f"layer_{layer}.safetensors"))
        loaded = load_relu_transcoder(str(folder / f"layer_{layer}.safetensors"), layer, device=torch.device("cpu"),
                                      lazy_encoder=False, lazy_decoder=False)
        with torch.no_grad():
            feats = loaded.encode(torch.tensor(x)).numpy()
        add_case(f"circuit-tracer layer {layer}", "circuit-tracer", x, feats, options={"layer": layer}, format="circuit-tracer",
                 architecture="jumprelu" if layer == 0 else "standard", d_in=d_model, d_sae=d_tc)


# MARK: - torch state dicts


class GoodfireSAE(torch.nn.Module):
    """Goodfire's published SparseAutoEncoder (Llama-3.x-Instruct SAE model card), verbatim in substance."""

    def __init__(self, d_in, d_hidden):
        super().__init__()
        self.d_in, self.d_hidden = d_in, d_hidden
        self.encoder_linear = torch.nn.Linear(d_in, d_hidden)
        self.decoder_linear = torch.nn.Linear(d_hidden, d_in)

    def encode(self, x):
        return torch.nn.functional.relu(self.encoder_linear(x))


def torch_state_dicts():
    from dictionary_learning.dictionary import AutoEncoder, JumpReluAutoEncoder
    from dictionary_learning.trainers.top_k import AutoEncoderTopK

    d_in, d_sae = 8, 16
    x = inputs(6, d_in)

    def randomise(module, scale=0.4):
        with torch.no_grad():
            for name, p in module.named_parameters():
                if name != "threshold":
                    p.copy_(torch.randn_like(p) * scale)
        return module

    # Goodfire (.pth, BF16 as published).
    folder = fresh("torch/goodfire")
    sae = randomise(GoodfireSAE(d_in, d_sae)).to(torch.bfloat16)
    torch.save(sae.state_dict(), folder / "Tiny-SAE-l3.pth")
    sae = GoodfireSAE(d_in, d_sae)
    sae.load_state_dict({k: v.float() for k, v in torch.load(folder / "Tiny-SAE-l3.pth", weights_only=True).items()})
    with torch.no_grad():
        add_case("torch goodfire", "torch/goodfire", x, sae.encode(torch.tensor(x)).numpy(), format="torch", architecture="standard",
                 d_in=d_in, d_sae=d_sae)

    # Qwen Scope (W_enc [d_sae, d_in], W_dec [d_in, d_sae]); k from the repo name.
    folder = fresh("torch/SAE-Res-Tiny-W0K-L0_4")
    # W_dec is saved as a transposed view (strides (1, d_in)), as torch.save keeps views.
    state = {"W_enc": torch.randn(d_sae, d_in) * 0.4, "W_dec": (torch.randn(d_sae, d_in) * 0.3).T, "b_enc": torch.randn(d_sae) * 0.1,
             "b_dec": torch.randn(d_in) * 0.1}
    assert not state["W_dec"].is_contiguous()
    torch.save(state, folder / "layer3.sae.pt")
    # SAELens' Qwen Scope loader transposes both weights, apply_b_dec_to_input False; TopK keeps
    # the k largest pre-activations and ReLUs them (sae_lens TopK activation).
    pre = torch.tensor(x) @ state["W_enc"].T + state["b_enc"]
    top = pre.topk(4, dim=-1)
    qwen = torch.zeros_like(pre).scatter_(-1, top.indices, torch.relu(top.values)).numpy()
    add_case("torch qwen-scope", "torch/SAE-Res-Tiny-W0K-L0_4", x, qwen, format="torch", architecture="topk", d_in=d_in, d_sae=d_sae, k=4)

    # dictionary_learning AutoEncoder (ReLU, x - bias).
    folder = fresh("torch/dictionary_learning")
    ae = randomise(AutoEncoder(d_in, d_sae))
    torch.save(ae.state_dict(), folder / "ae.pt")
    # normalize_decoder=False: the weights as stored (from_pretrained's default would rescale
    # each feature by its decoder norm first, as SAELens's loader does not).
    ae = AutoEncoder.from_pretrained(str(folder / "ae.pt"), device="cpu", normalize_decoder=False)
    with torch.no_grad():
        add_case("torch dictionary_learning", "torch/dictionary_learning", x, ae.encode(torch.tensor(x)).numpy(), format="torch",
                 architecture="standard", d_in=d_in, d_sae=d_sae)

    # dictionary_learning AutoEncoderTopK (k buffer), F16.
    folder = fresh("torch/dictionary_learning_topk")
    ae = randomise(AutoEncoderTopK(d_in, d_sae, k=3)).to(torch.float16)
    torch.save(ae.state_dict(), folder / "ae.pt")
    ae = AutoEncoderTopK(d_in, d_sae, k=3)
    ae.load_state_dict({k: (v.float() if v.is_floating_point() else v) for k, v in torch.load(folder / "ae.pt", weights_only=True).items()})
    with torch.no_grad():
        add_case("torch dictionary_learning topk", "torch/dictionary_learning_topk", x, ae.encode(torch.tensor(x)).numpy(), format="torch",
                 architecture="topk", d_in=d_in, d_sae=d_sae, k=3)

    # dictionary_learning JumpReluAutoEncoder (W_enc [d_in, d_sae], threshold).
    folder = fresh("torch/dictionary_learning_jumprelu")
    ae = randomise(JumpReluAutoEncoder(d_in, d_sae))
    with torch.no_grad():
        ae.threshold.copy_(torch.rand(d_sae) * 0.3)
    torch.save(ae.state_dict(), folder / "ae.pt")
    ae = JumpReluAutoEncoder.from_pretrained(str(folder / "ae.pt"), device="cpu")
    with torch.no_grad():
        add_case("torch dictionary_learning jumprelu", "torch/dictionary_learning_jumprelu", x, ae.encode(torch.tensor(x)).numpy(),
                 format="torch", architecture="jumprelu", d_in=d_in, d_sae=d_sae)


# MARK: - Hostile and broken inputs


class RunsCode:
    """Pickles to a call of os.system; it is only ever pickled here, never unpickled."""

    def __reduce__(self):
        return (os.system, ("echo pwned > /tmp/autointerp-pwned",))


def hostile():
    folder = fresh("hostile")
    payload = pickle.dumps({"encoder.weight": RunsCode()}, protocol=2)
    (folder / "reduce_os_system.pkl").write_bytes(payload)
    # The same pickle inside a torch-style zip, so the .pt path refuses it too.
    pt = fresh("hostile/torch_os_system")
    with zipfile.ZipFile(pt / "evil.pt", "w") as z:
        z.writestr("evil/data.pkl", payload)
        z.writestr("evil/byteorder", "little")
        z.writestr("evil/version", "3\n")
    # A pickle that asks for builtins.eval via STACK_GLOBAL (protocol 4).
    (folder / "stack_global_eval.pkl").write_bytes(pickle.dumps(eval, protocol=4))


def main():
    saelens()
    gemma_scope()
    gemma_scope_2()
    sparsify()
    circuit_tracer()
    torch_state_dicts()
    hostile()
    meta = {"generator": "make_fixtures.py", "torch": torch.__version__, "numpy": np.__version__, "cases": CASES}
    (HERE / "expected.json").write_text(json.dumps(meta, indent=1) + "\n")
    print(f"wrote {len(CASES)} cases")


if __name__ == "__main__":
    main()
